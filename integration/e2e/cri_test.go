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

var crictlBin = filepath.Join(repo, "bin", "crictl")

type criEnv struct {
	t        *testing.T
	dir      string
	sock     string
	cmd      *exec.Cmd
	crictlCf string
}

// startContainerd starts a private containerd (CRI plugin) with a runtime
// handler "runh": the path a Kubernetes RuntimeClass{handler: runh} takes.
// Pods use a CNI bridge of their own (no masquerade, no iptables rules).
func startContainerd(t *testing.T) *criEnv {
	t.Helper()
	require(t, os.Geteuid() == 0, "root")
	_, err := exec.LookPath("containerd")
	require(t, err == nil, "containerd (apt-get install containerd)")
	_, err = os.Stat("/usr/lib/cni/bridge")
	require(t, err == nil, "CNI plugins (apt-get install containernetworking-plugins)")
	_, err = os.Stat(crictlBin)
	require(t, err == nil, "bin/crictl (make e2e installs it)")
	dir, err := os.MkdirTemp("/tmp", "runh-cri-")
	if err != nil {
		t.Fatal(err)
	}
	e := &criEnv{t: t, dir: dir, sock: filepath.Join(dir, "containerd.sock")}
	os.MkdirAll(filepath.Join(dir, "net.d"), 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cfg := fmt.Sprintf(`version = 2
root = "%[1]s/root"
state = "%[1]s/state"
[grpc]
  address = "%[2]s"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/runh-e2e/pause:latest"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "%[4]s"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runh]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["runh.io/*"]
      container_annotations = ["runh.io/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runh.options]
        BinaryName = "%[3]s"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%[1]s/net.d"
`, dir, e.sock, runhBin, runcBin)
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "net.d", "10-runh.conflist"), []byte(`{"cniVersion":"1.0.0","name":"runh-e2e","plugins":[{"type":"bridge","bridge":"runhe2e0","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.231.78.0/24"}]]}}]}`), 0o644)
	e.crictlCf = filepath.Join(dir, "crictl.yaml")
	os.WriteFile(e.crictlCf, []byte(fmt.Sprintf("runtime-endpoint: unix://%[1]s\nimage-endpoint: unix://%[1]s\ntimeout: 30\n", e.sock)), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	e.cmd = exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"), "--log-level", "info")
	e.cmd.Env = append(os.Environ(), "RUNH_RUNC="+runcBin)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Logf("containerd log:\n%s", tail(string(log), 30))
		}
		e.stop()
	})
	deadline := time.Now().Add(30 * time.Second)
	logPath := filepath.Join(dir, "containerd.log")
	waitFor(t, "containerd", deadline, logPath, func() bool {
		return exec.Command("ctr", "--address", e.sock, "version").Run() == nil
	})
	// The CRI service comes up after containerd's own API.
	waitFor(t, "CRI", deadline, logPath, func() bool {
		_, _, code := e.crictl("version")
		return code == 0
	})
	layer := busyboxLayer(t)
	for _, img := range []struct {
		ref string
		ep  []string
	}{{"docker.io/runh-e2e/busybox:latest", []string{"/bin/sh"}}, {"docker.io/runh-e2e/pause:latest", []string{"/bin/sleep", "2147483647"}}} {
		p := filepath.Join(dir, strings.ReplaceAll(img.ref, "/", "_")+".tar")
		ociArchive(t, p, img.ref, layer, img.ep)
		if out, err := exec.Command("ctr", "--address", e.sock, "-n", "k8s.io", "image", "import", p).CombinedOutput(); err != nil {
			t.Fatalf("import %s: %v %s", img.ref, err, out)
		}
	}
	return e
}

func (e *criEnv) crictl(args ...string) (string, string, int) {
	out, errb, code := runBounded(nil, crictlBin, append([]string{"--config", e.crictlCf}, args...)...)
	return strings.TrimSpace(out), errb, code
}

func (e *criEnv) write(name, content string) string {
	p := filepath.Join(e.dir, name)
	os.WriteFile(p, []byte(content), 0o644)
	return p
}

func (e *criEnv) stop() {
	if pods, _, _ := e.crictl("pods", "-q"); pods != "" {
		for _, p := range strings.Fields(pods) {
			e.crictl("stopp", p)
			e.crictl("rmp", p)
		}
	}
	stopDaemon(e.cmd)
	unmountUnder(e.dir)
	exec.Command("ip", "link", "del", "runhe2e0").Run()
	os.RemoveAll("/var/lib/cni/networks/runh-e2e") // host-local IPAM state
}

func TestCRI(t *testing.T) {
	e := startContainerd(t)
	pod := func(name, extra string) string {
		return e.write(name+"-pod.json", fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"default","uid":"%s-uid","attempt":1},"log_directory":%q,"linux":{%s}}`,
			name, name, filepath.Join(e.dir, "logs"), extra))
	}
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
	const probe = `id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; ip -4 addr show eth0 | grep -c 10.231.78; echo DONE; sleep 300`

	t.Run("pod on the CNI bridge, container joins the pod's namespaces, hardened", func(t *testing.T) {
		podID, ctrID, stderr, code := run(pod("cni", ""), ctr("c1", probe, ""))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n1\nDONE"
		if got := logOf("c1"); got != want {
			t.Fatalf("container output %q, want %q", got, want)
		}
		out, stderr, code := e.crictl("exec", ctrID, "sh", "-c", "id -u; grep CapEff /proc/self/status")
		if code != 0 || out != "65534\nCapEff:\t0000000000000000" {
			t.Errorf("crictl exec: %d %q %s", code, out, stderr)
		}
		// A hostPath mount of / is refused, and crictl shows why.
		c2, _, _ := e.crictl("create", podID, ctr("c2", "true", `,"mounts":[{"container_path":"/host","host_path":"/"}]`), pod("cni", ""))
		_, stderr, code = e.crictl("start", c2)
		if code == 0 || !strings.Contains(stderr, `runh: denied by profile \"restricted\"`) || !strings.Contains(stderr, "bind mount of host path / is not allowed (rule host-mounts)") {
			t.Errorf("hostPath /: exit %d, stderr %q", code, stderr)
		}
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
