package seccomp

import (
	"reflect"
	"testing"

	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCovers(t *testing.T) {
	ours := resolve(t, Options{GOARCH: "amd64"})
	docker, err := Resolve(mseccomp.DefaultProfile(), Options{GOARCH: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	allowAllBut := func(names ...string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno}}}
	}
	cases := []struct {
		name   string
		client *specs.LinuxSeccomp
		want   bool
	}{
		{"no client filter", nil, true},
		{"runh's own", ours, true},
		// Docker's and containerd's default: everything runh allows, it
		// allows too (clone by a narrower CLONE_NEW* mask, socket by
		// family != AF_VSOCK, personality by value).
		{"Docker's default profile", docker, true},
		{"allow everything", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, true},
		{"Localhost profile blocking chmod", allowAllBut("chmod", "fchmod", "fchmodat"), false},
		{"blocks sethostname, which runh denies too", allowAllBut("sethostname"), true},
		{"blocks a syscall runh denies anyway", allowAllBut("kexec_load"), true},
		{"notify listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"}, false},
		{"allowlist without read", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActAllow}}}, false},
		{"socket only AF_UNIX", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}}}}, false},
		{"clone with a mask wider than runh's", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpMaskedEqual}}}}}, false},
	}
	for _, c := range cases {
		if got := Covers(c.client, ours); got != c.want {
			t.Errorf("%s: Covers = %v, want %v", c.name, got, c.want)
		}
		// The intersection is ours exactly when ours is covered, and is
		// itself always covered by both.
		in := Intersect(c.client, ours)
		if same := reflect.DeepEqual(in, ours); same != c.want {
			t.Errorf("%s: Intersect equal to ours = %v, want %v", c.name, same, c.want)
		}
		if c.client != nil && c.client.ListenerPath == "" && !Covers(c.client, in) || !Covers(ours, in) {
			t.Errorf("%s: the intersection allows more than one of the two", c.name)
		}
	}
	chmod := Intersect(allowAllBut("chmod", "fchmod", "fchmodat"), ours)
	if names := allowedNames(chmod); names["chmod"] || names["fchmodat"] || !names["read"] {
		t.Errorf("intersection with a chmod-blocking profile: chmod %v fchmodat %v read %v", names["chmod"], names["fchmodat"], names["read"])
	}
}

func TestImplies(t *testing.T) {
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	for _, c := range []struct {
		o, t specs.LinuxSeccompArg
		want bool
	}{
		{eq(0, 2), eq(0, 2), true},
		{eq(0, 2), specs.LinuxSeccompArg{Index: 0, Value: 40, Op: specs.OpNotEqual}, true},
		{eq(0, 40), specs.LinuxSeccompArg{Index: 0, Value: 40, Op: specs.OpNotEqual}, false},
		{eq(1, 2), specs.LinuxSeccompArg{Index: 0, Value: 40, Op: specs.OpNotEqual}, false},
		{eq(0, 8), specs.LinuxSeccompArg{Index: 0, Value: 0xff, Op: specs.OpMaskedEqual, ValueTwo: 8}, true},
		{specs.LinuxSeccompArg{Index: 0, Value: 0x7e020000, Op: specs.OpMaskedEqual}, specs.LinuxSeccompArg{Index: 0, Value: 0x10000000, Op: specs.OpMaskedEqual}, true},
		{specs.LinuxSeccompArg{Index: 0, Value: 0x10000000, Op: specs.OpMaskedEqual}, specs.LinuxSeccompArg{Index: 0, Value: 0x7e020000, Op: specs.OpMaskedEqual}, false},
		{specs.LinuxSeccompArg{Index: 0, Value: 5, Op: specs.OpLessThan}, specs.LinuxSeccompArg{Index: 0, Value: 10, Op: specs.OpLessThan}, false}, // conservative
	} {
		if got := implies(c.o, c.t); got != c.want {
			t.Errorf("implies(%+v, %+v) = %v, want %v", c.o, c.t, got, c.want)
		}
	}
}
