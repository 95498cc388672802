/*
 * runh-init checks that it runs as the process runh hardened, installs
 * runh's precompiled seccomp filter, proves that the kernel loaded it, and
 * then execs the container's real entrypoint. runh bind-mounts it read-only
 * at /dev/.runh/init, the filter at /dev/.runh/filter, and rewrites
 * process.args to
 *
 *   /dev/.runh/init --expect=uid=U,gid=G,groups=G1:G2,inh=X,prm=X,eff=X,bnd=X,amb=X,nnp=1 -- COMMAND [ARG...]
 *
 * (ids in decimal, as the container sees them; capability masks in hex;
 * groups order-insensitive, empty for none), so runc need not compile the
 * profile with libseccomp on every start. runh verifies a created container
 * from outside, but `run` and `exec` hand over to runc, so this is the only
 * check those get.
 *
 * Before installing, from one read of /proc/self/status and
 * getresuid/getresgid/getgroups: every uid (real, effective, saved, fs) and
 * gid is the expected one, the supplementary groups are the expected set,
 * NoNewPrivs is as expected, and each capability set is within its mask.
 * After installing: Seccomp is 2 and Seccomp_filters is one more than
 * before. seccomp(2) returning 0 proves nothing: a client profile stacked
 * under runh's (runc installs it first) can answer seccomp(2) with
 * SCMP_ACT_ERRNO and errnoRet 0, a fake success that leaves every call
 * runh's filter denies reachable. runh refuses such profiles
 * (sandbox/seccomp_client.go); this is the second line.
 *
 * Everything read is first zeroed, and every id starts at a value no check
 * accepts, so a call faked by a filter (success, nothing written) fails a
 * check instead of passing one. A faked open(2) returns 0, the standard
 * input, which the client may control: an open that gives a standard
 * stream is refused.
 *
 * It fails closed: on any mismatch or error the entrypoint never runs
 * (exit 127, "runh-init: ..." on stderr). It execs with execvp, so a bare
 * command name is searched in the container's PATH, as runc does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FILTER_PATH "/dev/.runh/filter"
#define STATUS_PATH "/proc/self/status"
#define MAX_GROUPS 65536 /* the kernel's NGROUPS_MAX */

static struct sock_filter insns[BPF_MAXINSNS + 1];
static char status[16384];
static gid_t want_groups[MAX_GROUPS], have_groups[MAX_GROUPS];

static struct {
	unsigned long long uid, gid, nnp;
	unsigned long long caps[5];
	int ngroups;
	unsigned seen;
} want;

/* The capability sets, as /proc/self/status names them and --expect. */
static const char *const cap_status[5] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
static const char *const cap_key[5] = {"inh", "prm", "eff", "bnd", "amb"};

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dprintf(2, "runh-init: ");
	vdprintf(2, fmt, ap);
	dprintf(2, "\n");
	va_end(ap);
	_exit(127);
}

/* parse_num reads the whole of [s, end) as a number in base 10 or 16, at
 * most max: no sign, no prefix, no space, not empty. */
static int parse_num(const char *s, const char *end, int base, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	if (s == end)
		return -1;
	for (; s < end; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return -1;
		if (v > (max - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static void parse_groups(const char *s, const char *end)
{
	while (s < end) {
		const char *c = memchr(s, ':', end - s);
		if (!c)
			c = end;
		unsigned long long g;
		if (want.ngroups == MAX_GROUPS || parse_num(s, c, 10, (gid_t)-2, &g) != 0)
			fail("--expect: bad groups");
		want_groups[want.ngroups++] = (gid_t)g;
		s = c == end ? end : c + 1;
		if (c != end && s == end)
			fail("--expect: bad groups");
	}
}

/* parse_expect reads --expect's value; every key is required, once. */
static void parse_expect(const char *s)
{
	while (*s) {
		const char *end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		const char *eq = memchr(s, '=', end - s);
		if (!eq)
			fail("--expect: %.*s: no value", (int)(end - s), s);
		size_t klen = eq - s;
		unsigned bit = 0;
		int ok = 0;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(s, k, klen) == 0)
		if (KEY("uid")) {
			bit = 1 << 0;
			ok = parse_num(eq + 1, end, 10, (uid_t)-2, &want.uid) == 0;
		} else if (KEY("gid")) {
			bit = 1 << 1;
			ok = parse_num(eq + 1, end, 10, (gid_t)-2, &want.gid) == 0;
		} else if (KEY("groups")) {
			bit = 1 << 2;
			parse_groups(eq + 1, end);
			ok = 1;
		} else if (KEY("nnp")) {
			bit = 1 << 3;
			ok = parse_num(eq + 1, end, 10, 1, &want.nnp) == 0;
		} else {
			for (int i = 0; i < 5; i++)
				if (klen == 3 && memcmp(s, cap_key[i], 3) == 0) {
					bit = 1 << (4 + i);
					ok = parse_num(eq + 1, end, 16, ~0ULL, &want.caps[i]) == 0;
				}
		}
#undef KEY
		if (!bit)
			fail("--expect: unknown key %.*s", (int)klen, s);
		if (!ok)
			fail("--expect: bad %.*s", (int)(end - s), s);
		if (want.seen & bit)
			fail("--expect: %.*s given twice", (int)klen, s);
		want.seen |= bit;
		s = *end ? end + 1 : end;
	}
	if (want.seen != (1u << 9) - 1)
		fail("--expect: a key is missing (uid, gid, groups, nnp, inh, prm, eff, bnd, amb are required)");
}

/* slurp reads path into buf, zeroed first, and returns its length. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
	memset(buf, 0, cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	if (fd <= 2)
		fail("open %s gave fd %d, a standard stream: stdio is closed, or open(2) was faked by a seccomp profile", path, fd);
	size_t size = 0;
	for (;;) {
		ssize_t n = read(fd, buf + size, cap - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		size += n;
		if (size == cap)
			fail("%s is larger than %zu bytes", path, cap - 1);
	}
	close(fd);
	return size;
}

/* field returns the value of the "key:" line of the status read, after the
 * tab, or dies: without it nothing can be proven. */
static const char *field(const char *key)
{
	size_t n = strlen(key);
	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, key, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	fail("%s has no %s line: cannot check the process%s", STATUS_PATH, key,
	     strcmp(key, "Seccomp_filters") == 0 ? " (Linux 5.9 or later is needed)" : "");
}

/* field_num parses the next number of a status value, in base 10 or 16. */
static unsigned long long field_num(const char **p, const char *key, int base)
{
	const char *s = *p, *e = s;
	while ((*e >= '0' && *e <= '9') || (base == 16 && *e >= 'a' && *e <= 'f'))
		e++;
	unsigned long long v;
	if (parse_num(s, e, base, ~0ULL, &v) != 0)
		fail("%s: cannot parse %s", STATUS_PATH, key);
	while (*e == ' ' || *e == '\t')
		e++;
	*p = e;
	return v;
}

/* check_ids compares the getres*id triple and the status line key ("Uid",
 * "Gid": real, effective, saved, filesystem) with want. */
static void check_ids(const char *key, const unsigned long long res[3], unsigned long long want_id)
{
	static const char *const what[4] = {"", "e", "s", "fs"};
	char c = key[0] == 'U' ? 'u' : 'g';
	for (int i = 0; i < 3; i++)
		if (res[i] != want_id)
			fail("%s%cid is %llu, want %llu", what[i], c, res[i], want_id);
	const char *p = field(key);
	for (int i = 0; i < 4; i++) {
		unsigned long long v = field_num(&p, key, 10);
		if (v != want_id)
			fail("%s%cid is %llu in %s, want %llu", what[i], c, v, STATUS_PATH, want_id);
	}
}

static int contains(const gid_t *set, int n, gid_t g)
{
	for (int i = 0; i < n; i++)
		if (set[i] == g)
			return 1;
	return 0;
}

static void print_groups(const char *label, const gid_t *set, int n)
{
	dprintf(2, "%s", label);
	for (int i = 0; i < n && i < 32; i++)
		dprintf(2, "%s%u", i ? ":" : "", (unsigned)set[i]);
	dprintf(2, "%s", n > 32 ? ":..." : n ? "" : "(none)");
}

static void check_groups(void)
{
	memset(have_groups, 0xff, sizeof(have_groups));
	int n = getgroups(MAX_GROUPS, have_groups);
	if (n < 0)
		fail("getgroups: %s", strerror(errno));
	int same = 1;
	for (int i = 0; i < n && same; i++)
		same = contains(want_groups, want.ngroups, have_groups[i]);
	for (int i = 0; i < want.ngroups && same; i++)
		same = contains(have_groups, n, want_groups[i]);
	if (!same) {
		print_groups("runh-init: supplementary groups are ", have_groups, n);
		print_groups(", want ", want_groups, want.ngroups);
		dprintf(2, "\n");
		_exit(127);
	}
}

/* check_identity checks the process against --expect, before the filter
 * is installed, and returns the number of filters already installed. */
static unsigned long long check_identity(void)
{
	slurp(STATUS_PATH, status, sizeof(status));
	uid_t u[3] = {(uid_t)-1, (uid_t)-1, (uid_t)-1};
	gid_t g[3] = {(gid_t)-1, (gid_t)-1, (gid_t)-1};
	if (getresuid(&u[0], &u[1], &u[2]) != 0)
		fail("getresuid: %s", strerror(errno));
	if (getresgid(&g[0], &g[1], &g[2]) != 0)
		fail("getresgid: %s", strerror(errno));
	const unsigned long long ur[3] = {u[0], u[1], u[2]}, gr[3] = {g[0], g[1], g[2]};
	check_ids("Uid", ur, want.uid);
	check_ids("Gid", gr, want.gid);
	check_groups();
	const char *p = field("NoNewPrivs");
	unsigned long long nnp = field_num(&p, "NoNewPrivs", 10);
	if (nnp != want.nnp)
		fail("NoNewPrivs is %llu, want %llu", nnp, want.nnp);
	for (int i = 0; i < 5; i++) {
		p = field(cap_status[i]);
		unsigned long long have = field_num(&p, cap_status[i], 16);
		if (have & ~want.caps[i])
			fail("%s is %016llx, more than the expected %016llx", cap_status[i], have, want.caps[i]);
	}
	p = field("Seccomp_filters");
	return field_num(&p, "Seccomp_filters", 10);
}

int main(int argc, char **argv)
{
	if (argc < 4 || strncmp(argv[1], "--expect=", 9) != 0 || strcmp(argv[2], "--") != 0)
		fail("usage: runh-init --expect=uid=U,gid=G,groups=G:G,inh=X,prm=X,eff=X,bnd=X,amb=X,nnp=1 -- COMMAND [ARG...]");
	parse_expect(argv[1] + 9);
	unsigned long long before = check_identity();

	size_t size = slurp(FILTER_PATH, (char *)insns, sizeof(insns));
	if (size == 0 || size % sizeof(struct sock_filter) != 0)
		fail("%s is not a BPF program", FILTER_PATH);
	struct sock_fprog prog = {
		.len = (unsigned short)(size / sizeof(struct sock_filter)),
		.filter = insns,
	};
	/* runc has set no_new_privs (checked above), which lets the filter be
	 * installed without privilege. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		fail("seccomp(SECCOMP_SET_MODE_FILTER): %s", strerror(errno));

	/* Prove it: the call's 0 can be faked, the kernel's count cannot. */
	slurp(STATUS_PATH, status, sizeof(status));
	const char *p = field("Seccomp");
	unsigned long long mode = field_num(&p, "Seccomp", 10);
	p = field("Seccomp_filters");
	unsigned long long after = field_num(&p, "Seccomp_filters", 10);
	if (mode != 2 || after != before + 1)
		fail("runh's seccomp filter is not installed: Seccomp is %llu and Seccomp_filters %llu after seccomp(2), want 2 and %llu (was seccomp(2) answered by another filter?)",
		     mode, after, before + 1);

	execvp(argv[3], argv + 3);
	fail("%s: %s", argv[3], strerror(errno));
}
