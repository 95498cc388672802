package integration

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// withRunc runs runh with RUNH_RUNC set to runc.
func (c *ctr) withRunc(runc string, args ...string) result {
	c.t.Helper()
	full := append([]string{"--root", c.root, "--log", c.log, "--log-format", "json"}, args...)
	cmd := exec.Command(runhBin, full...)
	cmd.Env = append(os.Environ(), "RUNH_RUNC="+runc)
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

func TestFaultRuncMissing(t *testing.T) {
	c := newCtr(t, "true")
	before, _ := os.ReadFile(c.config())
	r := c.withRunc("/nonexistent/runc", "create", c.id)
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

func TestFaultRuncNotExecutable(t *testing.T) {
	c := newCtr(t, "true")
	f := c.bundle + "/not-exec-runc"
	os.WriteFile(f, []byte("#!/bin/sh\n"), 0o644)
	if r := c.withRunc(f, "create", c.id); r.code == 0 || !strings.Contains(r.stderr, "is not executable") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
}

// TestFaultRuncFailsDuringCreate: runc's exit code reaches the caller, no
// state is left, and config.json is the complete hardened file.
func TestFaultRuncFailsDuringCreate(t *testing.T) {
	c := newCtr(t, "true")
	r := c.withRunc("/bin/false", "create", c.id)
	if r.code != 1 {
		t.Fatalf("exit %d, want runc's 1", r.code)
	}
	if !c.stateEmpty() {
		t.Fatal("state left")
	}
	// The hardened config is still a valid, hardened bundle: real runc
	// through runh accepts it.
	c.mustRunh("run", c.id)
}

// TestFaultReadonlyBundle: the rewrite fails cleanly on a read-only bundle.
func TestFaultReadonlyBundle(t *testing.T) {
	c := newCtr(t, "true")
	before, _ := os.ReadFile(c.config())
	if out, err := exec.Command("mount", "--bind", "-o", "ro", c.bundle, c.bundle).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer exec.Command("umount", c.bundle).Run()
	c.log = c.root + "/log.json" // the bundle cannot take the log either
	r := c.runh("create", c.id)
	if r.code == 0 || !strings.Contains(r.stderr, "read-only file system") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(c.config()); !bytes.Equal(before, after) {
		t.Fatal("config changed")
	}
	entries, _ := os.ReadDir(c.root)
	for _, e := range entries {
		if e.Name() != "log.json" {
			t.Fatalf("state left: %s", e.Name())
		}
	}
}

// TestFaultFullBundle: a full filesystem fails the rewrite cleanly.
func TestFaultFullBundle(t *testing.T) {
	c := newCtr(t, "true")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	data, _ := os.ReadFile(c.config())
	os.WriteFile(dir+"/config.json", data, 0o644)
	// Fill the rest of the tmpfs.
	fill, _ := os.Create(dir + "/fill")
	fill.Write(make([]byte, 1<<20))
	fill.Close()
	c.bundle = dir
	c.log = c.root + "/log.json"
	r := c.runh("create", "--bundle", dir, c.id)
	if r.code == 0 || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("%d %q", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(dir + "/config.json"); !bytes.Equal(data, after) {
		t.Fatal("config changed")
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 2 {
		t.Fatalf("files left in bundle: %v", left)
	}
}
