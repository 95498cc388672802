/*
 * runh's front: the binary engines exec as "runh". It exists for speed:
 * containerd's shim, Docker and Podman call the runtime for state, start,
 * kill and delete many times per container, and a Go binary costs about
 * 1.2 ms to start on a small machine before it can exec runc. This front
 * starts in well under that.
 *
 * It decides one thing: is this call a plain pass-through of runc (only
 * runc's own global flags, then one of the commands runh passes through
 * unchanged)? Then it execs the real runc with argv unchanged, as runh-core
 * would. For anything else -- create, run, exec, update, runh's own
 * commands and flags, help, version, anything it does not recognise, or a
 * runc it cannot find -- it execs runh-core (the Go program next to it),
 * which decides and reports. So a mistake here can only send a call to the
 * slower path, never past the hardening: the commands that are hardened
 * are never in the pass-through list.
 *
 * The argv rules mirror runtime/argv.go (Parse) and the runc lookup
 * mirrors runtime/runc.go (FindRunc); runtime/front_test.go checks both
 * against the Go code on the same inputs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Must equal runtime/commands.go's PassThrough class. */
static const char *const passthrough[] = {
	"checkpoint", "delete", "events", "features", "kill", "list",
	"pause", "ps", "resume", "spec", "start", "state", NULL,
};
/* runc's global flags that take a value, and the boolean ones. Any other
 * flag (-v, -h, --runh-profile, unknown ones) goes to runh-core. */
static const char *const valued[] = { "log", "log-format", "root", "rootless", "criu", NULL };
static const char *const boolean[] = { "debug", "systemd-cgroup", NULL };

static int in(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && strncmp(s, *list, n) == 0)
			return 1;
	return 0;
}

static char self[PATH_MAX], dir[PATH_MAX];
static struct stat self_st;

/* usable: an executable regular file that is not this front. */
static int usable(const char *p)
{
	struct stat st;
	if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return 0;
	return !(st.st_dev == self_st.st_dev && st.st_ino == self_st.st_ino);
}

/* config_runc: the operator config's runc key, so that pass-through calls
 * run the runc that runh-core runs. It reads only a line `runc = "PATH"`
 * (PATH of [A-Za-z0-9/._+-], an optional # comment after it) before the
 * first [table]; profiles/config.go refuses a config whose runc key the Go
 * TOML reader sees differently (frontRunc), so the two never disagree.
 * Returns "" when the file or key is absent, NULL when runh-core must
 * decide (a file that is not root's alone, too large, or a runc line in
 * any other form): runh-core then reports why. */
static const char *config_runc(void)
{
	static char buf[65536 + 1], value[PATH_MAX];
	const char *path = "/etc/runh/config.toml";
#ifdef RUNH_TEST
	const char *env = getenv("RUNH_CONFIG");
	if (env && *env)
		path = env;
#endif
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? "" : NULL;
	struct stat st;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid()) &&
	    !(st.st_mode & 022) && st.st_size < (off_t)sizeof buf - 1)
		n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0 || n != st.st_size)
		return NULL;
	buf[n] = 0;
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *p = line + strspn(line, " \t");
		if (*p == '[')
			break;
		if (strncmp(p, "runc", 4) == 0 && (p[4] == ' ' || p[4] == '\t' || p[4] == '=')) {
			p += 4 + strspn(p + 4, " \t");
			if (*p++ != '=')
				return NULL;
			p += strspn(p, " \t");
			if (*p++ != '"')
				return NULL;
			size_t len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-");
			if (p[len] != '"' || len >= sizeof value)
				return NULL;
			memcpy(value, p, len);
			value[len] = 0;
			p += len + 1;
			p += strspn(p, " \t\r");
			if (*p && *p != '#')
				return NULL;
			return value;
		}
		line = next;
	}
	return "";
}

/* find_runc: the config's runc if it sets one, else runc next to this binary, else in the system's binary
 * directories (runtime/envhooks.go's runcDirs), never from the environment:
 * whoever sets runh's environment must not choose its runc. Test builds
 * (-DRUNH_TEST, as runtime/envhooks_runhtest.go) take $RUNH_RUNC first and
 * search $PATH. No runc at all, or an unusable $RUNH_RUNC: leave it to
 * runh-core, which says why. */
static const char *find_runc(void)
{
	static char buf[PATH_MAX];
	const char *configured = config_runc();
	if (!configured)
		return NULL;
#ifdef RUNH_TEST
	const char *env = getenv("RUNH_RUNC");
	if (env && *env)
		return env[0] == '/' && usable(env) ? env : NULL;
	const char *path = getenv("PATH");
#else
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
#endif
	if (*configured) {
		/* root's alone, as runh-core requires (profiles.RootOnlyPath
		 * also judges its directories): else runh-core says why. */
		struct stat st;
		if (configured[0] != '/' || lstat(configured, &st) != 0 || S_ISLNK(st.st_mode) ||
		    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) || !usable(configured))
			return NULL;
		return configured;
	}
	if (snprintf(buf, sizeof buf, "%s/runc", dir) < (int)sizeof buf && usable(buf))
		return buf;
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		if (n > 0 && path[0] == '/' && n + 6 < sizeof buf) {
			memcpy(buf, path, n);
			memcpy(buf + n, "/runc", 6);
			if (usable(buf))
				return buf;
		}
		path = end ? end + 1 : NULL;
	}
	return NULL;
}

/* runc's --log and --log-format as passes_through read them, for reporting
 * a failure to start runh-core where engines look. */
static const char *log_path, *log_format = "text";

/* passes_through: argv is runc's global flags and a pass-through command. */
static int passes_through(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strlen(a) < 2 || a[0] != '-' || strcmp(a, "--") == 0)
			return in(a, strlen(a), passthrough) &&
			       (strcmp(log_format, "text") == 0 || strcmp(log_format, "json") == 0);
		const char *name = a + 1;
		if (*name == '-')
			name++;
		const char *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		if (n == 0)
			return 0;
		if (in(name, n, boolean)) {
			if (eq && strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0)
				return 0;
			continue;
		}
		if (!in(name, n, valued))
			return 0;
		const char *value = eq ? eq + 1 : NULL;
		if (!eq) {
			if (i + 1 >= argc)
				return 0;
			value = argv[++i];
		}
		if (n == 10 && strncmp(name, "log-format", 10) == 0)
			log_format = value;
		if (n == 3 && strncmp(name, "log", 3) == 0)
			log_path = value;
	}
	return 0; /* no command: help, for runh-core */
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || stat(self, &self_st) != 0) {
		dprintf(2, "runh: cannot find its own binary: %s\n", strerror(errno));
		return 1;
	}
	self[n] = 0;
	memcpy(dir, self, (size_t)n + 1);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;

	if (passes_through(argc, argv)) {
		const char *runc = find_runc();
		if (runc) {
			argv[0] = (char *)runc;
			execv(runc, argv);
		}
	}

	/* runh-core finds runc the same way and must not pick this front
	 * (installed as "runc", say): tell it which binary that is. */
	char core[PATH_MAX];
	if (snprintf(core, sizeof core, "%s/runh-core", dir) >= (int)sizeof core) {
		dprintf(2, "runh: path too long: %s\n", dir);
		return 1;
	}
	setenv("RUNH_FRONT", self, 1);
	/* runh-core works on one goroutine for a few ms: with one P the Go
	 * runtime starts fewer threads, which saves ~0.2 ms and ~50 page faults
	 * a call on a 2-CPU VM. RUNH_FRONT_GOMAXPROCS tells runh-core to drop
	 * the variable again, so runc never sees one the caller did not set. */
	if (!getenv("GOMAXPROCS")) {
		setenv("GOMAXPROCS", "1", 1);
		setenv("RUNH_FRONT_GOMAXPROCS", "1", 1);
	}
	execv(core, argv);
	int err = errno;
	/* Where engines read errors: stderr, and runc's --log in its format. */
	char msg[PATH_MAX + 128];
	snprintf(msg, sizeof msg, "runh: cannot run %s: %s (install runh-core next to runh)", core, strerror(err));
	dprintf(2, "%s\n", msg);
	if (log_path) {
		FILE *f = fopen(log_path, "a");
		if (f) {
			char ts[64];
			time_t now = time(NULL);
			strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
			if (strcmp(log_format, "json") == 0)
				fprintf(f, "{\"level\":\"error\",\"msg\":\"runh: cannot run runh-core: %s\",\"time\":\"%s\"}\n", strerror(err), ts);
			else
				fprintf(f, "time=\"%s\" level=error msg=\"runh: cannot run runh-core: %s\"\n", ts, strerror(err));
			fclose(f);
		}
	}
	return 1;
}
