package compile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/seccomp"
)

// TestGeneratedUpToDate fails when default.json or a precompiled filter is
// not what the Go profile and this libseccomp produce.
func TestGeneratedUpToDate(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := seccomp.Committed(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate ./seccomp` and commit the result", name)
		}
	}
}

// TestCompileArches proves that every name resolves on amd64 and that the
// filter compiles for amd64, arm64 and arm, and reports its size.
func TestCompileArches(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64", "arm"} {
		for _, compat := range []bool{false, true} {
			p, err := seccomp.Resolve(seccomp.Default(), seccomp.Options{GOARCH: arch, Compat: compat})
			if err != nil {
				t.Fatal(err)
			}
			prog, err := Compile(p)
			if err != nil {
				t.Fatalf("%s compat=%v: %v", arch, compat, err)
			}
			if arch == "amd64" && !compat && len(prog.Skipped) > 0 {
				t.Errorf("names libseccomp does not know on amd64: %v", prog.Skipped)
			}
			t.Logf("%s compat=%v %v: %d BPF instructions; %d names absent: %v", arch, compat, p.Architectures, prog.Instructions, len(prog.Skipped), prog.Skipped)
		}
	}
}

func TestCompileRefusesUnknown(t *testing.T) {
	for _, p := range []*specs.LinuxSeccomp{
		{DefaultAction: "SCMP_ACT_BOGUS", Architectures: []specs.Arch{specs.ArchX86_64}},
		{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchMIPS}},
		{DefaultAction: specs.ActErrno},
	} {
		if _, err := Compile(p); !errors.Is(err, ErrCompile) {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// TestFilterBehaviour installs the committed amd64 filter in a child
// process and checks what it allows and refuses, and how.
func TestFilterBehaviour(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("behaviour checked with the amd64 filter")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFilterChild$", "-test.v")
	cmd.Env = append(os.Environ(), "RUNH_FILTER_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFilterChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestFilterChild(t *testing.T) {
	if os.Getenv("RUNH_FILTER_CHILD") != "1" {
		t.Skip("runs only as TestFilterBehaviour's child")
	}
	f, _ := seccomp.Precompiled("amd64")
	bpf := f.BPF
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	prog := unix.SockFprog{Len: uint16(len(bpf) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&bpf[0]))}
	// TSYNC: every thread of the Go runtime gets the filter.
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, 1, 1, uintptr(unsafe.Pointer(&prog))); e != 0 {
		t.Fatalf("seccomp: %v", e)
	}
	check := func(name string, nr uintptr, a0, a1 uintptr, want unix.Errno) {
		_, _, e := unix.RawSyscall(nr, a0, a1, 0)
		if e != want {
			t.Errorf("%s: errno %v, want %v", name, e, want)
		}
	}
	check("getpid", unix.SYS_GETPID, 0, 0, 0)
	check("socket(AF_UNIX)", unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	check("socket(AF_VSOCK)", unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, unix.EPERM)
	check("socket(AF_ALG)", unix.SYS_SOCKET, unix.AF_ALG, unix.SOCK_SEQPACKET, unix.EPERM)
	check("unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, unix.EPERM)
	check("ptrace", unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, unix.EPERM)
	check("personality(ADDR_NO_RANDOMIZE)", unix.SYS_PERSONALITY, 0x0040000, 0, unix.EPERM)
	check("io_uring_setup", unix.SYS_IO_URING_SETUP, 1, 0, unix.EPERM)
	check("clone3", unix.SYS_CLONE3, 0, 0, unix.ENOSYS)
	check("a syscall newer than the profile", 1000, 0, 0, unix.ENOSYS)
}
