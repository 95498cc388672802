// Command gen writes seccomp/default.json from the Go profile, and the
// precompiled filters under seccomp/bpf/: for each supported architecture,
// the resolved profile (ARCH.json), its BPF program (ARCH.bpf) and the
// program's SHA-256 (ARCH.bpf.sha256). It runs
// from `go generate ./seccomp`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/runh-dev/runh/seccomp/compile"
)

func main() {
	files, err := compile.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
