package runtime

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestVerifySchedIO: a plain process passes; realtime I/O priority and a
// negative nice (set on a child, as root) are caught.
func TestVerifySchedIO(t *testing.T) {
	if err := verifySchedIO(os.Getpid()); err != nil {
		t.Fatalf("this test process: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING the realtime cases: they need root")
	}
	for name, set := range map[string]func(pid int) error{
		"realtime io": func(pid int) error {
			_, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(pid), ioprioClassRT<<ioprioClassShift|4)
			if e != 0 {
				return e
			}
			return nil
		},
		"negative nice": func(pid int) error { return syscall.Setpriority(syscall.PRIO_PROCESS, pid, -5) },
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("sleep", "10")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			if err := set(cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			if err := verifySchedIO(cmd.Process.Pid); err == nil || !strings.Contains(err.Error(), "want") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestVerifyNICsStayed(t *testing.T) {
	if err := verifyNICsStayed(hostNICs()); err != nil {
		t.Fatal(err)
	}
	if err := verifyNICsStayed(map[string]bool{"runh-gone0": true}); err == nil {
		t.Fatal("a vanished interface passed")
	}
}

// TestVerifyHostIDs: ids are judged as the host sees them: root fails;
// nobody passes outside a user namespace and fails the floor inside one.
func TestVerifyHostIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: starts a child as nobody, needs root")
	}
	if err := verifyHostIDs(os.Getpid(), 65536, false); err == nil {
		t.Fatal("a root process passed")
	}
	cmd := exec.Command("sleep", "10")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if err := verifyHostIDs(cmd.Process.Pid, 65536, false); err != nil {
		t.Fatalf("nobody without a user namespace: %v", err)
	}
	if err := verifyHostIDs(cmd.Process.Pid, 65536, true); err == nil {
		t.Fatal("host nobody passed the floor for a user-namespaced container")
	}
}
