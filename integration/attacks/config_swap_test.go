package attacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// swapWorkload prints the workload's identity: uid, effective caps,
// no_new_privs and seccomp mode.
var swapWorkload = []string{"sh", "-c", `id -u; grep -E "CapEff|NoNewPrivs|Seccomp:" /proc/self/status`}

// unhardened makes c's config what an attacker wants runc to read: uid 0,
// CAP_SYS_ADMIN in every capability set, no_new_privs off, no seccomp.
func unhardened(s *specs.Spec) {
	s.Process.User = specs.User{UID: 0, GID: 0}
	s.Process.NoNewPrivileges = false
	caps := []string{"CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps}
	if s.Linux != nil {
		s.Linux.Seccomp = nil
	}
}

// TestConfigSwappedAfterRewrite: "config swapped after the rewrite",
// runh issue 13. runh used to write its hardened config.json into the
// client's bundle and let runc read it from there; whoever can write the
// bundle could put the original (uid 0, CAP_SYS_ADMIN, no seccomp) back in
// between. A watcher rewrites the original into the bundle (temp file +
// rename) in a tight loop for the whole of every `runh run`: runc must
// never see it, because runh now hands runc a private bundle it never
// reads from the client's directory again.
func TestConfigSwappedAfterRewrite(t *testing.T) {
	c := newCtr(t, swapWorkload...)
	c.Edit(unhardened)
	cleanupCtr(t, c)
	original := readFile(t, c.Config())

	// Plain runc honours whatever is in the file.
	r := c.Runc("run", c.ID)
	mustOK(t, r, "runc run")
	if st := statusOf(r.Stdout); st["uid"] != "0" || st["Seccomp"] != "0" {
		t.Fatalf("plain runc did not show the effect (want uid 0, Seccomp 0):\n%s", r.Stdout)
	}
	t.Logf("plain runc: the unhardened config runs as is:\n%s", r.Stdout)

	// The watcher puts the original back as fast as it can.
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tmp := filepath.Join(c.Bundle, ".config.swap")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if os.WriteFile(tmp, original, 0o644) == nil && os.Rename(tmp, c.Config()) == nil {
				writes.Add(1)
			}
		}
	}()
	stopWatcher := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWatcher)

	start := time.Now()
	bad := 0
	n := deadlineLoop(200, 60*time.Second, func(i int) bool {
		id := fmt.Sprintf("%s-%d", c.ID, i)
		r := c.Runh("run", id)
		st := statusOf(r.Stdout)
		if r.Code != 0 || st["uid"] != "65534" || st["CapEff"] != "0000000000000000" || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
			bad++
			t.Errorf("try %d: runh run (exit %d) did not give the hardened process:\nstdout: %s\nstderr: %s", i, r.Code, r.Stdout, r.Stderr)
		}
		return bad < 3
	})
	stopWatcher()
	t.Logf("runh: %d runs in %v against %d rewrites of the original config, every one hardened: %v", n, time.Since(start).Round(time.Millisecond), writes.Load(), bad == 0)
	if n < 50 && bad == 0 {
		t.Errorf("only %d tries in the time bound (want >= 50)", n)
	}
	if writes.Load() == 0 {
		t.Error("the watcher never rewrote config.json")
	}
	if after := readFile(t, c.Config()); string(after) != string(original) {
		t.Error("config.json is not the client's")
	}
	if !c.StateEmpty() {
		t.Errorf("state left in %s", c.Root)
	}
	// The pins of `run` are runh's design (released by a later create's
	// sweep); TestRunLeavesNoPins holds runh to "nothing left".
	if m := pinnedMounts(t, c); len(m) > 0 {
		t.Logf("runh run left %d pinned mounts and %d private bundles under %s (see TestRunLeavesNoPins)", len(m), len(privateBundles(c)), keyDir(c))
	}
}

// TestRunLeavesNoPins: after `runh run` has returned and its container is
// gone, nothing of it may stay mounted under runh's private bundles
// (runh issue 13: the pins of root.path and bind sources). runh keeps the pins
// of `run` attached until a later create with the same --root sweeps them,
// and only those older than a minute: with a --root per container (or no
// later create) they stay for good, each holding the container's root
// filesystem and volumes (even deleted ones) busy.
func TestRunLeavesNoPins(t *testing.T) {
	c := newCtr(t, "true")
	cleanupCtr(t, c)
	before := readFile(t, c.Config())
	mustOK(t, c.Runh("run", c.ID), "runh run")
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
	if m := pinnedMounts(t, c); len(m) > 0 {
		t.Errorf("`runh run` of a finished container left %d mounts: %s\n(reproduce: runh --root R run ID; grep /run/runh/bundles/%s /proc/self/mountinfo)", len(m), strings.Join(m, ", "), rootKey(c.Root))
	}
	if !c.StateEmpty() {
		t.Errorf("state left in %s", c.Root)
	}
}
