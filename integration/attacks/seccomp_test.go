package attacks

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/integration/harness"
	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

// escape tries what runh's filter denies: unshare(2). -r makes a user
// namespace first, so it needs no capability: only a seccomp filter stops
// it.
const escape = "unshare -r -n true && echo ESCAPED"

// seccompForger is the attack profile: seccomp(2) answered with errno 0,
// a fake success, and chmod denied so that the profile is tighter than
// runh's somewhere and would be kept and stacked under runh's filter.
func seccompForger() *specs.LinuxSeccomp {
	zero := uint(0)
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"seccomp"}, Action: specs.ActErrno, ErrnoRet: &zero},
			{Names: []string{"chmod"}, Action: specs.ActErrno},
		}}
}

// asRunhWould gives the process runh's identity: non-root, no_new_privs.
func asRunhWould(s *specs.Spec) {
	s.Process.User = specs.User{UID: 65534, GID: 65534}
	s.Process.NoNewPrivileges = true
}

// withRunhInit is runh's fast path by hand, for plain runc: runh-init and
// the precompiled filter mounted where runh mounts them, and args through
// runh-init with expect.
func withRunhInit(t *testing.T, s *specs.Spec, expect func(*specs.Process) string) {
	t.Helper()
	filter := filepath.Join(harness.Repo, "seccomp", "bpf", goruntime.GOARCH+".bpf")
	init := filepath.Join(harness.Repo, "bin", "runh-init")
	for _, f := range []string{filter, init} {
		if _, err := os.Stat(f); err != nil {
			harness.Require(t, false, f+" (make build; a precompiled filter for "+goruntime.GOARCH+")")
		}
	}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: sandbox.InitPath, Type: "bind", Source: init, Options: []string{"bind", "ro", "nosuid", "nodev"}},
		specs.Mount{Destination: sandbox.FilterPath, Type: "bind", Source: filter, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
	s.Process.Args = sandbox.InitArgs(expect(s.Process), s.Process.Args)
}

func rightExpectation(p *specs.Process) string {
	return sandbox.Expectation(&profiles.Restricted().Policy, p)
}

// TestSeccompForgedBySeccompErrno0: a client profile that answers
// seccomp(2) with errno 0 would make runh-init's seccomp(2) "succeed"
// without installing runh's filter, leaving everything it denies
// reachable. runh refuses the profile; and runh-init, were one to get
// through, notices that the kernel's filter count did not move.
func TestSeccompForgedBySeccompErrno0(t *testing.T) {
	t.Run("runc", func(t *testing.T) {
		// Plain runc installs the client's profile, which allows unshare.
		c := newCtr(t, "sh", "-c", escape)
		c.Edit(func(s *specs.Spec) { asRunhWould(s); s.Linux.Seccomp = seccompForger() })
		r := c.Runc("run", c.ID)
		harness.Require(t, strings.Contains(r.Stdout, "ESCAPED"),
			"unprivileged user namespaces on this host (unshare -r): "+r.Stdout+r.Stderr)
	})
	t.Run("runh", func(t *testing.T) {
		c := newCtr(t, "sh", "-c", escape)
		c.Edit(func(s *specs.Spec) { s.Linux.Seccomp = seccompForger() })
		before, _ := os.ReadFile(c.Config())
		r := c.Runh("run", c.ID)
		c.Refused(r, before, "linux.seccomp.syscalls[0]", "seccomp-client-profile")
		if strings.Contains(r.Stdout, "ESCAPED") {
			t.Fatal("the workload ran")
		}
	})
	t.Run("runh-init under the forger", func(t *testing.T) {
		// What runh would have handed runc had it kept the profile:
		// runc installs the forger, runh-init's seccomp(2) returns 0.
		c := newCtr(t, "sh", "-c", escape)
		c.Edit(func(s *specs.Spec) {
			asRunhWould(s)
			s.Linux.Seccomp = seccompForger()
			withRunhInit(t, s, rightExpectation)
		})
		r := c.Runc("run", c.ID)
		if r.Code != 127 || strings.Contains(r.Stdout, "ESCAPED") ||
			!strings.Contains(r.Stderr, "runh-init: runh's seccomp filter is not installed: Seccomp is 2 and Seccomp_filters 1 after seccomp(2), want 2 and 2") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
	})
}

// TestRunhInitChecksIdentity runs runh-init under plain runc with runh's
// precompiled filter: an expectation that is not the process's stops the
// workload before it starts (exit 127, saying what differed); the right
// one installs the filter, proves it, and runs the workload under it.
func TestRunhInitChecksIdentity(t *testing.T) {
	const workload = "grep -E '^Seccomp(_filters)?:' /proc/self/status; " + escape + " || echo UNSHARE-DENIED"
	for _, tc := range []struct {
		name   string
		expect func(*specs.Process) string
		code   int
		want   string
	}{
		{"wrong uid", func(p *specs.Process) string {
			return strings.Replace(rightExpectation(p), "uid=65534,", "uid=12345,", 1)
		}, 127, "runh-init: uid is 65534, want 12345\n"},
		{"wrong groups", func(p *specs.Process) string {
			return strings.Replace(rightExpectation(p), "groups=,", "groups=10,", 1)
		}, 127, "runh-init: supplementary groups are (none), want 10\n"},
		{"more capabilities than expected", func(p *specs.Process) string {
			return strings.Replace(rightExpectation(p), ",bnd=20000420,", ",bnd=0,", 1)
		}, 127, "runh-init: CapBnd is 0000000020000420, more than the expected 0000000000000000\n"},
		{"no expectation", func(p *specs.Process) string { return "" }, 127, "runh-init: --expect: "},
		{"right", rightExpectation, 0, "Seccomp:\t2\nSeccomp_filters:\t1\nUNSHARE-DENIED\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCtr(t, "sh", "-c", workload)
			c.Edit(func(s *specs.Spec) { asRunhWould(s); withRunhInit(t, s, tc.expect) })
			r := c.Runc("run", c.ID)
			out := r.Stdout
			if tc.code != 0 {
				out = r.Stderr
			}
			if r.Code != tc.code || !strings.Contains(out, tc.want) || strings.Contains(r.Stdout, "ESCAPED") {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.Code, tc.code, tc.want, r.Stdout, r.Stderr)
			}
			if tc.code != 0 && strings.Contains(r.Stdout, "Seccomp") {
				t.Fatal("the workload ran")
			}
		})
	}
}
