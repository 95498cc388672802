package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// preState is what the host had before up, so down puts back exactly that.
type preState struct {
	Sysctls          map[string]string
	ContainerdConfig bool
	OptRunh          bool
	VarLogContainers []string
	RuncK8s          []string
	RuncK8sDir       bool
	Netns            []string
	Cgroups          []string
	IPTables         map[string][]string // "iptables nat" -> ":CHAIN" and "-A ..." lines
}

// The sysctls the kubelet sets (protectKernelDefaults false) and the
// bridge plugin turns on.
var touchedSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet"}

func kubectlCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(repo(), "bin", "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+path("admin.kubeconfig"))
	return cmd
}

func kubectl(args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := kubectlCmd(append([]string{"--request-timeout=20s"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func kubectlOK(args ...string) bool { _, err := kubectl(args...); return err == nil }

func httpOK(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func alive(pidfile string) (int, bool) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "runh-k8s: "+format+"\n", a...)
}

func up() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	for _, b := range []string{"k8s/etcd", "k8s/kube-apiserver", "k8s/kubelet", "k8s/kube-proxy", "kubectl", "containerd2/containerd", "crictl", "runh", "runc"} {
		if _, err := os.Stat(filepath.Join(repo(), "bin", b)); err != nil {
			return fmt.Errorf("bin/%s missing (make k8s-up builds it): %w", b, err)
		}
	}
	start := time.Now()
	if _, ok := alive(path("supervisor.pid")); ok && kubectlOK("get", "--raw", "/readyz") {
		logf("reusing the running cluster in %s", stateDir)
	} else {
		if _, err := os.Stat(stateDir); err == nil {
			logf("removing a stopped cluster's leftovers first")
			if err := down(); err != nil {
				return err
			}
		}
		if err := boot(); err != nil {
			return fmt.Errorf("%w\n(runh-k8s down removes what was started; logs in %s)", err, path("logs"))
		}
	}
	if err := install(); err != nil {
		return fmt.Errorf("%w\n(logs: %s, kubectl -n runh-system logs ds/runh-installer)", err, path("logs"))
	}
	logf("ready in %s", time.Since(start).Round(time.Second))
	fmt.Printf("export KUBECONFIG=%s\n", path("admin.kubeconfig"))
	return nil
}

// boot prepares a fresh cluster and starts the supervisor.
func boot() error {
	for _, d := range []string{"logs", "net.d", "containerd", "kubelet", "pod-logs", "cni-ipam", "images", "backup"} {
		if err := os.MkdirAll(path(d), 0o755); err != nil {
			return err
		}
	}
	if err := recordPreState(); err != nil {
		return err
	}
	if err := writePKI(); err != nil {
		return err
	}
	if err := writeConfigs(); err != nil {
		return err
	}
	if b, err := os.ReadFile(hostContainerdConfig); err == nil {
		if err := os.WriteFile(path("backup", "config.toml"), b, 0o644); err != nil {
			return err
		}
	}
	os.MkdirAll(filepath.Dir(hostContainerdConfig), 0o755)
	if err := writeFileAtomic(hostContainerdConfig, []byte(containerdConfig())); err != nil {
		return err
	}
	if err := run("ip", "link", "add", apiDummy, "type", "bridge"); err != nil {
		return err
	}
	if err := run("ip", "addr", "add", apiIP+"/32", "dev", apiDummy); err != nil {
		return err
	}
	if err := run("ip", "link", "set", apiDummy, "up"); err != nil {
		return err
	}
	t := time.Now()
	if err := writeImages(path("images")); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	logf("built the images in %s", time.Since(t).Round(time.Millisecond))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.Create(path("logs", "supervisor.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(self, "supervise")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "RUNH_REPO="+repo())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(path("supervisor.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if _, err := os.Stat(path("supervisor.ready")); err == nil {
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(path("logs", "supervisor.log"))
			return fmt.Errorf("the supervisor exited (%v):\n%s", err, log)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("the components did not start in 5 minutes")
		}
	}
	logf("components up in %s", time.Since(t).Round(time.Second))
	ctr := filepath.Join(repo(), "bin", "containerd2", "ctr")
	ents, _ := os.ReadDir(path("images"))
	for _, e := range ents {
		if err := run(ctr, "--address", path("containerd", "containerd.sock"), "-n", "k8s.io", "image", "import", path("images", e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// install applies deploy/kubernetes/ as a user does and waits until the
// installer has registered runh's handlers and labelled the node.
func install() error {
	if _, err := kubectl("apply", "-f", filepath.Join(repo(), "deploy", "kubernetes")); err != nil {
		return err
	}
	return waitInstalled(5 * time.Minute)
}

// The handlers the installer registers, as the node reports them.
var handlers = []string{"runh", "runh-edge", "runh-userns"}

func waitInstalled(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		out, err := kubectl("get", "node", nodeName, "-o", "json")
		if err == nil {
			var n struct {
				Metadata struct{ Labels map[string]string }
				Status   struct {
					Conditions      []struct{ Type, Status string }
					RuntimeHandlers []struct{ Name string }
				}
			}
			json.Unmarshal([]byte(out), &n)
			ready := false
			for _, c := range n.Status.Conditions {
				if c.Type == "Ready" && c.Status == "True" {
					ready = true
				}
			}
			have := map[string]bool{}
			for _, h := range n.Status.RuntimeHandlers {
				have[h.Name] = true
			}
			missing := []string{}
			for _, h := range handlers {
				if !have[h] {
					missing = append(missing, h)
				}
			}
			last = fmt.Sprintf("ready=%v label=%q handlers missing=%v", ready, n.Metadata.Labels["runh.dev/installed"], missing)
			if ready && n.Metadata.Labels["runh.dev/installed"] == "true" && len(missing) == 0 {
				return nil
			}
		} else {
			last = err.Error()
		}
		time.Sleep(2 * time.Second)
	}
	return fmt.Errorf("node %s not ready with runh installed after %s: %s", nodeName, timeout, last)
}

func recordPreState() error {
	p := preState{Sysctls: map[string]string{}, IPTables: map[string][]string{}}
	for _, s := range touchedSysctls {
		if b, err := os.ReadFile("/proc/sys/" + s); err == nil {
			p.Sysctls[s] = strings.TrimSpace(string(b))
		}
	}
	_, err := os.Stat(hostContainerdConfig)
	p.ContainerdConfig = err == nil
	_, err = os.Stat(hostRunhDir)
	p.OptRunh = err == nil
	p.VarLogContainers = names("/var/log/containers")
	p.RuncK8s = names("/run/containerd/runc/k8s.io")
	_, err = os.Stat("/run/containerd/runc/k8s.io")
	p.RuncK8sDir = err == nil
	p.Netns = names("/run/netns")
	p.Cgroups = kubepodsCgroups()
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			p.IPTables[bin+" "+table] = iptablesLines(bin, table)
		}
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	return os.WriteFile(path("pre.json"), b, 0o644)
}

func names(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func kubepodsCgroups() []string {
	m, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	return m
}

func iptablesLines(bin, table string) []string {
	out, err := exec.Command(bin+"-save", "-t", table).Output()
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, ":") || strings.HasPrefix(l, "-A ") {
			if strings.HasPrefix(l, ":") {
				l = strings.Fields(l)[0]
			}
			lines = append(lines, l)
		}
	}
	return lines
}
