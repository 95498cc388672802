/*
 * runh-init installs runh's precompiled seccomp filter and then execs the
 * container's real entrypoint. runh bind-mounts it read-only at
 * /dev/.runh/init, the filter at /dev/.runh/filter, and prepends the init to
 * process.args, so runc hands over a spec without a seccomp section and no
 * container pays for compiling the profile with libseccomp at start-up.
 *
 * It fails closed: if the filter cannot be read or installed, the
 * entrypoint never runs (exit 127). It execs with execvp, so a bare command
 * name is searched in the container's PATH, as runc does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FILTER_PATH "/dev/.runh/filter"

static struct sock_filter insns[BPF_MAXINSNS + 1];

static void die(const char *what, int err)
{
	dprintf(2, "runh-init: %s: %s\n", what, strerror(err));
	_exit(127);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: runh-init COMMAND [ARG...]", EINVAL);

	int fd = open(FILTER_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open " FILTER_PATH, errno);
	size_t size = 0;
	for (;;) {
		ssize_t n = read(fd, (char *)insns + size, sizeof(insns) - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read " FILTER_PATH, errno);
		if (n == 0)
			break;
		size += n;
		if (size == sizeof(insns))
			die(FILTER_PATH " is larger than the kernel's limit", E2BIG);
	}
	close(fd);
	if (size == 0 || size % sizeof(struct sock_filter) != 0)
		die(FILTER_PATH " is not a BPF program", EINVAL);

	/* runc has set no_new_privs (the profile requires it); setting it again
	 * is harmless and lets the filter be installed without privilege. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("prctl(PR_SET_NO_NEW_PRIVS)", errno);
	struct sock_fprog prog = {
		.len = (unsigned short)(size / sizeof(struct sock_filter)),
		.filter = insns,
	};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		die("seccomp(SECCOMP_SET_MODE_FILTER)", errno);

	execvp(argv[1], argv + 1);
	die(argv[1], errno);
	return 127;
}
