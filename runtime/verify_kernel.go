package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ioprioClassRT is IOPRIO_CLASS_RT (linux/ioprio.h); a class is the top
// bits of ioprio_get's answer, above IOPRIO_CLASS_SHIFT (13).
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
	ioprioClassRT    = 1
)

// verifySchedIO reads the scheduling policy, nice value and I/O priority
// class the kernel gave the container's init: no realtime or deadline
// policy, no negative nice, no realtime I/O class (runh issue 12: runc
// applies process.scheduler and process.ioPriority as written, and either
// lets one container starve the node).
func verifySchedIO(pid int) error {
	policy, _, errno := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(pid), 0, 0)
	if errno != 0 {
		return fmt.Errorf("sched_getscheduler(%d): %w", pid, errno)
	}
	switch policy &^ unix.SCHED_RESET_ON_FORK {
	case unix.SCHED_NORMAL, unix.SCHED_BATCH, unix.SCHED_IDLE:
	default:
		return fmt.Errorf("scheduling policy is %d (realtime or deadline), want SCHED_OTHER, SCHED_BATCH or SCHED_IDLE", policy)
	}
	// The raw getpriority answers 20 - nice.
	prio, _, errno := unix.RawSyscall(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, uintptr(pid), 0)
	if errno != 0 {
		return fmt.Errorf("getpriority(%d): %w", pid, errno)
	}
	if nice := 20 - int(prio); nice < 0 {
		return fmt.Errorf("nice is %d, want 0 or more", nice)
	}
	io, _, errno := unix.RawSyscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(pid), 0)
	if errno != 0 {
		return fmt.Errorf("ioprio_get(%d): %w", pid, errno)
	}
	if io>>ioprioClassShift == ioprioClassRT {
		return fmt.Errorf("I/O priority class is realtime, want best-effort or idle")
	}
	return nil
}

// hostNICs lists the host's network interfaces that are hardware (they
// have a device link in sysfs): the ones whose loss takes a node off the
// network. Virtual ones (veth, bridges) come and go as engines wire
// containers up, Docker's veth moving into the container during create.
func hostNICs() map[string]bool {
	ents, _ := os.ReadDir("/sys/class/net")
	nics := make(map[string]bool, len(ents))
	for _, e := range ents {
		if _, err := os.Lstat(filepath.Join("/sys/class/net", e.Name(), "device")); err == nil {
			nics[e.Name()] = true
		}
	}
	return nics
}

// verifyNICsStayed fails if a hardware interface the host had before runc
// ran is gone from the host's network namespace (runc moved it into the
// container: linux.netDevices).
func verifyNICsStayed(before map[string]bool) error {
	after := hostNICs()
	for name := range before {
		if !after[name] {
			return fmt.Errorf("the host's network interface %s left the host during create", name)
		}
	}
	return nil
}

// verifyCreatedKernel adds, to verifyCreated, what runc applies beyond the
// process's credentials: scheduling and I/O priority of the init, and the
// host's hardware interfaces still on the host.
func verifyCreatedKernel(pid int, nics map[string]bool) error {
	if err := verifySchedIO(pid); err != nil {
		return err
	}
	return verifyNICsStayed(nics)
}
