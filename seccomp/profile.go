// Package seccomp holds runh's default seccomp profile as Go data, in the
// Docker/Kubernetes profile format (github.com/moby/profiles/seccomp), so
// users can bring their own profiles in the same format. default.json is
// generated from this file (go generate); a test fails when they differ.
//
// The profile is an allowlist: what is not listed fails with EPERM, and
// syscalls newer than any the profile lists fail with ENOSYS, so libc's
// fallbacks (clone3 -> clone, fchmodat2 -> fchmodat) keep working.
package seccomp

//go:generate go run ./internal/gen

import (
	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	errnoEPERM  = 1
	errnoENOSYS = 38

	// cloneNewMask is every CLONE_NEW* flag clone(2) accepts: NEWNS,
	// NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. New namespaces are
	// the first step of many container escapes (CVE-2022-0185 needed an
	// unprivileged user namespace).
	cloneNewMask = 0x7E020000
)

// Address families that may be opened. Everything else, AF_ALG
// (CVE-2017-17805 and kin) and AF_VSOCK (CVE-2021-26708) included, is refused.
var socketFamilies = []uint64{
	1,  // AF_UNIX
	2,  // AF_INET
	10, // AF_INET6
	16, // AF_NETLINK
}

// personalities Docker allows: PER_LINUX, PER_LINUX32, UNAME26 variants and
// the query 0xffffffff. Others, like ADDR_NO_RANDOMIZE, weaken the process.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// allowed lists the syscalls every container may make, grouped by purpose.
// Compared with Docker's default profile it leaves out io_uring,
// userfaultfd, the keyring, bpf, perf_event_open, kexec, modules, the mount
// family, unshare/setns, ptrace and process_vm_*, name_to_handle_at,
// fanotify, NUMA policy and everything that needs a capability runh never
// grants.
var allowed = []struct {
	comment string
	names   []string
}{
	{"files and directories", []string{"access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat",
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
		"umask", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vmsplice", "write", "writev"}},
	{"memory", []string{"brk", "madvise", "membarrier", "memfd_create", "mincore", "mlock", "mlock2", "mlockall",
		"mmap", "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap",
		"pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages"}},
	{"processes, threads and identity", []string{"capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "get_robust_list",
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
		"pidfd_open", "pidfd_send_signal"}},
	{"signals", []string{"kill", "pause", "restart_syscall", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
		"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
		"rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4", "tgkill", "tkill"}},
	{"time", []string{"alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep",
		"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
		"timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime"}},
	{"waiting and events", []string{"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
		"eventfd", "eventfd2", "futex", "futex_waitv", "inotify_add_watch", "inotify_init",
		"inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents",
		"io_pgetevents", "io_setup", "io_submit", "ioctl", "pipe", "pipe2", "poll", "ppoll",
		"pselect6", "select"}},
	{"IPC, private to the container's IPC namespace", []string{"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
		"msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
		"shmat", "shmctl", "shmdt", "shmget"}},
	{"networking (socket itself is filtered by family)", []string{"accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
		"listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto",
		"setsockopt", "shutdown", "socketpair"}},
	{"misc", []string{"getrandom", "sysinfo"}},
}

// archOnly lists syscalls that exist only on some architectures, by
// libseccomp's architecture names.
var archOnly = []struct {
	arch, comment string
	names         []string
}{
	{"amd64", "x86-64 thread state", []string{"arch_prctl"}},
	// 32-bit arm: the 32-bit uid calls, the 64-bit file calls and the
	// time64 calls that a 32-bit libc uses in place of the generic ones.
	{"arm", "32-bit arm variants", []string{"arm_fadvise64_64", "breakpoint", "cacheflush", "set_tls", "mmap2", "_llseek",
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
		"mq_timedsend_time64", "mq_timedreceive_time64", "sched_rr_get_interval_time64"}},
}

// Default returns runh's default profile. Each call returns a fresh copy.
func Default() *mseccomp.Seccomp {
	eperm := uint(errnoEPERM)
	enosys := uint(errnoENOSYS)
	p := &mseccomp.Seccomp{
		LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm},
		// Sub-architectures are listed so an operator can opt in to 32-bit
		// compat; by default only the native architecture is used.
		ArchMap: []mseccomp.Architecture{
			{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
			{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
			{Arch: specs.ArchARM, SubArches: []specs.Arch{}},
		},
	}
	for _, g := range allowed {
		p.Syscalls = append(p.Syscalls, &mseccomp.Syscall{Comment: g.comment,
			LinuxSyscall: specs.LinuxSyscall{Names: g.names, Action: specs.ActAllow}})
	}
	for _, g := range archOnly {
		p.Syscalls = append(p.Syscalls, &mseccomp.Syscall{Comment: g.comment,
			LinuxSyscall: specs.LinuxSyscall{Names: g.names, Action: specs.ActAllow},
			Includes:     &mseccomp.Filter{Arches: []string{g.arch}}})
	}
	p.Syscalls = append(p.Syscalls,
		&mseccomp.Syscall{Comment: "clone without any CLONE_NEW* flag (s390 swaps the first two arguments; not supported)",
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: cloneNewMask, ValueTwo: 0, Op: specs.OpMaskedEqual}}}},
		&mseccomp.Syscall{Comment: "clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes libc fall back to clone",
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys}},
	)
	for _, af := range socketFamilies {
		p.Syscalls = append(p.Syscalls, &mseccomp.Syscall{Comment: "socket for a safe address family",
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: af, Op: specs.OpEqualTo}}}})
	}
	for _, v := range personalities {
		p.Syscalls = append(p.Syscalls, &mseccomp.Syscall{Comment: "personality for a harmless value",
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}}}})
	}
	return p
}
