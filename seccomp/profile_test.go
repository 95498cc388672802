package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"slices"
	"testing"

	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func resolve(t *testing.T, o Options) *specs.LinuxSeccomp {
	t.Helper()
	p, err := Resolve(Default(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func allowedNames(p *specs.LinuxSeccomp) map[string]bool {
	allowed := map[string]bool{}
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
			for _, n := range sc.Names {
				allowed[n] = true
			}
		}
	}
	return allowed
}

func TestProfileShape(t *testing.T) {
	p := resolve(t, Options{GOARCH: "amd64"})
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Fatalf("default %s %v", p.DefaultAction, p.DefaultErrnoRet)
	}
	if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64}) {
		t.Fatalf("architectures %v: want only the native one", p.Architectures)
	}
	allowed := allowedNames(p)
	seen := map[string]bool{}
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
			for _, n := range sc.Names {
				if seen[n] {
					t.Errorf("%s listed twice", n)
				}
				seen[n] = true
			}
		}
	}
	for _, n := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "keyctl", "add_key", "request_key",
		"bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"mount", "umount2", "fsopen", "fsmount", "fsconfig", "fspick", "move_mount", "open_tree", "mount_setattr", "pivot_root",
		"unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev", "open_by_handle_at", "name_to_handle_at",
		"clone", "clone3", "socket", "personality", "chroot", "swapon", "reboot", "syslog", "acct", "settimeofday", "sethostname",
		"arm_fadvise64_64", "set_tls"} {
		if allowed[n] {
			t.Errorf("%s is allowed unconditionally", n)
		}
	}
	for _, n := range []string{"read", "write", "execve", "futex", "openat", "exit_group", "arch_prctl"} {
		if !allowed[n] {
			t.Errorf("%s missing", n)
		}
	}
	var families, pers []uint64
	for _, sc := range p.Syscalls {
		switch {
		case slices.Equal(sc.Names, []string{"socket"}):
			families = append(families, sc.Args[0].Value)
		case slices.Equal(sc.Names, []string{"personality"}):
			pers = append(pers, sc.Args[0].Value)
		case slices.Equal(sc.Names, []string{"clone3"}):
			if sc.Action != specs.ActErrno || *sc.ErrnoRet != 38 {
				t.Errorf("clone3: %s %v, want ENOSYS", sc.Action, sc.ErrnoRet)
			}
		case slices.Equal(sc.Names, []string{"clone"}):
			if a := sc.Args[0]; a.Op != specs.OpMaskedEqual || a.Value != 0x7E020000 || a.ValueTwo != 0 {
				t.Errorf("clone filter %+v", a)
			}
		}
	}
	if !slices.Equal(families, []uint64{1, 2, 10, 16}) || !slices.Equal(pers, personalities) {
		t.Fatalf("socket families %v, personalities %v", families, pers)
	}
}

func TestResolveArchitectures(t *testing.T) {
	if p := resolve(t, Options{GOARCH: "amd64", Compat: true}); !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Fatalf("compat: %v", p.Architectures)
	}
	arm := resolve(t, Options{GOARCH: "arm"})
	if !slices.Equal(arm.Architectures, []specs.Arch{specs.ArchARM}) || !allowedNames(arm)["set_tls"] || allowedNames(arm)["arch_prctl"] {
		t.Fatalf("arm: %v", arm.Architectures)
	}
	if _, err := Resolve(Default(), Options{GOARCH: "sparc"}); !errors.Is(err, ErrInvalidProfile) {
		t.Fatalf("unknown arch: %v", err)
	}
}

func TestResolveConditions(t *testing.T) {
	p := &mseccomp.Seccomp{
		LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}},
		Syscalls: []*mseccomp.Syscall{
			{LinuxSyscall: specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}},
			{LinuxSyscall: specs.LinuxSyscall{Names: []string{"bind_low"}, Action: specs.ActAllow}, Includes: &mseccomp.Filter{Caps: []string{"CAP_NET_BIND_SERVICE"}}},
			{LinuxSyscall: specs.LinuxSyscall{Names: []string{"not_admin"}, Action: specs.ActAllow}, Excludes: &mseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}},
			{LinuxSyscall: specs.LinuxSyscall{Names: []string{"new"}, Action: specs.ActAllow}, Includes: &mseccomp.Filter{MinKernel: &mseccomp.KernelVersion{Kernel: 6, Major: 5}}},
			{Name: "old_style", LinuxSyscall: specs.LinuxSyscall{Action: specs.ActAllow}},
		},
	}
	cases := []struct {
		caps   []string
		kernel string
		want   []string
	}{
		{nil, "6.1.0-13-amd64", []string{"read", "not_admin", "old_style"}},
		{[]string{"CAP_NET_BIND_SERVICE"}, "6.18.0", []string{"read", "bind_low", "not_admin", "new", "old_style"}},
		{[]string{"CAP_SYS_ADMIN"}, "5.10", []string{"read", "old_style"}},
	}
	for _, tc := range cases {
		got, err := Resolve(p, Options{GOARCH: "amd64", Bounding: tc.caps, Kernel: tc.kernel})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sc := range got.Syscalls {
			names = append(names, sc.Names...)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("caps %v kernel %s: %v, want %v", tc.caps, tc.kernel, names, tc.want)
		}
	}
	if p.Syscalls[4].Names != nil {
		t.Fatal("Resolve modified its input")
	}
	bad := *p
	bad.ArchMap = []mseccomp.Architecture{{Arch: specs.ArchX86_64}}
	if _, err := Resolve(&bad, Options{GOARCH: "amd64"}); !errors.Is(err, ErrInvalidProfile) {
		t.Fatalf("architectures and archMap: %v", err)
	}
	both := &mseccomp.Seccomp{LinuxSeccomp: p.LinuxSeccomp, Syscalls: []*mseccomp.Syscall{{Name: "a", LinuxSyscall: specs.LinuxSyscall{Names: []string{"b"}}}}}
	if _, err := Resolve(both, Options{GOARCH: "amd64"}); !errors.Is(err, ErrInvalidProfile) {
		t.Fatalf("name and names: %v", err)
	}
}

func TestPrecompiledMatchesResolution(t *testing.T) {
	for _, arch := range PrecompiledArches {
		f, ok := Precompiled(arch)
		if !ok || len(f.BPF) == 0 || len(f.BPF)%8 != 0 {
			t.Fatalf("%s: no precompiled filter", arch)
		}
		if sum := sha256.Sum256(f.BPF); f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: the committed digest is not the filter's: run go generate ./seccomp", arch)
		}
		canon, _ := Canonical(resolve(t, Options{GOARCH: arch}))
		if string(canon) != string(f.Profile) {
			t.Fatalf("%s: committed profile differs from the Go data: run go generate ./seccomp", arch)
		}
	}
}

// TestDefaultKeepsTheFloor: runh's own allowlist passes the floor every
// operator profile must pass.
func TestDefaultKeepsTheFloor(t *testing.T) {
	if err := CheckFloor(Default(), runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
}
