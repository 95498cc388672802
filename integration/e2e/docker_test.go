//go:build e2e

// Package e2e runs runh behind real engines. It needs root and installs
// nothing itself: `make e2e` installs the packages (docker.io) first.
// Each test starts its own private daemon under a temporary directory with
// --bridge=none --iptables=false, so the host's networking is untouched,
// and stops it by PID.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runh-dev/runh/internal/testenv"
)

var (
	repo, _ = filepath.Abs("../..")
	runhBin = filepath.Join(repo, "bin", "runh")
	runcBin = filepath.Join(repo, "bin", "runc")
)

func require(t testing.TB, ok bool, what string) {
	t.Helper()
	testenv.Require(t, ok, what, "run `make e2e` as root")
}

type dockerd struct {
	t    testing.TB
	dir  string
	sock string
	cmd  *exec.Cmd
}

// startDockerd starts a private dockerd with runh registered as "runh" and
// a busybox image imported as runh-e2e/busybox.
func startDockerd(t testing.TB) *dockerd {
	t.Helper()
	require(t, os.Geteuid() == 0, "root")
	_, err := exec.LookPath("dockerd")
	require(t, err == nil, "dockerd (apt-get install docker.io)")
	_, err1 := os.Stat(runhBin)
	_, err2 := os.Stat(runcBin)
	_, err3 := os.Stat(runhBin + "-core")
	require(t, err1 == nil && err2 == nil && err3 == nil, "bin/runh, bin/runh-core and bin/runc (make build)")
	// A short directory: the daemon's unix sockets live under it.
	dir, err := os.MkdirTemp("/tmp", "runh-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{t: t, dir: dir, sock: filepath.Join(dir, "docker.sock")}
	cfgPath := filepath.Join(dir, "daemon.json")
	// runc-pinned: plain runc 1.5.2, the baseline of make bench-clients.
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`{"storage-driver": "overlay2", "runtimes": {"runc-pinned": {"path": %q}}, "exec-opts": ["native.cgroupdriver=cgroupfs"]}`, runcBin)), 0o644)
	// Register runh the way an operator does.
	out, stderr, code := runBounded(nil, runhBin, "install", "docker", "--config", cfgPath, "--path", runhBin)
	if code != 0 || !strings.Contains(out, `registered runtime "runh"`) || !strings.Contains(out, "kill -HUP") {
		t.Fatalf("runh install docker: exit %d\n%s%s", code, out, stderr)
	}
	// And the edge profile as its own runtime, runh-edge.
	out, stderr, code = runBounded(nil, runhBin, "install", "docker", "--profile", "edge", "--config", cfgPath, "--path", runhBin)
	if code != 0 || !strings.Contains(out, `registered runtime "runh-edge"`) {
		t.Fatalf("runh install docker --profile edge: exit %d\n%s%s", code, out, stderr)
	}
	// And the userns profile, runh-userns.
	out, stderr, code = runBounded(nil, runhBin, "install", "docker", "--profile", "userns", "--config", cfgPath, "--path", runhBin)
	if code != 0 || !strings.Contains(out, `registered runtime "runh-userns"`) {
		t.Fatalf("runh install docker --profile userns: exit %d\n%s%s", code, out, stderr)
	}
	logf, _ := os.Create(filepath.Join(dir, "dockerd.log"))
	d.cmd = exec.Command("dockerd", "--config-file", cfgPath,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", "unix://"+d.sock,
		"--bridge=none", "--iptables=false", "--ip6tables=false")
	// No RUNH_RUNC: runh finds the runc installed next to it, as on a node.
	d.cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	waitFor(t, "dockerd", time.Now().Add(60*time.Second), filepath.Join(dir, "dockerd.log"), func() bool {
		_, _, code := d.docker("info")
		return code == 0
	})
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(rootfs, busyboxLayer(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := d.docker("import", "--change", `CMD ["/bin/sh"]`, rootfs, "runh-e2e/busybox"); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	return d
}

// docker runs the docker client against the private daemon, bounded.
func (d *dockerd) docker(args ...string) (string, string, int) {
	return runBounded(nil, "docker", append([]string{"-H", "unix://" + d.sock}, args...)...)
}

func (d *dockerd) stop() {
	if ids, _, _ := d.docker("ps", "-aq"); strings.TrimSpace(ids) != "" {
		d.docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	stopDaemon(d.cmd)
	unmountUnder(d.dir)
	removeEmptyCgroups("docker")
}

const probe = `id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; touch /x 2>/dev/null && echo ROOT-RW || echo ROOT-RO; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max`

func TestDocker(t *testing.T) {
	d := startDockerd(t)
	img := "runh-e2e/busybox"

	t.Run("plain run is hardened", func(t *testing.T) {
		// Docker asks for root and its 14 default capabilities.
		out, stderr, code := d.docker("run", "--rm", "--runtime", "runh", img, "sh", "-c", probe)
		want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nROOT-RO\n512\n268435456\n"
		if code != 0 || out != want {
			t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %s", code, out, want, stderr)
		}
	})

	t.Run("runtime runh-edge runs the edge profile; annotations only tighten", func(t *testing.T) {
		out, stderr, code := d.docker("run", "--rm", "--runtime", "runh-edge", img, "sh", "-c", probe)
		want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nROOT-RO\n128\n67108864\n"
		if code != 0 || out != want {
			t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %s", code, out, want, stderr)
		}
		// docker run --annotation needs API 1.43 (Docker 24); Debian 12's
		// dockerd 20.10 has 1.41. The CRI test covers annotations there.
		if api, _, _ := d.docker("version", "-f", "{{.Server.APIVersion}}"); strings.TrimSpace(api) < "1.43" {
			t.Logf("dockerd API %s has no --annotation: only the runh-edge runtime is tested here", strings.TrimSpace(api))
			return
		}
		out, stderr, code = d.docker("run", "--rm", "--runtime", "runh-edge", "--annotation", "runh.io/memory=32Mi", img, "sh", "-c", probe)
		if want := strings.Replace(want, "67108864", "33554432", 1); code != 0 || out != want {
			t.Fatalf("runh.io/memory=32Mi: exit %d\nstdout %q\nwant   %q\nstderr %s", code, out, want, stderr)
		}
		_, stderr, code = d.docker("run", "--rm", "--runtime", "runh-edge", "--annotation", "runh.io/memory=4Gi", img, "true")
		if code == 0 || !strings.Contains(stderr, `runh: denied by profile "edge": annotations.runh.io/memory`) {
			t.Fatalf("runh.io/memory=4Gi: exit %d stderr %q", code, stderr)
		}
		t.Logf("docker shows: %s", strings.TrimSpace(stderr))
	})

	t.Run("runtime runh-userns runs an image that starts as root and drops to its user; restricted cannot", func(t *testing.T) {
		tarPath := filepath.Join(d.dir, "httpd.tar")
		if err := os.WriteFile(tarPath, httpdLayer(t), 0o644); err != nil {
			t.Fatal(err)
		}
		entry, _ := json.Marshal(httpdEntrypoint)
		if _, stderr, code := d.docker("import", "--change", "ENTRYPOINT "+string(entry), tarPath, "runh-e2e/httpd"); code != 0 {
			t.Fatalf("import: %s", stderr)
		}
		if _, stderr, code := d.docker("run", "-d", "--name", "web", "--runtime", "runh-userns", "runh-e2e/httpd"); code != 0 {
			t.Fatalf("run -d: %s", stderr)
		}
		defer d.docker("rm", "-f", "web")
		var page string
		waitFor(t, "httpd in web", time.Now().Add(20*time.Second), filepath.Join(d.dir, "dockerd.log"), func() bool {
			page, _, _ = d.docker("exec", "web", "wget", "-qO-", "http://127.0.0.1/")
			return page == "hello from www\n"
		})
		// Inside: the server runs as www, docker exec as root is root of
		// the container's own namespace.
		out, stderr, code := d.docker("exec", "web", "sh", "-c", "ps -o user,args | grep '[h]ttpd'; id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status")
		if code != 0 || !strings.Contains(out, "www ") || !strings.Contains(out, "\n0\nNoNewPrivs:\t1\nSeccomp:\t2\n") {
			t.Fatalf("exec: exit %d %q %s", code, out, stderr)
		}
		// The host: the init (root inside) is an unprivileged pool id.
		pidStr, _, _ := d.docker("inspect", "-f", "{{.State.Pid}}", "web")
		uidMap, err := os.ReadFile("/proc/" + strings.TrimSpace(pidStr) + "/uid_map")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(uidMap))
		host, _ := strconv.ParseUint(f[1], 10, 32)
		if len(f) != 3 || f[0] != "0" || host < 1<<30+65536 || f[2] != "65536" {
			t.Fatalf("uid_map %q: want 0 -> a range of the default pool (from 2^30+65536)", uidMap)
		}
		status, _ := os.ReadFile("/proc/" + strings.TrimSpace(pidStr) + "/status")
		t.Logf("runh-userns: page %q; host uid_map %s; host %s", page, strings.Join(f, " "), grepLine(string(status), "Uid:"))

		// restricted: root becomes 65534, which cannot switch to www.
		out, stderr, code = d.docker("run", "--rm", "--runtime", "runh", "runh-e2e/httpd")
		if code == 0 {
			t.Fatalf("restricted ran the root-dropping server: %q", out)
		}
		t.Logf("runh (restricted): exit %d: %s", code, strings.TrimSpace(out+stderr))
	})

	t.Run("too much is refused and docker shows why", func(t *testing.T) {
		os.WriteFile(filepath.Join(d.dir, "fake.sock"), nil, 0o600)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--privileged"}, `(rule devices)`},
			{[]string{"-v", d.sock + ":/s"}, `bind mount of container engine socket ` + d.sock + ` is not allowed (rule host-mounts)`},
			{[]string{"-v", "/:/host"}, `bind mount of host path / is not allowed (rule host-mounts)`},
		} {
			_, stderr, code := d.docker(append(append([]string{"run", "--rm", "--runtime", "runh"}, tc.args...), img, "true")...)
			if code == 0 || !strings.Contains(stderr, `runh: denied by profile "restricted": `) || !strings.Contains(stderr, tc.want) {
				t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
			}
			t.Logf("docker shows: %s", strings.TrimSpace(stderr))
		}
	})

	t.Run("host pid namespace is replaced by a private one", func(t *testing.T) {
		// Docker leaves the pid namespace out; runh adds a private one
		// (joining the host's by path would be refused instead).
		out, stderr, code := d.docker("run", "--rm", "--runtime", "runh", "--pid", "host", img, "sh", "-c", "echo $$")
		if code != 0 || out != "1\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, stderr)
		}
	})

	t.Run("exec as root or privileged is hardened", func(t *testing.T) {
		if _, stderr, code := d.docker("run", "-d", "--name", "long", "--runtime", "runh", img, "sleep", "300"); code != 0 {
			t.Fatalf("run -d: %s", stderr)
		}
		defer d.docker("rm", "-f", "long")
		for _, args := range [][]string{{"-u", "0"}, {"--privileged"}, {"-u", "0", "--privileged"}} {
			out, stderr, code := d.docker(append(append([]string{"exec"}, args...), "long", "sh", "-c", "id -u; grep -E '^(CapEff|Seccomp):' /proc/self/status")...)
			if code != 0 || out != "65534\nCapEff:\t0000000000000000\nSeccomp:\t2\n" {
				t.Errorf("exec %v: exit %d stdout %q stderr %q", args, code, out, stderr)
			}
		}
		if _, stderr, code := d.docker("update", "--pids-limit", "100", "long"); code != 0 {
			t.Errorf("update within limits: %s", stderr)
		}
		if _, stderr, code := d.docker("update", "--pids-limit", "-1", "long"); code == 0 || !strings.Contains(stderr, "update would remove the pids limit") {
			t.Errorf("unlimited update: exit %d %s", code, stderr)
		}
		out, _, code := inTTY(fmt.Sprintf("docker -H unix://%s exec -it -u 0 long sh -c 'tty; id -u'", d.sock))
		if code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "65534") {
			t.Errorf("exec -it: exit %d output %q", code, out)
		}
		for _, step := range [][]string{{"pause", "long"}, {"unpause", "long"}} {
			if _, stderr, code := d.docker(step...); code != 0 {
				t.Errorf("%v: %s", step, stderr)
			}
		}
		// sleep is pid 1 and has no SIGTERM handler: stop must escalate
		// to SIGKILL after the timeout.
		start := time.Now()
		if _, stderr, code := d.docker("stop", "-t", "1", "long"); code != 0 {
			t.Errorf("stop: %s", stderr)
		}
		if out, _, _ := d.docker("inspect", "-f", "{{.State.ExitCode}}", "long"); strings.TrimSpace(out) != "137" || time.Since(start) < time.Second {
			t.Errorf("stop: exit code %q after %v, want 137 after the 1 s timeout", out, time.Since(start))
		}
	})

	t.Run("tty run and kill with a handled signal", func(t *testing.T) {
		out, stderr, code := d.docker("run", "--rm", "-t", "--runtime", "runh", img, "sh", "-c", "tty; id -u")
		if code != 0 || !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "65534") {
			t.Errorf("run -t: exit %d stdout %q stderr %q", code, out, stderr)
		}
		if _, stderr, code := d.docker("run", "-d", "--name", "trap", "--runtime", "runh", img, "sh", "-c", "trap 'exit 3' USR1; while :; do sleep 0.1; done"); code != 0 {
			t.Fatalf("run -d: %s", stderr)
		}
		defer d.docker("rm", "-f", "trap")
		time.Sleep(300 * time.Millisecond)
		if _, stderr, code := d.docker("kill", "-s", "USR1", "trap"); code != 0 {
			t.Fatalf("kill: %s", stderr)
		}
		if out, _, _ := d.docker("wait", "trap"); strings.TrimSpace(out) != "3" {
			t.Errorf("after kill -s USR1: exit %q, want the trap's 3", out)
		}
	})
}

// grepLine is the first line of s that starts with prefix.
func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
