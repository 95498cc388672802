// Package seccomp holds runh's default seccomp profile as Go data. The
// profile is an allowlist: what is not listed fails with EPERM. runc adds a
// stub that answers ENOSYS for syscalls newer than any the profile lists, so
// libc's fallbacks for new syscalls keep working.
package seccomp

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	errnoEPERM  = 1
	errnoENOSYS = 38

	// cloneNewMask is every CLONE_NEW* flag clone(2) accepts: NEWNS,
	// NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. New namespaces are
	// the first step of most container escapes (CVE-2022-0185 needed an
	// unprivileged user namespace).
	cloneNewMask = 0x7E020000

	// Address families that may be opened. Everything else, AF_ALG
	// (CVE-2017-17805 and kin) and AF_VSOCK (CVE-2021-26708) included, is
	// refused.
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
)

// Allowed lists the syscalls every container may make, grouped by purpose.
// Compared with Docker's default profile it leaves out io_uring, userfaultfd,
// the keyring, bpf, perf_event_open, kexec, modules, the mount family,
// unshare/setns, ptrace and process_vm_*, name_to_handle_at, fanotify,
// NUMA policy and everything that needs a capability runh never grants.
var Allowed = [][]string{
	// files and directories
	{"access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat",
		"dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir",
		"fchmod", "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr",
		"flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync",
		"ftruncate", "futimesat", "getcwd", "getdents", "getdents64", "getxattr", "lchown",
		"lgetxattr", "link", "linkat", "listxattr", "llistxattr", "lremovexattr", "lseek",
		"lsetxattr", "lstat", "mkdir", "mkdirat", "mknod", "mknodat", "newfstatat", "open",
		"openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2",
		"read", "readahead", "readlink", "readlinkat", "readv", "removexattr", "rename",
		"renameat", "renameat2", "rmdir", "sendfile", "setxattr", "splice", "stat", "statfs",
		"statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate",
		"umask", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vmsplice", "write", "writev"},
	// memory
	{"brk", "madvise", "membarrier", "memfd_create", "mincore", "mlock", "mlock2", "mlockall",
		"mmap", "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap",
		"pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages"},
	// processes, threads and identity
	{"capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "get_robust_list",
		"get_thread_area", "getcpu", "getegid", "geteuid", "getgid", "getgroups", "getitimer",
		"getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getresgid", "getresuid",
		"getrlimit", "getrusage", "getsid", "gettid", "getuid", "ioprio_get", "ioprio_set",
		"prctl", "prlimit64", "rseq", "sched_get_priority_max", "sched_get_priority_min",
		"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler",
		"sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam",
		"sched_setscheduler", "sched_yield", "seccomp", "set_robust_list", "set_thread_area",
		"set_tid_address", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer",
		"setpgid", "setpriority", "setregid", "setresgid", "setresuid", "setreuid",
		"setrlimit", "setsid", "setuid", "times", "uname", "vfork", "wait4", "waitid",
		"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
		"pidfd_open", "pidfd_send_signal"},
	// signals
	{"kill", "pause", "restart_syscall", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
		"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
		"rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4", "tgkill", "tkill"},
	// time
	{"alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep",
		"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
		"timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime"},
	// waiting and events
	{"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
		"eventfd", "eventfd2", "futex", "futex_waitv", "inotify_add_watch", "inotify_init",
		"inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents",
		"io_pgetevents", "io_setup", "io_submit", "ioctl", "pipe", "pipe2", "poll", "ppoll",
		"pselect6", "select"},
	// IPC, private to the container's IPC namespace
	{"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
		"msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
		"shmat", "shmctl", "shmdt", "shmget"},
	// networking (socket itself is filtered by family below)
	{"accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
		"listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto",
		"setsockopt", "shutdown", "socketpair"},
	// misc
	{"getrandom", "sysinfo"},
}

// archSpecific lists syscalls that exist only on some architectures.
var archSpecific = map[string][]string{
	"amd64": {"arch_prctl"},
	// 32-bit arm: the 32-bit uid calls, the 64-bit file calls and the
	// time64 calls that a 32-bit libc uses in place of the generic ones.
	"arm": {"arm_fadvise64_64", "breakpoint", "cacheflush", "set_tls", "mmap2", "_llseek",
		"fstat64", "fstatat64", "lstat64", "stat64", "statfs64", "fstatfs64", "fcntl64",
		"ftruncate64", "truncate64", "sendfile64", "ugetrlimit",
		"sigreturn", "_newselect", "send", "recv",
		"chown32", "fchown32", "lchown32", "getuid32", "geteuid32", "getgid32", "getegid32",
		"getgroups32", "setgroups32", "setuid32", "setgid32", "setreuid32", "setregid32",
		"setresuid32", "setresgid32", "getresuid32", "getresgid32", "setfsuid32", "setfsgid32",
		"clock_gettime64", "clock_getres_time64", "clock_nanosleep_time64", "futex_time64",
		"ppoll_time64", "pselect6_time64", "recvmmsg_time64", "rt_sigtimedwait_time64",
		"semtimedop_time64", "timer_gettime64", "timer_settime64", "timerfd_gettime64",
		"timerfd_settime64", "utimensat_time64", "io_pgetevents_time64",
		"mq_timedsend_time64", "mq_timedreceive_time64", "sched_rr_get_interval_time64"},
}

// archNames maps GOARCH to libseccomp's architecture names.
var archNames = map[string]specs.Arch{
	"amd64":   specs.ArchX86_64,
	"arm64":   specs.ArchAARCH64,
	"arm":     specs.ArchARM,
	"386":     specs.ArchX86,
	"ppc64le": specs.ArchPPC64LE,
	"s390x":   specs.ArchS390X,
	"riscv64": specs.ArchRISCV64,
}

// Default returns runh's profile for the architecture runh runs on.
func Default() *specs.LinuxSeccomp { return ForArch(runtime.GOARCH) }

// ForArch returns runh's profile for one GOARCH. Only that architecture is
// listed: a profile for x86 and x32 too costs runc a compile per
// architecture on every start and opens the 32-bit compat syscall surface.
func ForArch(goarch string) *specs.LinuxSeccomp {
	var names []string
	for _, g := range Allowed {
		names = append(names, g...)
	}
	names = append(names, archSpecific[goarch]...)
	eperm := uint(errnoEPERM)
	enosys := uint(errnoENOSYS)
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: specs.ActAllow},
			// clone without any CLONE_NEW* flag.
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: cloneFlagsArg(goarch), Value: cloneNewMask, ValueTwo: 0, Op: specs.OpMaskedEqual},
			}},
			// clone3 passes its flags in memory, where seccomp cannot look.
			// ENOSYS makes libc fall back to clone, which is filtered.
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	if a, ok := archNames[goarch]; ok {
		p.Architectures = []specs.Arch{a}
	}
	for _, af := range []uint64{afUnix, afInet, afInet6, afNetlink} {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: af, Op: specs.OpEqualTo}}})
	}
	// personality only for the harmless values Docker allows: PER_LINUX,
	// PER_LINUX32, UNAME26 variants and the query 0xffffffff. Others, like
	// ADDR_NO_RANDOMIZE, weaken the process.
	for _, v := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}}})
	}
	return p
}

// cloneFlagsArg is the index of clone's flags argument; s390 swaps the
// first two.
func cloneFlagsArg(goarch string) uint {
	if goarch == "s390x" {
		return 1
	}
	return 0
}
