// Command gen writes seccomp/default.json from the Go profile, and the
// precompiled filters under seccomp/bpf/: for each supported architecture,
// the resolved profile (ARCH.json) and its BPF program (ARCH.bpf). It runs
// from `go generate ./seccomp`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/seccomp"
	"github.com/runh-dev/runh/seccomp/compile"
)

func main() {
	files, err := seccomp.Generate(func(p *specs.LinuxSeccomp) ([]byte, error) {
		prog, err := compile.Compile(p)
		if err != nil {
			return nil, err
		}
		return prog.BPF, nil
	})
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
