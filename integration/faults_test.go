package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// withRunc runs a copy of runh-core that has runc next to it: release
// builds take their runc from their own directory (or the system's), never
// from the environment. runc "" means none next to it.
func (c *ctr) withRunc(runc string, args ...string) result {
	c.t.Helper()
	dir := c.t.TempDir()
	for _, name := range []string{"runh-core", "runh-init"} {
		data, err := os.ReadFile(filepath.Join(repo, "bin", name))
		if err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	if runc != "" {
		if err := os.Symlink(runc, filepath.Join(dir, "runc")); err != nil {
			c.t.Fatal(err)
		}
	}
	full := append([]string{"--root", c.root, "--log", c.log, "--log-format", "json"}, args...)
	cmd := exec.Command(filepath.Join(dir, "runh-core"), full...)
	cmd.Dir = c.bundle
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	return r
}

// systemRunc is the runc a release runh falls back to, if there is one.
func systemRunc() string {
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if fi, err := os.Stat(filepath.Join(d, "runc")); err == nil && fi.Mode()&0o111 != 0 {
			return filepath.Join(d, "runc")
		}
	}
	return ""
}

// TestFaultRuncMissing: with no runc next to runh and none in the system's
// directories, runh says so where engines look; RUNH_RUNC does not count.
func TestFaultRuncMissing(t *testing.T) {
	c := newCtr(t, "true")
	if sys := systemRunc(); sys != "" {
		// Debian's docker.io brings one: then that is runh's runc, and
		// $RUNH_RUNC is still ignored.
		r := c.withRunc("", "--version")
		want, _ := exec.Command(sys, "--version").Output()
		if r.code != 0 || !strings.HasPrefix(r.stdout, string(want)) {
			t.Fatalf("with no runc next to runh, want the system's %s: %d %q %q", sys, r.code, r.stdout, r.stderr)
		}
		return
	}
	before, _ := os.ReadFile(c.config())
	r := c.withRunc("", "create", c.id)
	if r.code == 0 || !strings.Contains(r.stderr, "cannot find the real runc") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(c.config()); !bytes.Equal(before, after) || !c.stateEmpty() {
		t.Fatal("config changed or state left")
	}
	if line := c.lastLogLine(); line["level"] != "error" {
		t.Fatalf("log %v", line)
	}
}

// TestFaultRuncFailsDuringCreate: runc's exit code reaches the caller, and
// neither state nor runh's private bundle is left.
func TestFaultRuncFailsDuringCreate(t *testing.T) {
	c := newCtr(t, "true")
	before, _ := os.ReadFile(c.config())
	r := c.withRunc("/bin/false", "create", c.id)
	if r.code != 1 {
		t.Fatalf("exit %d, want runc's 1: %s", r.code, r.stderr)
	}
	if !c.stateEmpty() {
		t.Fatal("state left")
	}
	if after, _ := os.ReadFile(c.config()); !bytes.Equal(before, after) {
		t.Fatal("config.json changed")
	}
	if left, _ := filepath.Glob("/run/runh/bundles/*/" + c.id + "/*"); len(left) > 0 {
		t.Fatalf("private bundle left: %v", left)
	}
	c.mustRunh("run", c.id)
}

// TestReadonlyBundle: runh never writes the client's bundle, so a
// read-only one works and stays as it was.
func TestReadonlyBundle(t *testing.T) {
	c := newCtr(t, "true")
	before, _ := os.ReadFile(c.config())
	if out, err := exec.Command("mount", "--bind", "-o", "ro", c.bundle, c.bundle).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer exec.Command("umount", c.bundle).Run()
	c.log = c.root + "/log.json" // the bundle cannot take the log
	c.mustRunh("run", c.id)
	if after, _ := os.ReadFile(c.config()); !bytes.Equal(before, after) {
		t.Fatal("config changed")
	}
}
