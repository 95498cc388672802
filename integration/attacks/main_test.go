// Package attacks holds one file per class of attack on runh, each tried
// first against plain runc (which must show the effect, or the test says
// why this host cannot show it) and then against runh, which must refuse it
// with the field and the rule, or leave the effect absent, and leave
// nothing behind. They need root and the built binaries (make build).
package attacks

import (
	"os"
	"testing"

	"github.com/runh-dev/runh/integration/harness"
)

var (
	rootfs    string
	rootfsErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runh-attacks")
	if err != nil {
		panic(err)
	}
	rootfs, rootfsErr = harness.Rootfs(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newCtr is a container on the shared rootfs, after the prerequisites.
func newCtr(t *testing.T, args ...string) *harness.Ctr {
	t.Helper()
	harness.Prerequisites(t, rootfs, rootfsErr)
	return harness.NewCtr(t, rootfs, args...)
}
