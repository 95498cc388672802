package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs `make bench`'s runner for one round in one mode: the
// script works. It asserts nothing about timings.
func TestBenchSmoke(t *testing.T) {
	prerequisites(t)
	if testing.Short() {
		t.Skip("short mode")
	}
	work := t.TempDir()
	// runc-plain-userns runs as root of a user namespace, which is
	// "others" to these directories (t.TempDir makes them 0700).
	for _, d := range []string{filepath.Dir(work), work} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", "./scripts/bench", "-rounds", "1", "-modes", "normal", "-work", work, "-out", filepath.Join(work, "results.md"))
	cmd.Dir = repo
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"runc-plain", "runh-run", "engine path", "pass-through", "peak RSS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}
