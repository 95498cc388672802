package sandbox_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

func uintp(v uint) *uint { return &v }

// seccompAttack is the confirmed attack: seccomp(2) "succeeds" (errno 0)
// without installing anything, and chmod is denied so the profile is
// tighter than runh's somewhere and gets stacked under it.
func seccompAttack() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"seccomp"}, Action: specs.ActErrno, ErrnoRet: uintp(0)},
			{Names: []string{"chmod"}, Action: specs.ActErrno},
		}}
}

func resolved(t *testing.T, p *mseccomp.Seccomp, bounding []string) *specs.LinuxSeccomp {
	t.Helper()
	r, err := seccomp.Resolve(p, seccomp.Options{GOARCH: runtime.GOARCH, Bounding: bounding})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRuleSeccompClientProfile(t *testing.T) {
	denylist := func(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
	}
	sys := func(action specs.LinuxSeccompAction, errnoRet *uint, names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: action, ErrnoRet: errnoRet}
	}
	dockerCaps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	for _, tc := range []struct {
		name    string
		profile *specs.LinuxSeccomp
		field   string // "" accepts
	}{
		{"none", nil, ""},
		{"docker default", resolved(t, mseccomp.DefaultProfile(), dockerCaps), ""},
		{"docker default, privileged caps", resolved(t, mseccomp.DefaultProfile(), []string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_BPF"}), ""},
		{"runh's own", resolved(t, seccomp.Default(), nil), ""},
		{"denylist without seccomp or prctl", denylist(sys(specs.ActErrno, nil, "chmod", "fchmod")), ""},
		{"errno 0 on something else", denylist(sys(specs.ActErrno, uintp(0), "chmod")), ""},
		{"prctl allowed on conditions", denylist(specs.LinuxSyscall{Names: []string{"prctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 38, Op: specs.OpEqualTo}}}), ""},
		{"seccomp logged", denylist(sys(specs.ActLog, nil, "seccomp")), ""},
		{"openat denied, not faked", denylist(sys(specs.ActErrno, uintp(13), "openat")), ""},
		{"notify on mount", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{sys(specs.ActNotify, nil, "mount")}}, ""},
		{"allowlist, default EPERM", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{sys(specs.ActAllow, nil, "read", "seccomp")}}, ""},

		{"the attack: seccomp errno 0", seccompAttack(), "linux.seccomp.syscalls[0]"},
		{"seccomp EPERM", denylist(sys(specs.ActErrno, nil, "chmod"), sys(specs.ActErrno, nil, "getpid", "seccomp")), "linux.seccomp.syscalls[1]"},
		{"seccomp killed", denylist(sys(specs.ActKillProcess, nil, "seccomp")), "linux.seccomp.syscalls[0]"},
		{"seccomp notify", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{sys(specs.ActNotify, nil, "seccomp")}}, "linux.seccomp.syscalls[0]"},
		{"seccomp traced", denylist(sys(specs.ActTrace, nil, "seccomp")), "linux.seccomp.syscalls[0]"},
		{"prctl errno 0", denylist(sys(specs.ActErrno, uintp(0), "prctl")), "linux.seccomp.syscalls[0]"},
		{"prctl denied on conditions", denylist(specs.LinuxSyscall{Names: []string{"prctl"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 22, Op: specs.OpEqualTo}}}), "linux.seccomp.syscalls[0]"},
		{"openat faked", denylist(sys(specs.ActErrno, uintp(0), "openat")), "linux.seccomp.syscalls[0]"},
		{"read notified", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{sys(specs.ActNotify, nil, "read")}}, "linux.seccomp.syscalls[0]"},
		{"default errno 0", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(0),
			Syscalls: []specs.LinuxSyscall{sys(specs.ActAllow, nil, "read")}}, "linux.seccomp.defaultAction"},
		{"default trace", &specs.LinuxSeccomp{DefaultAction: specs.ActTrace}, "linux.seccomp.defaultAction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}, Linux: &specs.Linux{Seccomp: tc.profile}}
			before, _ := json.Marshal(s)
			env := &sandbox.Env{Policy: &profiles.Restricted().Policy}
			err := sandbox.RuleSeccompClientProfile.Apply(env, s)
			if after, _ := json.Marshal(s); string(after) != string(before) || len(env.Changes) != 0 {
				t.Fatal("the rule changed the spec")
			}
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var d *sandbox.Denial
			if !errors.As(err, &d) || d.Field != tc.field || !strings.Contains(d.Reason, "runh must be able to install its own filter") {
				t.Fatalf("want a denial of %s, got %v", tc.field, err)
			}
		})
	}
}

// fastHost is a host with runh-init and a filter cache: the fast path.
func fastHost(t *testing.T) *sandbox.Host {
	t.Helper()
	h := hostFor(t, t.TempDir())
	h.SeccompInit = filepath.Join(t.TempDir(), "runh-init")
	if err := os.WriteFile(h.SeccompInit, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.SeccompCache = filepath.Join(t.TempDir(), "seccomp")
	return h
}

func fastSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.3.0",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0}, Args: []string{"sh", "-c", "echo hi"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
		},
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"}},
		},
	}
}

// harden runs the restricted profile on s with host h.
func harden(t *testing.T, h *sandbox.Host, s *specs.Spec) (*sandbox.Env, error) {
	t.Helper()
	prof := profiles.Restricted()
	env := &sandbox.Env{Policy: &prof.Policy, Host: h}
	return env, prof.Pipeline(sandbox.StopAtFirst, false).Run(env, s)
}

// TestSeccompAttackRefused: the restricted profile refuses the attack
// profile before it can be stacked, naming the field and the rule, with
// and without runh-init.
func TestSeccompAttackRefused(t *testing.T) {
	for _, h := range []*sandbox.Host{hostFor(t, t.TempDir()), fastHost(t)} {
		s := fastSpec()
		s.Linux.Seccomp = seccompAttack()
		_, err := harden(t, h, s)
		var d *sandbox.Denial
		if !errors.As(err, &d) || d.Rule != "seccomp-client-profile" || d.Field != "linux.seccomp.syscalls[0]" {
			t.Fatalf("fast path %v: want a denial by seccomp-client-profile, got %v", h.SeccompInit != "", err)
		}
	}
}

func TestExpectation(t *testing.T) {
	pol := &profiles.Restricted().Policy
	for _, tc := range []struct {
		name string
		p    specs.Process
		want string
	}{
		{"runc spec, hardened", specs.Process{User: specs.User{UID: 65534, GID: 65534}, NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_BIND_SERVICE"}, Permitted: []string{"CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_NET_BIND_SERVICE"}}},
			"uid=65534,gid=65534,groups=,inh=0,prm=400,eff=400,bnd=400,amb=0,nnp=1"},
		{"groups sorted, once", specs.Process{User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 10, 1000, 4}}, NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{}},
			"uid=1000,gid=1000,groups=4:10:1000,inh=0,prm=0,eff=0,bnd=0,amb=0,nnp=1"},
		{"every set its own", specs.Process{User: specs.User{UID: 1, GID: 2}, NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{Inheritable: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_KILL"}, Effective: []string{"CAP_SYS_ADMIN"},
				Bounding: []string{"CAP_CHECKPOINT_RESTORE", "CAP_NOT_A_CAP"}, Ambient: []string{"CAP_DAC_OVERRIDE"}}},
			"uid=1,gid=2,groups=,inh=1,prm=20,eff=200000,bnd=10000000000,amb=2,nnp=1"},
		{"no capabilities section: the policy's ceiling", specs.Process{User: specs.User{UID: 65534, GID: 65534}},
			"uid=65534,gid=65534,groups=,inh=400,prm=400,eff=400,bnd=400,amb=400,nnp=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sandbox.Expectation(pol, &tc.p); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCapMask(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  uint64
	}{
		{nil, 0},
		{[]string{"CAP_CHOWN"}, 1},
		{[]string{"CAP_NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE"}, 0x400},
		{[]string{"CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"}, 1<<21 | 1<<40},
		{[]string{"CAP_UNKNOWN", "cap_chown"}, 0}, // unknown names never widen
	} {
		if got := sandbox.CapMask(tc.names); got != tc.want {
			t.Errorf("CapMask(%v) = %x, want %x", tc.names, got, tc.want)
		}
	}
}

func TestStartsWithInit(t *testing.T) {
	for _, tc := range []struct {
		p    *specs.Process
		want bool
	}{
		{nil, false},
		{&specs.Process{}, false},
		{&specs.Process{Args: []string{"sh"}}, false},
		{&specs.Process{Args: []string{"sh", sandbox.InitPath}}, false},
		{&specs.Process{Args: []string{"/dev/.runh/init/"}}, false},
		{&specs.Process{Args: []string{sandbox.InitPath}}, true},
		{&specs.Process{Args: sandbox.InitArgs("uid=1", []string{"sh"})}, true},
	} {
		if got := sandbox.StartsWithInit(tc.p); got != tc.want {
			t.Errorf("StartsWithInit(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestWorkload(t *testing.T) {
	init := sandbox.InitPath
	for _, tc := range []struct {
		args, want []string
	}{
		{nil, nil},
		{[]string{"sh", "-c", "x"}, []string{"sh", "-c", "x"}},
		{[]string{init, "sh"}, []string{"sh"}}, // older runh's prefix
		{[]string{init, "--expect=uid=0", "--", "sh"}, []string{"sh"}},
		{[]string{init, "--expect=uid=0", "sh"}, []string{"sh"}},
		{[]string{init, "--", "--", "x"}, []string{"--", "x"}},
		{[]string{init, "--expect=a", "--", init, "--expect=b", "--", "sh"}, []string{"sh"}},
		{[]string{init}, []string{}},
		{[]string{"sh", init, "--expect=a"}, []string{"sh", init, "--expect=a"}},
	} {
		if got := sandbox.Workload(tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("Workload(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestInitArgsIdempotentAndOwned: on the fast path process.args is
// runh-init with the expectation runh computed from the final spec,
// whatever prefix the client wrote; hardening twice changes nothing; and
// the checks refuse args whose expectation is not the process's.
func TestInitArgsIdempotentAndOwned(t *testing.T) {
	init := sandbox.InitPath
	forged := "--expect=uid=0,gid=0,groups=0,inh=1ffffffffff,prm=1ffffffffff,eff=1ffffffffff,bnd=1ffffffffff,amb=1ffffffffff,nnp=0"
	for _, tc := range []struct {
		name string
		args []string
		deny bool
	}{
		{"plain", []string{"sh", "-c", "echo hi"}, false},
		{"older runh's prefix", []string{init, "sh", "-c", "echo hi"}, false},
		{"client's own expectation", []string{init, forged, "--", "sh", "-c", "echo hi"}, false},
		{"a second init behind runh's", []string{init, "--expect=x", "--", init, forged, "--", "sh", "-c", "echo hi"}, false},
		{"only the init", []string{init, forged, "--"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fastHost(t)
			s := fastSpec()
			s.Process.Args = tc.args
			env, err := harden(t, h, s)
			if tc.deny {
				var d *sandbox.Denial
				if !errors.As(err, &d) || d.Field != "process.args" {
					t.Fatalf("want a denial of process.args, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := sandbox.InitArgs(sandbox.Expectation(env.Policy, s.Process), []string{"sh", "-c", "echo hi"})
			if !slices.Equal(s.Process.Args, want) || !strings.HasPrefix(s.Process.Args[1], "--expect=uid=65534,gid=65534,") {
				t.Fatalf("args %q, want %q", s.Process.Args, want)
			}
			before, _ := json.Marshal(s)
			env2, err := harden(t, h, s)
			if after, _ := json.Marshal(s); err != nil || string(after) != string(before) || len(env2.Changes) != 0 {
				t.Fatalf("not idempotent: %v %v", err, env2.Changes)
			}
			// The checks hold the args to the final spec: a forged
			// expectation, or a user changed after the seccomp rule.
			for _, weaken := range []func(*specs.Spec){
				func(s *specs.Spec) { s.Process.Args[1] = forged },
				func(s *specs.Spec) { s.Process.User.UID = 4242 },
				func(s *specs.Spec) { s.Process.Args = append([]string{init}, s.Process.Args[3:]...) },
				func(s *specs.Spec) { s.Process.Args = s.Process.Args[:3] },
			} {
				w := &specs.Spec{}
				json.Unmarshal(before, w)
				weaken(w)
				if err := sandbox.CheckSeccomp.Verify(env, w); !errors.Is(err, sandbox.ErrPolicyDenied) {
					t.Errorf("check-seccomp passed %q (uid %d)", w.Process.Args, w.Process.User.UID)
				}
			}
		})
	}
}

// TestCheckSeccompStackedClientProfile: a client profile kept beside
// runh-init is held to the client-profile rule by the check too, so a rule
// that let one through would not produce a weaker container.
func TestCheckSeccompStackedClientProfile(t *testing.T) {
	h := fastHost(t)
	s := fastSpec()
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"chmod"}, Action: specs.ActErrno}}}
	env, err := harden(t, h, s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil || !sandbox.StartsWithInit(s.Process) {
		t.Fatal("client profile not stacked")
	}
	s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, seccompAttack().Syscalls[0])
	if err := sandbox.CheckSeccomp.Verify(env, s); !errors.Is(err, sandbox.ErrPolicyDenied) {
		t.Fatalf("check passed the attack profile: %v", err)
	}
}

// TestRuleSeccompExecExpectation: an exec process gets its own
// expectation, not the container's; a client prefix is replaced.
func TestRuleSeccompExecExpectation(t *testing.T) {
	h := fastHost(t)
	h.ExecViaInit = true
	prof := profiles.Restricted()
	p := &specs.Process{User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5}}, Cwd: "/",
		Args: []string{sandbox.InitPath, "--expect=uid=0", "--", "id"}}
	env := &sandbox.Env{Policy: &prof.Policy, Host: h}
	if err := prof.Pipeline(sandbox.StopAtFirst, true).Run(env, &specs.Spec{Process: p}); err != nil {
		t.Fatal(err)
	}
	want := sandbox.InitArgs("uid=1000,gid=1000,groups=5,inh=400,prm=400,eff=400,bnd=400,amb=400,nnp=1", []string{"id"})
	if !slices.Equal(p.Args, want) {
		t.Fatalf("args %q, want %q", p.Args, want)
	}
}

// TestRealClientConfigsFastPath hardens the real client configs on the
// fast path: every one is accepted (the client-profile rule refuses none of
// the engines' profiles), starts through runh-init with its expectation,
// and hardening again changes nothing.
func TestRealClientConfigsFastPath(t *testing.T) {
	files, _ := filepath.Glob("../testdata/clients/*-config.json")
	if len(files) == 0 {
		t.Fatal("no client configs in testdata/clients")
	}
	h := fastHost(t)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), "-config.json")
		t.Run(name, func(t *testing.T) {
			s, _, err := sandbox.LoadSpec(f)
			if err != nil {
				t.Fatal(err)
			}
			workload := slices.Clone(s.Process.Args)
			env, err := harden(t, h, s)
			if want, ok := expectedDenials[name]; ok {
				var d *sandbox.Denial
				if !errors.As(err, &d) || d.Rule != want {
					t.Fatalf("want denial by %s, got %v", want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := sandbox.InitArgs(sandbox.Expectation(env.Policy, s.Process), workload); !slices.Equal(s.Process.Args, want) {
				t.Fatalf("args %q, want %q", s.Process.Args, want)
			}
			before, _ := json.Marshal(s)
			env2, err := harden(t, h, s)
			if after, _ := json.Marshal(s); err != nil || string(after) != string(before) || len(env2.Changes) != 0 {
				t.Fatalf("not idempotent: %v %v", err, env2.Changes)
			}
		})
	}
}
