//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	crictlBin = filepath.Join(repo, "bin", "crictl")
	// containerd 2.4.2, built from the module proxy by `make e2e`.
	c2Dir = filepath.Join(repo, "bin", "containerd2")
)

// containerdEnv is a private containerd (Debian's 1.6, or 2.4.2) with runh
// registered by `runh install containerd` as the CRI runtime handler
// "runh": the path a Kubernetes RuntimeClass{handler: runh} takes.
type containerdEnv struct {
	t        testing.TB
	name     string // "1.6" or "2.4"
	dir      string
	sock     string
	binDir   string // containerd, ctr and containerd-shim-runc-v2
	cmd      *exec.Cmd
	crictlCf string
	bridge   string
}

// Both versions' configs, before runh is added: the CRI plugin moved in
// config version 3, and so did the sandbox image setting.
const (
	containerdConfigV2 = `version = 2
root = "%[1]s/root"
state = "%[1]s/state"
[grpc]
  address = "%[2]s"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/runh-e2e/pause:latest"
  # no CAP_SYS_RESOURCE on this VM (see ../shared/recipes)
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "%[3]s"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%[1]s/net.d"
`
	containerdConfigV3 = `version = 3
root = "%[1]s/root"
state = "%[1]s/state"
[grpc]
  address = "%[2]s"
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "docker.io/runh-e2e/pause:latest"
[plugins."io.containerd.cri.v1.runtime"]
  # no CAP_SYS_RESOURCE on this VM (see ../shared/recipes)
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "%[3]s"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "%[1]s/net.d"
`
)

func startContainerd(t testing.TB, name string) *containerdEnv {
	t.Helper()
	require(t, os.Geteuid() == 0, "root")
	e := &containerdEnv{t: t, name: name}
	config, subnet := containerdConfigV2, "10.231.78.0/24"
	e.binDir, e.bridge = "/usr/bin", "runhe2e16"
	if name == "2.4" {
		config, subnet = containerdConfigV3, "10.231.79.0/24"
		e.binDir, e.bridge = c2Dir, "runhe2e24"
	}
	_, err := os.Stat(filepath.Join(e.binDir, "containerd"))
	require(t, err == nil, "containerd "+name+" in "+e.binDir+" (make e2e installs it)")
	_, err = os.Stat("/usr/lib/cni/bridge")
	require(t, err == nil, "CNI plugins (apt-get install containernetworking-plugins)")
	_, err = os.Stat(crictlBin)
	require(t, err == nil, "bin/crictl (make e2e installs it)")
	dir, err := os.MkdirTemp("/tmp", "runh-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	e.dir, e.sock = dir, filepath.Join(dir, "containerd.sock")
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Logf("containerd log:\n%s", tail(string(log), 30))
		}
		e.stop()
	})
	os.MkdirAll(filepath.Join(dir, "net.d"), 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cfgPath := e.write("config.toml", fmt.Sprintf(config, dir, e.sock, runcBin))
	// Register runh the way an operator does.
	out, stderr, code := runBounded(nil, runhBin, "install", "containerd", "--config", cfgPath, "--path", runhBin)
	if code != 0 || !strings.Contains(out, `registered runtime "runh"`) || !strings.Contains(out, "systemctl restart containerd") {
		t.Fatalf("runh install containerd: exit %d\n%s%s", code, out, stderr)
	}
	// And the edge profile as its own handler, runh-edge.
	out, stderr, code = runBounded(nil, runhBin, "install", "containerd", "--profile", "edge", "--config", cfgPath, "--path", runhBin)
	if code != 0 || !strings.Contains(out, `registered runtime "runh-edge"`) {
		t.Fatalf("runh install containerd --profile edge: exit %d\n%s%s", code, out, stderr)
	}
	// And the userns profile, runh-userns.
	out, stderr, code = runBounded(nil, runhBin, "install", "containerd", "--profile", "userns", "--config", cfgPath, "--path", runhBin)
	if code != 0 || !strings.Contains(out, `registered runtime "runh-userns"`) {
		t.Fatalf("runh install containerd --profile userns: exit %d\n%s%s", code, out, stderr)
	}
	e.write("net.d/10-runh.conflist", fmt.Sprintf(`{"cniVersion":"1.0.0","name":"runh-e2e-%s","plugins":[{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":%q}]]}}]}`,
		e.bridge, e.bridge, subnet))
	e.crictlCf = e.write("crictl.yaml", fmt.Sprintf("runtime-endpoint: unix://%[1]s\nimage-endpoint: unix://%[1]s\ntimeout: 30\n", e.sock))
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	e.cmd = exec.Command(filepath.Join(e.binDir, "containerd"), "--config", cfgPath, "--log-level", "info")
	// The daemon finds its own shim on PATH first (2.4's next to it). No
	// RUNH_RUNC: runh finds the runc installed next to it, as on a node.
	e.cmd.Env = []string{"PATH=" + e.binDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	logPath := filepath.Join(dir, "containerd.log")
	waitFor(t, "containerd "+name, deadline, logPath, func() bool {
		_, _, code := e.ctr("version")
		return code == 0
	})
	// The CRI service comes up after containerd's own API.
	waitFor(t, "CRI", deadline, logPath, func() bool {
		_, _, code := e.crictl("version")
		return code == 0
	})
	layer, httpd := busyboxLayer(t), httpdLayer(t)
	for _, img := range []struct {
		ns, ref string
		layer   []byte
		ep      []string
	}{
		{"k8s.io", "docker.io/runh-e2e/busybox:latest", layer, []string{"/bin/sh"}},
		{"k8s.io", "docker.io/runh-e2e/pause:latest", layer, []string{"/bin/sleep", "2147483647"}},
		{"k8s.io", "docker.io/runh-e2e/httpd:latest", httpd, httpdEntrypoint},
		{"default", "docker.io/runh-e2e/busybox:latest", layer, []string{"/bin/sh"}},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(img.ref, "/", "_")+".tar")
		ociArchive(t, p, img.ref, img.layer, img.ep)
		if _, stderr, code := e.ctrNS(img.ns, "image", "import", p); code != 0 {
			t.Fatalf("import %s: %s", img.ref, stderr)
		}
	}
	return e
}

func (e *containerdEnv) ctrNS(ns string, args ...string) (string, string, int) {
	return runBounded(nil, filepath.Join(e.binDir, "ctr"), append([]string{"--address", e.sock, "-n", ns}, args...)...)
}

func (e *containerdEnv) ctr(args ...string) (string, string, int) { return e.ctrNS("default", args...) }

func (e *containerdEnv) crictl(args ...string) (string, string, int) {
	out, errb, code := runBounded(nil, crictlBin, append([]string{"--config", e.crictlCf}, args...)...)
	return strings.TrimSpace(out), errb, code
}

func (e *containerdEnv) write(name, content string) string {
	p := filepath.Join(e.dir, name)
	os.WriteFile(p, []byte(content), 0o644)
	return p
}

func (e *containerdEnv) stop() {
	if pods, _, _ := e.crictl("pods", "-q"); pods != "" {
		for _, p := range strings.Fields(pods) {
			e.crictl("stopp", p)
			e.crictl("rmp", p)
		}
	}
	if tasks, _, _ := e.ctr("task", "ls", "-q"); tasks != "" {
		for _, id := range strings.Fields(tasks) {
			e.ctr("task", "kill", "-s", "SIGKILL", id)
			e.ctr("task", "delete", "-f", id)
		}
	}
	if cs, _, _ := e.ctr("container", "ls", "-q"); cs != "" {
		e.ctr(append([]string{"container", "rm"}, strings.Fields(cs)...)...)
	}
	if e.cmd != nil && e.cmd.Process != nil {
		stopDaemon(e.cmd)
	}
	unmountUnder(e.dir)
	removeEmptyCgroups("default", "k8s.io")
	exec.Command("ip", "link", "del", e.bridge).Run()
	os.RemoveAll("/var/lib/cni/networks/runh-e2e-" + e.bridge) // host-local IPAM state
}

// inTTY runs a command under script(1), which gives it a pseudo-terminal:
// the CI machine has none.
func inTTY(command string) (string, string, int) {
	return runBounded(nil, "script", "-qec", command, "/dev/null")
}

func TestContainerd16(t *testing.T) { testContainerd(t, "1.6") }
func TestContainerd24(t *testing.T) { testContainerd(t, "2.4") }

func testContainerd(t *testing.T, name string) {
	e := startContainerd(t, name)
	t.Run("ctr", func(t *testing.T) { testCtr(t, e) })
	t.Run("cri", func(t *testing.T) { testCRI(t, e) })
	if name == "2.4" {
		t.Run("features probe", func(t *testing.T) {
			// containerd 2.x asks the runtime for its features (the shim
			// runs "BinaryName features") before it uses a handler.
			out, stderr, code := e.ctr("plugins", "inspect-runtime", "--runtime", "io.containerd.runc.v2", "--runc-binary", runhBin)
			if code != 0 || !strings.Contains(out, `"ociVersionMin"`) || !strings.Contains(out, `"seccomp"`) {
				t.Fatalf("inspect-runtime: exit %d\n%s\n%s", code, out, stderr)
			}
			out, stderr, code = e.crictl("info")
			if code != 0 || !strings.Contains(out, `"name": "runh"`) {
				t.Fatalf("crictl info has no runh handler: exit %d %s\n%s", code, stderr, tail(out, 40))
			}
		})
	}
}

func testCtr(t *testing.T, e *containerdEnv) {
	img := "docker.io/runh-e2e/busybox:latest"
	rb := []string{"--runc-binary", runhBin}
	run := func(args ...string) (string, string, int) {
		return e.ctr(append(append([]string{"run", "--rm"}, rb...), args...)...)
	}
	t.Run("plain run is hardened", func(t *testing.T) {
		// ctr's default spec: root with the default capabilities, no
		// seccomp, and no cgroup mount (the limits are read from the host
		// below).
		out, stderr, code := run(img, "plain", "sh", "-c", strings.SplitN(probe, "; cat", 2)[0])
		want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nROOT-RO\n"
		if code != 0 || out != want {
			t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %s", code, out, want, stderr)
		}
	})
	t.Run("too much is refused and ctr shows why", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--privileged"}, "(rule devices)"},
			{[]string{"--mount", "type=bind,src=/,dst=/host,options=rbind:ro"}, "bind mount of host path / is not allowed (rule host-mounts)"},
		} {
			_, stderr, code := run(append(tc.args, img, "refused", "true")...)
			if code == 0 || !strings.Contains(stderr, `runh: denied by profile \"restricted\"`) && !strings.Contains(stderr, `runh: denied by profile "restricted"`) || !strings.Contains(stderr, tc.want) {
				t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
			}
			t.Logf("ctr %s shows: %s", e.name, strings.TrimSpace(stderr))
			e.ctr("container", "rm", "refused")
		}
	})
	t.Run("tty run", func(t *testing.T) {
		out, _, code := inTTY(fmt.Sprintf("%s --address %s run --rm -t --runc-binary %s %s ttyrun sh -c 'tty; id -u'", filepath.Join(e.binDir, "ctr"), e.sock, runhBin, img))
		if code != 0 || !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "65534") {
			t.Fatalf("exit %d output %q", code, out)
		}
	})
	t.Run("exec, pause, kill", func(t *testing.T) {
		if _, stderr, code := e.ctr(append(append([]string{"run", "-d"}, rb...), img, "long", "sleep", "300")...); code != 0 {
			t.Fatalf("run -d: %s", stderr)
		}
		if got := hostLimits(t, e, "long"); got != "512 268435456" {
			t.Errorf("pids and memory limits seen from the host: %s", got)
		}
		out, stderr, code := e.ctr("task", "exec", "--exec-id", "e1", "--user", "0", "long", "sh", "-c", "id -u; grep -E '^(CapEff|Seccomp):' /proc/self/status")
		if code != 0 || out != "65534\nCapEff:\t0000000000000000\nSeccomp:\t2\n" {
			t.Errorf("exec --user 0: exit %d stdout %q stderr %q", code, out, stderr)
		}
		out, _, code = inTTY(fmt.Sprintf("%s --address %s task exec -t --exec-id e2 long sh -c 'tty; id -u'", filepath.Join(e.binDir, "ctr"), e.sock))
		if code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "65534") {
			t.Errorf("tty exec: exit %d output %q", code, out)
		}
		for _, step := range [][]string{{"task", "pause", "long"}, {"task", "resume", "long"}} {
			if _, stderr, code := e.ctr(step...); code != 0 {
				t.Errorf("%v: %s", step, stderr)
			}
		}
		// sleep is pid 1: SIGTERM has no handler and is ignored, so a stop
		// needs the SIGKILL that follows.
		e.ctr("task", "kill", "long")
		time.Sleep(500 * time.Millisecond)
		if out, _, _ := e.ctr("task", "ls"); !strings.Contains(out, "RUNNING") {
			t.Errorf("pid 1 died of an unhandled SIGTERM: %s", out)
		}
		e.ctr("task", "kill", "-s", "SIGKILL", "long")
		waitStopped(t, e, "long")
	})
	t.Run("kill with a signal the container handles", func(t *testing.T) {
		if _, stderr, code := e.ctr(append(append([]string{"run", "-d"}, rb...), img, "trap", "sh", "-c", "trap 'exit 3' USR1; while :; do sleep 0.1; done")...); code != 0 {
			t.Fatalf("run -d: %s", stderr)
		}
		time.Sleep(300 * time.Millisecond)
		if _, stderr, code := e.ctr("task", "kill", "-s", "SIGUSR1", "trap"); code != 0 {
			t.Fatalf("kill: %s", stderr)
		}
		waitStopped(t, e, "trap")
	})
}

// hostLimits reads a ctr task's pids.max and memory limit from the host's
// cgroup v1 hierarchy.
func hostLimits(t *testing.T, e *containerdEnv, id string) string {
	t.Helper()
	out, _, _ := e.ctr("task", "ls")
	var pid string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == id {
			pid = f[1]
		}
	}
	data, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	var limits []string
	for _, c := range []struct{ ctl, file string }{{"pids", "pids.max"}, {"memory", "memory.limit_in_bytes"}} {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[1] == c.ctl {
				v, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", c.ctl, f[2], c.file))
				limits = append(limits, strings.TrimSpace(string(v)))
			}
		}
	}
	return strings.Join(limits, " ")
}

// waitStopped waits for a ctr task to stop, then deletes it.
func waitStopped(t *testing.T, e *containerdEnv, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, _ := e.ctr("task", "ls")
		if !strings.Contains(out, id) || strings.Contains(out, "STOPPED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not stop: %s", id, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.ctr("task", "delete", id)
	e.ctr("container", "rm", id)
}

func testCRI(t *testing.T, e *containerdEnv) {
	podWith := func(name, annotations, extra string) string {
		return e.write(name+"-pod.json", fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"default","uid":"%s-uid","attempt":1},"log_directory":%q,"annotations":{%s},"linux":{%s}}`,
			name, name, filepath.Join(e.dir, "logs"), annotations, extra))
	}
	pod := func(name, extra string) string { return podWith(name, "", extra) }
	ctr := func(name, cmd, extra string) string {
		return e.write(name+"-ctr.json", fmt.Sprintf(`{"metadata":{"name":%q},"image":{"image":"docker.io/runh-e2e/busybox:latest"},"command":["sh","-c",%q],"log_path":"%s.log","linux":{}%s}`,
			name, cmd, name, extra))
	}
	run := func(podCfg, ctrCfg string) (podID, ctrID, stderr string, code int) {
		podID, stderr, code = e.crictl("runp", "--runtime", "runh", podCfg)
		if code != 0 {
			return
		}
		ctrID, stderr, code = e.crictl("create", podID, ctrCfg, podCfg)
		if code != 0 {
			return
		}
		_, stderr, code = e.crictl("start", ctrID)
		return
	}
	logOf := func(name string) string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			data, _ := os.ReadFile(filepath.Join(e.dir, "logs", name+".log"))
			if strings.Contains(string(data), "DONE") || time.Now().After(deadline) {
				var lines []string
				for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
					if f := strings.SplitN(l, " ", 4); len(f) == 4 {
						lines = append(lines, f[3])
					}
				}
				return strings.Join(lines, "\n")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Nothing is asked for: the CRI default is the image's user (root)
	// with containerd's default capabilities, and no limits.
	const podProbe = `id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; touch /x 2>/dev/null && echo ROOT-RW || echo ROOT-RO; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; ip -4 addr show eth0 | grep -c 10.231.7; echo DONE; sleep 300`

	t.Run("pod on the CNI bridge, container joins the pod's namespaces, hardened", func(t *testing.T) {
		podID, ctrID, stderr, code := run(pod("cni", ""), ctr("c1", podProbe, ""))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nROOT-RO\n512\n268435456\n1\nDONE"
		if got := logOf("c1"); got != want {
			t.Fatalf("container output %q, want %q", got, want)
		}
		out, stderr, code := e.crictl("exec", ctrID, "sh", "-c", "id -u; grep CapEff /proc/self/status")
		if code != 0 || out != "65534\nCapEff:\t0000000000000000" {
			t.Errorf("crictl exec: %d %q %s", code, out, stderr)
		}
		out, _, code = inTTY(fmt.Sprintf("%s --config %s exec -it %s sh -c 'tty; id -u'", crictlBin, e.crictlCf, ctrID))
		if code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "65534") {
			t.Errorf("crictl exec -it: exit %d output %q", code, out)
		}
		// Within the profile's limits an update works...
		if _, stderr, code := e.crictl("update", "--memory", "134217728", ctrID); code != 0 {
			t.Errorf("update --memory 128MiB: %s", stderr)
		}
		if out, _, _ := e.crictl("exec", ctrID, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"); out != "134217728" {
			t.Errorf("memory limit after update: %q", out)
		}
		// ...and a hostPath mount of / is refused, and crictl shows why.
		c2, _, _ := e.crictl("create", podID, ctr("c2", "true", `,"mounts":[{"container_path":"/host","host_path":"/"}]`), pod("cni", ""))
		_, stderr, code = e.crictl("start", c2)
		if code == 0 || !strings.Contains(stderr, `runh: denied by profile \"restricted\"`) || !strings.Contains(stderr, "bind mount of host path / is not allowed (rule host-mounts)") {
			t.Errorf("hostPath /: exit %d, stderr %q", code, stderr)
		}
		t.Logf("crictl on containerd %s shows: %s", e.name, strings.TrimSpace(stderr))
	})

	t.Run("handler runh-edge with pod annotations that only tighten", func(t *testing.T) {
		p := podWith("edgepod", `"runh.io/memory":"32Mi"`, "")
		podID, stderr, code := e.crictl("runp", "--runtime", "runh-edge", p)
		if code != 0 {
			t.Fatalf("runp: exit %d: %s", code, stderr)
		}
		ctrID, stderr, code := e.crictl("create", podID, ctr("edge1", podProbe, ""), p)
		if code == 0 {
			_, stderr, code = e.crictl("start", ctrID)
		}
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nROOT-RO\n128\n33554432\n1\nDONE"
		if got := logOf("edge1"); got != want {
			t.Fatalf("container output %q, want %q", got, want)
		}
		// A higher limit is refused, and crictl shows the annotation.
		_, stderr, code = e.crictl("runp", "--runtime", "runh-edge", podWith("bigpod", `"runh.io/memory":"4Gi"`, ""))
		if code == 0 || !strings.Contains(stderr, "annotations.runh.io/memory") || !strings.Contains(stderr, `runh: denied by profile \"edge\"`) {
			t.Fatalf("runh.io/memory 4Gi: exit %d, stderr %q", code, stderr)
		}
		t.Logf("crictl on containerd %s shows: %s", e.name, strings.TrimSpace(stderr))
	})

	t.Run("handler runh-userns: a root-dropping server and a probe share the pod's user namespace", func(t *testing.T) {
		// containerd 2.x sets ip_unprivileged_port_start=0 on every pod
		// (enable_unprivileged_ports); 1.6 needs the pod to ask. The pod's
		// network namespace is containerd's (CNI), owned by the host's user
		// namespace, where the container's root holds no capability.
		p := pod("userpod", `"sysctls":{"net.ipv4.ip_unprivileged_port_start":"0"}`)
		podID, stderr, code := e.crictl("runp", "--runtime", "runh-userns", p)
		if code != 0 {
			t.Fatalf("runp: exit %d: %s", code, stderr)
		}
		web := e.write("web-ctr.json", `{"metadata":{"name":"web"},"image":{"image":"docker.io/runh-e2e/httpd:latest"},"log_path":"web.log","linux":{}}`)
		probe := ctr("uprobe", `id -u; cat /proc/self/uid_map; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1/ && break; sleep 0.5; done; echo DONE; sleep 300`, "")
		var ids []string
		for _, c := range []string{web, probe} {
			id, stderr, code := e.crictl("create", podID, c, p)
			if code == 0 {
				_, stderr, code = e.crictl("start", id)
			}
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", c, code, stderr)
			}
			ids = append(ids, id)
		}
		got := logOf("uprobe")
		lines := strings.Split(got, "\n")
		if len(lines) != 4 || lines[0] != "0" || lines[2] != "hello from www" || lines[3] != "DONE" {
			t.Fatalf("probe output %q", got)
		}
		// Both containers and the sandbox are in one user namespace with
		// one pool range.
		var userns, maps []string
		for _, id := range append([]string{podID}, ids...) {
			what := "{{.info.pid}}"
			args := []string{"inspect", "-o", "go-template", "--template", what, id}
			if id == podID {
				args[0] = "inspectp"
			}
			pid, _, _ := e.crictl(args...)
			ns, err := os.Readlink("/proc/" + pid + "/ns/user")
			m, _ := os.ReadFile("/proc/" + pid + "/uid_map")
			if err != nil {
				t.Fatalf("pid %q of %s: %v", pid, id, err)
			}
			userns, maps = append(userns, ns), append(maps, strings.Join(strings.Fields(string(m)), " "))
		}
		own, _ := os.Readlink("/proc/self/ns/user")
		if userns[0] == own || userns[1] != userns[0] || userns[2] != userns[0] || maps[1] != maps[0] || maps[2] != maps[0] || strings.Fields(lines[1])[1] != strings.Fields(maps[0])[1] {
			t.Fatalf("user namespaces %v (host %s), uid maps %v, probe sees %q", userns, own, maps, lines[1])
		}
		t.Logf("pod %s: sandbox, web and probe share %s, uid_map %s; probe got %q", podID[:12], userns[0], maps[0], lines[2])

		// Under restricted the same server cannot drop to www: it exits.
		rp := pod("restrictedweb", `"sysctls":{"net.ipv4.ip_unprivileged_port_start":"0"}`)
		rpod, stderr, code := e.crictl("runp", "--runtime", "runh", rp)
		if code != 0 {
			t.Fatalf("runp: %s", stderr)
		}
		rweb := e.write("rweb-ctr.json", `{"metadata":{"name":"rweb"},"image":{"image":"docker.io/runh-e2e/httpd:latest"},"log_path":"rweb.log","linux":{}}`)
		id, stderr, code := e.crictl("create", rpod, rweb, rp)
		if code == 0 {
			_, stderr, code = e.crictl("start", id)
		}
		if code != 0 {
			t.Fatalf("restricted web: %s", stderr)
		}
		var state string
		waitFor(t, "restricted web to exit", time.Now().Add(10*time.Second), filepath.Join(e.dir, "containerd.log"), func() bool {
			state, _, _ = e.crictl("inspect", "-o", "go-template", "--template", "{{.status.state}} {{.status.exitCode}}", id)
			return strings.HasPrefix(state, "CONTAINER_EXITED")
		})
		if state == "CONTAINER_EXITED 0" {
			t.Fatalf("restricted: %s", state)
		}
		log, _ := os.ReadFile(filepath.Join(e.dir, "logs", "rweb.log"))
		t.Logf("handler runh (restricted): %s: %s", state, strings.TrimSpace(string(log)))
	})

	t.Run("stop sends SIGTERM, then SIGKILL after the timeout", func(t *testing.T) {
		// The container ignores SIGTERM, so only the KILL ends it.
		_, ctrID, stderr, code := run(pod("stoppod", ""), ctr("stopme", "trap '' TERM; echo DONE; sleep 300", ""))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		logOf("stopme")
		start := time.Now()
		if _, stderr, code := e.crictl("stop", "-t", "2", ctrID); code != 0 {
			t.Errorf("stop: %s", stderr)
		}
		took := time.Since(start)
		out, _, _ := e.crictl("inspect", "-o", "go-template", "--template", "{{.status.state}} {{.status.exitCode}}", ctrID)
		if out != "CONTAINER_EXITED 137" || took < 2*time.Second || took > 20*time.Second {
			t.Errorf("after stop: %q in %v, want killed after the 2 s timeout", out, took)
		}
	})

	t.Run("tty container", func(t *testing.T) {
		_, ctrID, stderr, code := run(pod("ttypod", ""), ctr("tty1", "tty; echo DONE; sleep 300", `,"tty":true,"stdin":true`))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := logOf("tty1"); !strings.Contains(got, "/dev/pts/0") {
			t.Errorf("tty container output %q", got)
		}
		e.crictl("stop", "-t", "0", ctrID)
	})

	t.Run("host-network pod runs, in a private network namespace", func(t *testing.T) {
		_, _, stderr, code := run(pod("hostnet", `"security_context":{"namespace_options":{"network":2}}`),
			ctr("c3", "ip -4 addr | grep -c inet; echo DONE; sleep 300", ""))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		// Only loopback: runh gave it its own network namespace.
		if got := logOf("c3"); got != "1\nDONE" {
			t.Fatalf("container output %q", got)
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
