//go:build runhtest

package runtime

import (
	"os"
	"path/filepath"
)

// Test builds (-tags runhtest, never `make build`) let tests point runh at a
// fake runc (RUNH_RUNC), a stand-in runh-init (RUNH_INIT) and a private
// state directory (RUNH_STATE_DIR), and search runc on $PATH.
func envOverride(name string) string { return os.Getenv(name) }

func runcDirs() []string { return filepath.SplitList(os.Getenv("PATH")) }
