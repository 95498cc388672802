package attacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runh-dev/runh/integration/harness"
)

// TestEnvironmentOverrides: runh's environment tries to switch the
// hardening off (runh issue 13): RUNH_INIT names a stand-in init that
// execs its arguments with no filter, RUNH_STATE_DIR a directory of the
// caller's (filter cache, private bundles), RUNH_RUNC a runc of the
// caller's. Release builds (make build) read none of them: the container
// still has Seccomp: 2, its /dev/.runh/init is the real runh-init, and
// nothing is written under the given state directory or run from the
// given runc.
//
// Plain runc half: not applicable; these are runh's own knobs.
func TestEnvironmentOverrides(t *testing.T) {
	c := newCtr(t, "sh", "-c", "grep Seccomp: /proc/self/status; sha256sum /dev/.runh/init")
	cleanupCtr(t, c)
	dir := t.TempDir()
	marker := filepath.Join(dir, "fake-ran")
	fakeInit := filepath.Join(dir, "fake-init")
	// runh-init's argv is [init, --expect=..., --, workload...]; the
	// stand-in execs what follows "--" with no filter. It runs inside the
	// container, so it is caught by its checksum and Seccomp, not by the
	// marker (a host path), which catches the stand-in runc.
	os.WriteFile(fakeInit, []byte("#!/bin/sh\necho init >> "+marker+"\nwhile [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n"), 0o755)
	fakeRunc := filepath.Join(dir, "fake-runc")
	os.WriteFile(fakeRunc, []byte("#!/bin/sh\necho runc >> "+marker+"\nexec "+harness.Runc+" \"$@\"\n"), 0o755)
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}

	real, err := os.ReadFile(harness.Runh + "-init")
	harness.Require(t, err == nil, "bin/runh-init (make build)")
	sum := sha256.Sum256(real)
	want := hex.EncodeToString(sum[:])

	before := readFile(t, c.Config())
	withEnv := func(c *harness.Ctr, args ...string) harness.Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := c.Cmd(ctx, harness.Runh, args...)
		cmd.Env = append(os.Environ(), "RUNH_INIT="+fakeInit, "RUNH_STATE_DIR="+state, "RUNH_RUNC="+fakeRunc)
		return c.Wait(cmd)
	}

	// run: the workload reports from inside.
	r := withEnv(c, "run", c.ID)
	mustOK(t, r, "runh run")
	if !strings.Contains(r.Stdout, "Seccomp:\t2") {
		t.Errorf("run: the container has no runh filter:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("run: /dev/.runh/init is not bin/runh-init (sha256 %s):\n%s", want, r.Stdout)
	}
	t.Logf("runh run with RUNH_INIT, RUNH_STATE_DIR, RUNH_RUNC set: %s", strings.Join(strings.Fields(r.Stdout), " "))

	// create + start (the engines' way): checked from the host.
	c2 := newCtr(t, "sleep", "30")
	cleanupCtr(t, c2)
	mustOK(t, withEnv(c2, "create", c2.ID), "runh create")
	mustOK(t, withEnv(c2, "start", c2.ID), "runh start")
	pid := initPid(t, c2, c2.ID)
	if sc := statusField(t, pid, "Seccomp"); sc != "2" {
		t.Errorf("create+start: the workload has Seccomp %s", sc)
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/.runh/init", pid)); err != nil {
		t.Errorf("create+start: no /dev/.runh/init: %v", err)
	} else if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
		t.Error("create+start: /dev/.runh/init is not bin/runh-init")
	}
	mustOK(t, withEnv(c2, "delete", "--force", c2.ID), "runh delete")
	noLeftovers(t, c2, "after delete")

	if data, err := os.ReadFile(marker); err == nil {
		t.Errorf("runh ran the caller's stand-in: %q", data)
	}
	entries, _ := os.ReadDir(state)
	if len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("runh wrote into RUNH_STATE_DIR %s: %v", state, names)
	}
	if m := mountPoints(t, state); len(m) > 0 {
		t.Errorf("runh mounted under RUNH_STATE_DIR: %v", m)
	}
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
	if !c.StateEmpty() {
		t.Errorf("state left in %s", c.Root)
	}
}
