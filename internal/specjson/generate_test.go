package specjson

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGeneratedCodecIsFresh runs this package's `go generate` (easyjson, then
// internal/fixorder) in a copy of the module and fails when the committed
// codec_easyjson.go is not what it writes: after a runtime-spec or easyjson
// bump, the decoder runh trusts with config.json must be the one generated
// for the types it now builds with. The working tree is never written to.
func TestGeneratedCodecIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds easyjson and its bootstrap program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to run the generator: %v", err)
	}
	const (
		root = "../.." // the module's root, from this package
		pkg  = "internal/specjson"
		out  = "codec_easyjson.go"
	)

	// The copy is laid out as the same module, so that easyjson finds the
	// same package path, and its bootstrap program, built inside it, the
	// same dependency versions: go.mod and go.sum, this package's own
	// files but the generated one and tests, and its internal/ (fixorder).
	tmp := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(tmp, f))
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(tmp, filepath.FromSlash(pkg))
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			if name == "internal" {
				copyTree(t, name, filepath.Join(dst, name))
			}
		case e.Type().IsRegular() && name != out && !strings.HasSuffix(name, "_test.go"):
			copyFile(t, name, filepath.Join(dst, name))
		}
	}

	start := time.Now()
	cmd := exec.CommandContext(t.Context(), goBin, "generate", "./"+pkg)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate ./%s in a copy of the module: %v\n%s", pkg, err, msg)
	}
	t.Logf("go generate took %v", time.Since(start).Round(time.Millisecond))

	generated := filepath.Join(dst, out)
	got, err := os.ReadFile(generated)
	if err != nil {
		t.Fatalf("the generator wrote no %s: %v", out, err)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go generate ./%s and review the change.\n%s",
			out, pkg, diff(t, out, generated, want, got))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// diff shows how the generator's output differs from the committed file:
// diff -u's output when there is a diff command, else the first line that
// differs; at most maxLines lines of it.
func diff(t *testing.T, committed, generated string, want, got []byte) string {
	const maxLines = 300
	if d, err := exec.LookPath("diff"); err == nil {
		out, _ := exec.CommandContext(t.Context(), d, "-u",
			"--label", committed+" (committed)", "--label", committed+" (generated)",
			committed, generated).Output()
		if len(out) > 0 {
			lines := strings.SplitAfter(string(out), "\n")
			if len(lines) > maxLines {
				return strings.Join(lines[:maxLines], "") + fmt.Sprintf("... %d more lines\n", len(lines)-maxLines)
			}
			return string(out)
		}
	}
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; ; i++ {
		switch {
		case i == len(w) && i == len(g):
			return "(the files differ in bytes only)"
		case i == len(w):
			return fmt.Sprintf("line %d: the generated file goes on: %q", i+1, g[i])
		case i == len(g):
			return fmt.Sprintf("line %d: the committed file goes on: %q", i+1, w[i])
		case w[i] != g[i]:
			return fmt.Sprintf("line %d:\ncommitted: %q\ngenerated: %q", i+1, w[i], g[i])
		}
	}
}
