package seccomp

import (
	"os"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

var scmpArch = map[string]libseccomp.ScmpArch{
	"amd64": libseccomp.ArchAMD64,
	"arm64": libseccomp.ArchARM64,
	"arm":   libseccomp.ArchARM,
}

var scmpOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpEqualTo:     libseccomp.CompareEqual,
	specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
}

// compile builds the profile with libseccomp the way runc does, skipping
// names the architecture does not have, and returns the BPF instruction
// count and the names skipped.
func compile(t *testing.T, goarch string, p *specs.LinuxSeccomp) (int, []string) {
	t.Helper()
	arch := scmpArch[goarch]
	def := libseccomp.ActErrno.SetReturnCode(int16(*p.DefaultErrnoRet))
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if err := f.RemoveArch(libseccomp.ArchNative); err != nil {
		t.Fatal(err)
	}
	if err := f.AddArch(arch); err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, sc := range p.Syscalls {
		act := libseccomp.ActAllow
		if sc.Action == specs.ActErrno {
			act = libseccomp.ActErrno.SetReturnCode(int16(*sc.ErrnoRet))
		}
		var conds []libseccomp.ScmpCondition
		for _, a := range sc.Args {
			c, err := libseccomp.MakeCondition(a.Index, scmpOps[a.Op], a.Value, a.ValueTwo)
			if err != nil {
				t.Fatalf("%v: %v", sc.Names, err)
			}
			conds = append(conds, c)
		}
		for _, name := range sc.Names {
			if anr, err := libseccomp.GetSyscallFromNameByArch(name, arch); err != nil || anr < 0 {
				skipped = append(skipped, name)
				continue
			}
			// Rules take the native (or pseudo) number; libseccomp
			// translates it for each architecture in the filter.
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(conds) == 0 {
				err = f.AddRule(nr, act)
			} else {
				err = f.AddRuleConditional(nr, act, conds)
			}
			if err != nil {
				t.Fatalf("%s on %s: %v", name, goarch, err)
			}
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { f.ExportBPF(w); w.Close() }()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	return n / 8, skipped
}

// TestProfileCompiles proves that every name resolves on amd64 and that the
// filter compiles for amd64, arm64 and arm, and reports its size.
func TestProfileCompiles(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64", "arm"} {
		t.Run(goarch, func(t *testing.T) {
			p := ForArch(goarch)
			insns, skipped := compile(t, goarch, p)
			if goarch == "amd64" && len(skipped) > 0 {
				t.Fatalf("names libseccomp does not know on amd64: %v", skipped)
			}
			t.Logf("%s: %d BPF instructions; %d names absent on this architecture: %v", goarch, insns, len(skipped), skipped)
			if insns == 0 {
				t.Fatal("empty filter")
			}
		})
	}
}

func TestProfileShape(t *testing.T) {
	p := Default()
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Fatalf("default %s %v", p.DefaultAction, p.DefaultErrnoRet)
	}
	if len(p.Architectures) != 1 {
		t.Fatalf("architectures %v: want only the native one", p.Architectures)
	}
	allowed := map[string]bool{}
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
			for _, n := range sc.Names {
				if allowed[n] {
					t.Errorf("%s listed twice", n)
				}
				allowed[n] = true
			}
		}
	}
	for _, n := range []string{"io_uring_setup", "io_uring_enter", "userfaultfd", "keyctl", "add_key", "request_key",
		"bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"mount", "umount2", "fsopen", "fsmount", "move_mount", "open_tree", "pivot_root", "unshare", "setns",
		"ptrace", "process_vm_readv", "process_vm_writev", "open_by_handle_at", "clone", "clone3", "socket", "personality",
		"chroot", "swapon", "reboot", "syslog", "acct", "settimeofday", "sethostname"} {
		if allowed[n] {
			t.Errorf("%s is allowed unconditionally", n)
		}
	}
	for _, n := range []string{"read", "write", "execve", "futex", "openat", "exit_group"} {
		if !allowed[n] {
			t.Errorf("%s missing", n)
		}
	}
	// socket only for the safe families.
	var families []uint64
	for _, sc := range p.Syscalls {
		if slices.Equal(sc.Names, []string{"socket"}) {
			families = append(families, sc.Args[0].Value)
		}
	}
	if !slices.Equal(families, []uint64{1, 2, 10, 16}) {
		t.Fatalf("socket families %v", families)
	}
}
