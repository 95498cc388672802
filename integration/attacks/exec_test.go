package attacks

import (
	"strings"
	"testing"
)

// TestExecIntoPlainRuncContainer: exec through runh into a container runh
// did not create (runh issue 13): one made by plain runc has no runh
// filter and no hardened config, and a process exec'd into it would
// inherit nothing of the floor. Plain `runc exec` shows Seccomp: 0; runh
// refuses, naming the container and rule exec-runh-only.
func TestExecIntoPlainRuncContainer(t *testing.T) {
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c)
	mustOK(t, c.Runc("create", c.ID), "runc create")
	mustOK(t, c.Runc("start", c.ID), "runc start")

	r := c.Runc("exec", c.ID, "sh", "-c", "grep Seccomp: /proc/self/status")
	mustOK(t, r, "runc exec")
	if !strings.Contains(r.Stdout, "Seccomp:\t0") {
		t.Fatalf("plain runc exec: %q, want Seccomp: 0", r.Stdout)
	}
	t.Logf("plain runc exec: %s", strings.TrimSpace(r.Stdout))

	for _, args := range [][]string{
		{"exec", c.ID, "sh", "-c", "grep Seccomp: /proc/self/status"},
		{"exec", "--user", "0", "--cap", "CAP_SYS_ADMIN", c.ID, "sh", "-c", "grep Seccomp: /proc/self/status"},
	} {
		r = c.Runh(args...)
		if r.Code == 0 {
			t.Errorf("runh %v: ran in the plain runc container:\n%s", args, r.Stdout)
			continue
		}
		for _, w := range []string{"container " + c.ID, "exec-runh-only"} {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("runh %v: the refusal does not name %q:\n%s", args, w, r.Stderr)
			}
		}
		if strings.Contains(r.Stdout, "Seccomp") {
			t.Errorf("runh %v: the process ran: %s", args, r.Stdout)
		}
	}
	t.Logf("runh exec: %s", strings.TrimSpace(r.Stderr))
	// The container is untouched and still running.
	if st := c.Runc("state", c.ID); st.Code != 0 || !strings.Contains(st.Stdout, `"running"`) {
		t.Errorf("the plain runc container is not running any more: %s%s", st.Stdout, st.Stderr)
	}
	mustOK(t, c.Runc("delete", "--force", c.ID), "runc delete")
	noLeftovers(t, c, "after delete")
}
