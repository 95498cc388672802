package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckInheritedFDs judges the fds runc will hand the container's process
// (--preserve-fds, LISTEN_FDS): fds 3 to 3+n-1 of this process. A
// directory or an O_PATH fd would let the workload walk the host's tree
// from it (the CVE-2024-21626 class, by another door than the cwd), and so
// would a file under a sensitive host tree; so they are refused. Sockets,
// pipes, regular files elsewhere, ttys and anonymous inodes (eventfd,
// memfd) are what clients really pass, and stay allowed.
func (e *Env) CheckInheritedFDs(n int) error {
	for fd := 3; fd < 3+n; fd++ {
		field := "fd " + strconv.Itoa(fd)
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return &Denial{Field: field, Rule: "inherited-fds", Reason: fmt.Sprintf("is to be passed to the container but is not open (%v)", err)}
		}
		if flags&unix.O_PATH != 0 {
			return &Denial{Field: field, Rule: "inherited-fds", Reason: "is an O_PATH fd: it would give the container a handle on a host path"}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return &Denial{Field: field, Rule: "inherited-fds", Reason: fmt.Sprintf("cannot be inspected: %v", err)}
		}
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFSOCK, unix.S_IFIFO:
			continue
		case unix.S_IFDIR:
			return &Denial{Field: field, Rule: "inherited-fds", Reason: fmt.Sprintf("is a directory (%s): the container could reach the host's tree through it (CVE-2024-21626 class)", target)}
		case unix.S_IFCHR:
			if target == "/dev/null" || target == "/dev/zero" || target == "/dev/tty" || strings.HasPrefix(target, "/dev/pts/") {
				continue
			}
			return &Denial{Field: field, Rule: "inherited-fds", Reason: fmt.Sprintf("is the device %s", target)}
		case unix.S_IFBLK:
			return &Denial{Field: field, Rule: "inherited-fds", Reason: fmt.Sprintf("is the block device %s", target)}
		}
		if strings.HasPrefix(target, "anon_inode:") || strings.HasPrefix(target, "/memfd:") {
			continue
		}
		if what := e.hostPathRefusal(target); what != "" {
			return &Denial{Field: field, Rule: "inherited-fds", Reason: fmt.Sprintf("is the %s %s", what, target)}
		}
	}
	return nil
}
