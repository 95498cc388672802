//go:build k8s

// Package k8s tests runh in a real single-node Kubernetes cluster (make
// e2e-k8s: runh-k8s up, these tests, runh-k8s down). runh is installed by
// the DaemonSet of deploy/kubernetes, and pods reach it through
// RuntimeClasses, as on a user's cluster.
package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	kubeconfig = "/tmp/runh-k8s/admin.kubeconfig"
	ns         = "runh-e2e"
	nodeName   = "runh-node"
)

var repo, _ = filepath.Abs("../..")

func kubectlIn(stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "bin", "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, errb, err := kubectlIn("", args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errb)
	}
	return out
}

func apply(t testing.TB, yaml string) {
	t.Helper()
	if out, errb, err := kubectlIn(yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s%s\n%s", err, out, errb, yaml)
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		var done bool
		if done, last = ok(); done {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s: not after %s; last: %s", what, timeout, last)
}

// exec runs a shell command in a pod's container, as kubectl exec does.
func execIn(t testing.TB, pod, script string) string {
	t.Helper()
	return kubectl(t, "-n", ns, "exec", pod, "--", "sh", "-c", script)
}

// podReady waits until the pod is Ready.
func podReady(t testing.TB, pod string) {
	t.Helper()
	kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=150s", "pod/"+pod)
}

func podJSON(t testing.TB, pod string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(kubectl(t, "-n", ns, "get", "pod", pod, "-o", "json")), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// status keys of /proc/self/status that show the hardening.
func procStatus(t testing.TB, pod string) map[string]string {
	t.Helper()
	out := execIn(t, pod, "grep -E '^(Uid|Gid|CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status")
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, ":")
		m[k] = strings.Join(strings.Fields(v), " ")
	}
	return m
}

func TestMain(m *testing.M) {
	if _, _, err := kubectlIn("", "get", "--raw", "/readyz"); err != nil {
		msg := fmt.Sprintf("no cluster at %s (make k8s-up): %v", kubeconfig, err)
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: "+msg)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP: "+msg)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pod is a minimal busybox pod spec in ns.
func pod(name, runtimeClass, extraSpec, extraContainer string) string {
	rc := ""
	if runtimeClass != "" {
		rc = "  runtimeClassName: " + runtimeClass + "\n"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s}
spec:
%s  terminationGracePeriodSeconds: 1
%s  containers:
  - name: main
    image: runh.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "2147483647"]
%s`, name, ns, rc, extraSpec, extraContainer)
}

func TestCluster(t *testing.T) {
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		kubectlIn("", "delete", "namespace", ns, "--wait=true", "--timeout=120s")
		kubectlIn("", "delete", "namespace", "runh-psa", "--wait=true", "--timeout=120s")
	})
	// The default ServiceAccount appears when the controller-manager has
	// seen the namespace; pods are refused before that.
	waitFor(t, "default ServiceAccount", time.Minute, func() (bool, string) {
		_, errb, err := kubectlIn("", "-n", ns, "get", "serviceaccount", "default")
		return err == nil, errb
	})

	t.Run("Deployment", testDeployment)
	t.Run("ExecAsRoot", testExecAsRoot)
	t.Run("Attach", testAttach)
	t.Run("Job", testJob)
	t.Run("PodSecurityRestricted", testPSARestricted)
	t.Run("Refused", testRefused)
	t.Run("HostPID", testHostPID)
	t.Run("PlainRunc", testPlainRunc)
	t.Run("Profiles", testProfiles)
	t.Run("Upgrade", testUpgrade)
	t.Run("Uninstall", testUninstall)
}

// testDeployment: a pod with everything a kubelet adds (token, ConfigMap,
// Secret, emptyDir, downward API, probes, termination log, /etc/hosts and
// resolv.conf) becomes Ready on runh, hardened, and works.
func testDeployment(t *testing.T) {
	apply(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: %[1]s}
data: {greeting: "hello from a configmap"}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret, namespace: %[1]s}
stringData: {password: "s3cret"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hardened, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: hardened}}
  template:
    metadata: {labels: {app: hardened, tier: demo}}
    spec:
      runtimeClassName: runh
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: runh.local/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo started as uid $(id -u); echo ok > /scratch/state; exec sleep 2147483647"]
        livenessProbe:
          exec: {command: ["cat", "/etc/config/greeting"]}
          periodSeconds: 5
        readinessProbe:
          exec: {command: ["cat", "/scratch/state"]}
          periodSeconds: 2
        volumeMounts:
        - {name: config, mountPath: /etc/config}
        - {name: secret, mountPath: /etc/secret}
        - {name: scratch, mountPath: /scratch}
        - {name: podinfo, mountPath: /etc/podinfo}
      volumes:
      - {name: config, configMap: {name: app-config}}
      - {name: secret, secret: {secretName: app-secret}}
      - {name: scratch, emptyDir: {}}
      - name: podinfo
        downwardAPI:
          items:
          - {path: name, fieldRef: {fieldPath: metadata.name}}
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
`, ns))
	kubectl(t, "-n", ns, "rollout", "status", "deployment/hardened", "--timeout=180s")
	p := strings.TrimSpace(kubectl(t, "-n", ns, "get", "pod", "-l", "app=hardened", "-o", "jsonpath={.items[0].metadata.name}"))
	podReady(t, p)

	st := procStatus(t, p)
	t.Logf("%s on runh: %v", p, st)
	for k, want := range map[string]string{"Uid": "65534 65534 65534 65534", "CapEff": "0000000000000000", "CapPrm": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"} {
		if st[k] != want {
			t.Errorf("%s: %s = %q, want %q", p, k, st[k], want)
		}
	}
	// Read-only root, writable emptyDir, readable token and volumes.
	if out, errb, err := kubectlIn("", "-n", ns, "exec", p, "--", "touch", "/rootfs-write"); err == nil || !strings.Contains(out+errb, "Read-only file system") {
		t.Errorf("root filesystem is writable: %v %s%s", err, out, errb)
	}
	got := execIn(t, p, `cat /scratch/state /etc/config/greeting /etc/secret/password /etc/podinfo/name; echo; grep -c tier /etc/podinfo/labels;
		test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo token-readable;
		test -s /var/run/secrets/kubernetes.io/serviceaccount/ca.crt && echo ca-readable;
		grep -q `+p+` /etc/hosts && echo hosts-ok; test -f /etc/resolv.conf && echo resolv-ok;
		echo bye > /dev/termination-log && echo termlog-writable`)
	for _, want := range []string{"ok", "hello from a configmap", "s3cret", p, "token-readable", "ca-readable", "hosts-ok", "resolv-ok", "termlog-writable"} {
		if !strings.Contains(got, want) {
			t.Errorf("pod view lacks %q:\n%s", want, got)
		}
	}
	// The token the pod reads is its identity at the API server. (Pods
	// reach the API server through kube-proxy's Service address: the
	// installer's kubectl label does, from its pod.)
	token := execIn(t, p, "cat /var/run/secrets/kubernetes.io/serviceaccount/token")
	out, errb, err := kubectlIn("", "--kubeconfig=/dev/null", "--server=https://10.245.0.1:16443",
		"--certificate-authority=/tmp/runh-k8s/pki/ca.crt", "--token="+token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil || out != "system:serviceaccount:"+ns+":default" {
		t.Errorf("the pod's token: %q %v %s", out, err, errb)
	}
	if logs := kubectl(t, "-n", ns, "logs", p); !strings.Contains(logs, "started as uid 65534") {
		t.Errorf("kubectl logs: %q", logs)
	}
	// The probes ran through runh's exec path and the pod stayed up.
	m := podJSON(t, p)
	cs := m["status"].(map[string]any)["containerStatuses"].([]any)[0].(map[string]any)
	if rc := cs["restartCount"].(float64); rc != 0 {
		t.Errorf("restartCount %v", rc)
	}
}

// testExecAsRoot: a pod that asks for root, and kubectl exec into it,
// both come out as nobody with no capabilities.
func testExecAsRoot(t *testing.T) {
	apply(t, pod("asroot", "runh", "  securityContext: {runAsUser: 0, runAsGroup: 0}\n", ""))
	podReady(t, "asroot")
	st := procStatus(t, "asroot")
	if st["Uid"] != "65534 65534 65534 65534" || st["CapEff"] != "0000000000000000" || st["CapPrm"] != "0000000000000000" {
		t.Errorf("exec into a runAsUser: 0 pod: %v", st)
	}
	if out := execIn(t, "asroot", "id"); !strings.HasPrefix(out, "uid=65534") {
		t.Errorf("id: %s", out)
	}
	// The container's init too, not only the exec.
	if out := execIn(t, "asroot", "grep -E '^(Uid|CapEff):' /proc/1/status"); !strings.Contains(out, "65534") || !strings.Contains(out, "0000000000000000") {
		t.Errorf("pid 1: %s", out)
	}
}

// testAttach: kubectl attach to a running container's stdin and stdout,
// through runh's pipes.
func testAttach(t *testing.T) {
	// It reads one line, answers and exits (attach returns when the
	// container does).
	apply(t, strings.Replace(pod("attach", "runh", "  restartPolicy: Never\n", "    stdin: true\n    stdinOnce: true\n"),
		`command: ["sleep", "2147483647"]`, `command: ["sh", "-c", "read line; echo got $line as $(id -u)"]`, 1))
	podReady(t, "attach")
	out, errb, err := kubectlIn("hello\n", "-n", ns, "attach", "-i", "attach", "-c", "main")
	if err != nil && !strings.Contains(out, "got") {
		t.Fatalf("kubectl attach: %v\n%s%s", err, out, errb)
	}
	waitFor(t, "the attached input in the logs", 30*time.Second, func() (bool, string) {
		logs, _, _ := kubectlIn("", "-n", ns, "logs", "attach")
		return strings.Contains(logs, "got hello as 65534"), logs
	})
	kubectlIn("", "-n", ns, "delete", "pod", "attach", "--wait=false")
}

func testJob(t *testing.T) {
	apply(t, fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: compute, namespace: %s}
spec:
  backoffLimit: 0
  template:
    spec:
      runtimeClassName: runh
      restartPolicy: Never
      containers:
      - name: compute
        image: runh.local/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo answer $((6*7)); echo job finished as uid $(id -u) > /dev/termination-log"]
`, ns))
	kubectl(t, "-n", ns, "wait", "--for=condition=complete", "--timeout=150s", "job/compute")
	p := strings.TrimSpace(kubectl(t, "-n", ns, "get", "pod", "-l", "job-name=compute", "-o", "jsonpath={.items[0].metadata.name}"))
	if logs := kubectl(t, "-n", ns, "logs", p); !strings.Contains(logs, "answer 42") {
		t.Errorf("logs %q", logs)
	}
	msg := kubectl(t, "-n", ns, "get", "pod", p, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.message}")
	if strings.TrimSpace(msg) != "job finished as uid 65534" {
		t.Errorf("termination message %q", msg)
	}
}

// testPSARestricted: a pod written for Pod Security's restricted level
// (non-root uid 1000, no capabilities, RuntimeDefault seccomp, read-only
// root) runs on runh as written.
func testPSARestricted(t *testing.T) {
	apply(t, `apiVersion: v1
kind: Namespace
metadata:
  name: runh-psa
  labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/enforce-version: latest}
`)
	waitFor(t, "default ServiceAccount in runh-psa", time.Minute, func() (bool, string) {
		_, errb, err := kubectlIn("", "-n", "runh-psa", "get", "serviceaccount", "default")
		return err == nil, errb
	})
	apply(t, `apiVersion: v1
kind: Pod
metadata: {name: restricted, namespace: runh-psa}
spec:
  runtimeClassName: runh
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: runh.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "2147483647"]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`)
	kubectl(t, "-n", "runh-psa", "wait", "--for=condition=Ready", "--timeout=150s", "pod/restricted")
	out := kubectl(t, "-n", "runh-psa", "exec", "restricted", "--", "sh", "-c", "id -u; id -g; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")
	f := strings.Fields(out)
	if len(f) < 8 || f[0] != "1000" || f[1] != "1000" || f[3] != "0000000000000000" || f[5] != "1" || f[7] != "2" {
		t.Errorf("restricted pod: %q", out)
	}
	// And PSA itself still refuses what it should, before runh is asked.
	priv := strings.Replace(pod("psa-priv", "runh", "", "    securityContext: {privileged: true}\n"), "namespace: "+ns, "namespace: runh-psa", 1)
	_, errb, err := kubectlIn(priv, "apply", "-f", "-")
	if err == nil || !strings.Contains(errb, "violates PodSecurity") {
		t.Errorf("PodSecurity admitted a privileged pod: %v %s", err, errb)
	}
}

// The pods runh refuses, and the text a user sees in kubectl describe.
var refusals = []struct {
	name, spec, container string
	want                  string // in the pod's events
}{
	{"privileged", "", "    securityContext: {privileged: true}\n", `runh: denied by profile "restricted": `},
	{"hostpath-root", "  volumes: [{name: host, hostPath: {path: /}}]\n", "    volumeMounts: [{name: host, mountPath: /host}]\n",
		`runh: denied by profile "restricted": mounts[6]: bind mount of host path / is not allowed (rule host-mounts)`},
}

func testRefused(t *testing.T) {
	for _, r := range refusals {
		apply(t, pod(r.name, "runh", r.spec, r.container))
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			var desc string
			waitFor(t, r.name+" refused with runh's reason", 2*time.Minute, func() (bool, string) {
				desc = kubectl(t, "-n", ns, "describe", "pod", r.name)
				return strings.Contains(desc, r.want), desc
			})
			// Never started: the kubelet retries, runh refuses each time.
			if st := kubectl(t, "-n", ns, "get", "pod", r.name, "-o", "jsonpath={.status.containerStatuses[0].ready} {.status.containerStatuses[0].state.running}"); st != "false " {
				t.Errorf("%s: ready/running %q", r.name, st)
			}
			for _, l := range strings.Split(desc, "\n") {
				if strings.Contains(l, "runh: ") {
					t.Logf("kubectl describe pod %s:\n  %s", r.name, strings.TrimSpace(l))
				}
			}
		})
	}
	for _, r := range refusals {
		kubectlIn("", "-n", ns, "delete", "pod", r.name, "--wait=false")
	}
}

// testHostPID: hostPID: true is not refused but not honoured either, as
// Docker's --pid host is not: runh gives the container a pid namespace of
// its own (rule private-namespaces), so it sees only its own processes.
func testHostPID(t *testing.T) {
	apply(t, pod("hostpid", "runh", "  hostPID: true\n", ""))
	podReady(t, "hostpid")
	// The pod's own pid namespace (the sandbox's, with its pause), not the
	// host's: a handful of processes, none of the node's.
	out := execIn(t, "hostpid", "ps -o comm")
	if n := len(strings.Fields(out)); n > 8 || strings.Contains(out, "kubelet") || strings.Contains(out, "containerd") {
		t.Errorf("hostPID pod sees the host's processes:\n%s", out)
	}
	kubectlIn("", "-n", ns, "delete", "pod", "hostpid", "--wait=false")
}

// testPlainRunc: a pod without a RuntimeClass runs on plain runc beside
// the runh pods, as root with the default capabilities.
func testPlainRunc(t *testing.T) {
	apply(t, pod("plain", "", "", ""))
	podReady(t, "plain")
	st := procStatus(t, "plain")
	if st["Uid"] != "0 0 0 0" || st["CapEff"] == "0000000000000000" || st["NoNewPrivs"] != "0" {
		t.Errorf("plain runc pod is not runc's default: %v", st)
	}
}

// testProfiles: one pod per profile handler the installer registers.
func testProfiles(t *testing.T) {
	apply(t, pod("edge", "runh-edge", "", ""))
	apply(t, pod("userns", "runh-userns", "", ""))
	podReady(t, "edge")
	podReady(t, "userns")
	if st := procStatus(t, "edge"); st["Uid"] != "65534 65534 65534 65534" || st["CapEff"] != "0000000000000000" || st["Seccomp"] != "2" {
		t.Errorf("runh-edge pod: %v", st)
	}
	// userns: root inside its own user namespace, mapped to the pool (2^30
	// and up) outside, with a capability set no bigger than Docker's.
	st := procStatus(t, "userns")
	if st["Uid"] != "0 0 0 0" || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("runh-userns pod: %v", st)
	}
	m := strings.Fields(execIn(t, "userns", "cat /proc/self/uid_map"))
	if len(m) != 3 || m[0] != "0" || len(m[1]) < 10 || m[1] < "1073741824" {
		t.Errorf("runh-userns uid_map %v, want 0 -> the pool (>= 1073741824)", m)
	}
	// An nginx-like image that starts as root and drops to www (101)
	// itself: it needs runh-userns (under runh, root is already 65534 and
	// httpd's setgroups fails). The kubelet's HTTP readiness probe and a
	// request from the node reach it.
	apply(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: httpd, namespace: %s}
spec:
  runtimeClassName: runh-userns
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: runh.local/httpd:latest
    imagePullPolicy: IfNotPresent
    readinessProbe:
      httpGet: {path: /index.html, port: 8080}
      periodSeconds: 2
`, ns))
	podReady(t, "httpd")
	ip := kubectl(t, "-n", ns, "get", "pod", "httpd", "-o", "jsonpath={.status.podIP}")
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ip + ":8080/index.html")
	if err != nil {
		t.Fatalf("GET from the node: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from www\n" {
		t.Errorf("httpd served %q", body)
	}
	if out := execIn(t, "httpd", "ps -o user,comm | grep httpd"); !strings.Contains(out, "www") {
		t.Errorf("httpd did not drop to www: %q", out)
	}
	kubectlIn("", "-n", ns, "delete", "pod", "httpd", "--wait=false")
}

// testUpgrade: a new installer image (a runh with another version)
// applied over the DaemonSet replaces the binaries while pods keep
// running, and new pods start on the new runh.
func testUpgrade(t *testing.T) {
	before := map[string]string{}
	for _, p := range []string{"asroot", "edge", "plain"} {
		before[p] = kubectl(t, "-n", ns, "get", "pod", p, "-o", "jsonpath={.status.containerStatuses[0].containerID}")
	}
	dir := t.TempDir()
	version := fmt.Sprintf("upgrade-%d", time.Now().Unix())
	for _, b := range []string{"runh", "runh-init", "runc"} {
		data, err := os.ReadFile(filepath.Join(repo, "bin", b))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, b), data, 0o755)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/runh-dev/runh/runtime.Version="+version, "-o", filepath.Join(dir, "runh-core"), "./cmd/runh")
	build.Dir, build.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build runh-core: %v\n%s", err, out)
	}
	ref := "ghcr.io/runh-dev/runh-installer:" + version
	tarball := filepath.Join(dir, "installer.tar")
	if out, err := exec.Command(filepath.Join(repo, "bin", "k8s", "runh-k8s"), "installer-image", ref, dir, tarball).CombinedOutput(); err != nil {
		t.Fatalf("installer image: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(repo, "bin", "containerd2", "ctr"), "--address", "/tmp/runh-k8s/containerd/containerd.sock", "-n", "k8s.io", "image", "import", tarball).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	manifest, _ := os.ReadFile(filepath.Join(repo, "deploy", "kubernetes", "installer.yaml"))
	apply(t, strings.Replace(string(manifest), "ghcr.io/runh-dev/runh-installer:v0.1.0", ref, 1))
	kubectl(t, "-n", "runh-system", "rollout", "status", "ds/runh-installer", "--timeout=180s")
	waitFor(t, "the new runh-core in /opt/runh/bin", time.Minute, func() (bool, string) {
		out, _ := exec.Command("/opt/runh/bin/runh-core", "--version").CombinedOutput()
		return strings.Contains(string(out), version), string(out)
	})
	if left, _ := filepath.Glob("/opt/runh/bin/.*"); len(left) != 0 {
		t.Errorf("temporary files left in /opt/runh/bin: %v", left)
	}
	// The same containers, still running, never restarted.
	for p, id := range before {
		after := kubectl(t, "-n", ns, "get", "pod", p, "-o", "jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.phase}")
		if after != id+" 0 Running" {
			t.Errorf("%s: %q after the upgrade, want %q", p, after, id+" 0 Running")
		}
	}
	execIn(t, "asroot", "true")
	// A new pod runs on the new runh: its decision carries the version.
	apply(t, pod("after-upgrade", "runh", "", ""))
	podReady(t, "after-upgrade")
	if st := procStatus(t, "after-upgrade"); st["Uid"] != "65534 65534 65534 65534" {
		t.Errorf("after the upgrade: %v", st)
	}
	// Back to the original image, as make k8s-up left it.
	apply(t, string(manifest))
	kubectl(t, "-n", "runh-system", "rollout", "status", "ds/runh-installer", "--timeout=180s")
}

// testUninstall: the documented uninstall removes the node's label at
// once, keeps runh's handlers and binaries while a pod still uses runh
// (containerd refuses exec into a pod whose handler it no longer knows;
// seen here), and removes them on the next run once none does; runc pods
// still start.
func testUninstall(t *testing.T) {
	// Finished pods count too (their containers still need runh to be
	// deleted): the Job and the attach pod go now; asroot stays running.
	kubectlIn("", "-n", ns, "delete", "job", "compute", "--cascade=foreground", "--wait=true", "--timeout=60s")
	for _, p := range []string{"edge", "userns", "after-upgrade", "attach"} {
		kubectlIn("", "-n", ns, "delete", "pod", p, "--wait=true", "--timeout=60s")
	}
	kubectlIn("", "-n", ns, "delete", "deployment", "hardened", "--wait=true", "--timeout=60s")
	kubectlIn("", "-n", "runh-psa", "delete", "pod", "restricted", "--wait=true", "--timeout=60s")
	runhPods := func() []string {
		out, _, _ := kubectlIn("", "get", "pods", "-A", "-o", "jsonpath={range .items[*]}{.spec.runtimeClassName} {.metadata.name}{\"\\n\"}{end}")
		var names []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "runh") {
				names = append(names, l)
			}
		}
		return names
	}
	waitFor(t, "only asroot left on runh", 2*time.Minute, func() (bool, string) {
		p := runhPods()
		return len(p) == 1 && p[0] == "runh asroot", strings.Join(p, ", ")
	})
	kubectl(t, "-n", "runh-system", "set", "env", "ds/runh-installer", "RUNH_ACTION=uninstall")
	kubectl(t, "-n", "runh-system", "rollout", "status", "ds/runh-installer", "--timeout=180s")
	// First run: the label goes; asroot still uses runh, so the handlers
	// and binaries stay, and the installer names it.
	if out := kubectl(t, "get", "node", nodeName, "-o", "jsonpath={.metadata.labels.runh\\.dev/installed}"); out != "" {
		t.Errorf("label still %q", out)
	}
	if logs := kubectl(t, "-n", "runh-system", "logs", "ds/runh-installer"); !strings.Contains(logs, ns+"/asroot") {
		t.Errorf("the installer did not name the pod that keeps runh:\n%s", logs)
	}
	if cfg, _ := os.ReadFile("/etc/containerd/config.toml"); !strings.Contains(string(cfg), "runtimes.runh]") {
		t.Errorf("handlers removed while asroot still runs on runh:\n%s", cfg)
	}
	execIn(t, "asroot", "true")
	kubectl(t, "-n", ns, "delete", "pod", "asroot", "--wait=true", "--timeout=60s")
	// Second run, with no runh pod left: handlers and binaries go.
	kubectl(t, "-n", "runh-system", "rollout", "restart", "ds/runh-installer")
	kubectl(t, "-n", "runh-system", "rollout", "status", "ds/runh-installer", "--timeout=180s")
	waitFor(t, "runh's handlers gone from the node", 2*time.Minute, func() (bool, string) {
		out := kubectl(t, "get", "node", nodeName, "-o", "jsonpath={.status.runtimeHandlers[*].name}")
		return !strings.Contains(out, "runh"), out
	})
	if cfg, _ := os.ReadFile("/etc/containerd/config.toml"); strings.Contains(string(cfg), "runtimes.runh") {
		t.Errorf("containerd config still has runh's handlers:\n%s", cfg)
	}
	if _, err := os.Stat("/opt/runh/bin/runh"); !os.IsNotExist(err) {
		t.Errorf("/opt/runh/bin/runh still there once no pod uses runh: %v", err)
	}
	// The node's other runtime still works.
	apply(t, pod("plain-after", "", "", ""))
	podReady(t, "plain-after")
	// And a runh pod now waits for a node with runh instead of starting.
	apply(t, pod("runh-after", "runh", "", ""))
	waitFor(t, "runh pod unschedulable", time.Minute, func() (bool, string) {
		out := kubectl(t, "-n", ns, "get", "pod", "runh-after", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}")
		return out == "Unschedulable", out
	})
}
