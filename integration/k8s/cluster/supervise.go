package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// component is one supervised process.
type component struct {
	name string
	bin  string
	args []string
	// ready reports whether it serves, for the start order.
	ready func() bool
	// pidfile, if set, gets the running pid (containerd's, for the
	// installer's restart on nodes without systemd).
	pidfile string
}

func k8sBin(n string) string { return filepath.Join(repo(), "bin", "k8s", n) }

func components() []component {
	pki := func(f string) string { return path("pki", f) }
	c2 := filepath.Join(repo(), "bin", "containerd2")
	return []component{
		{name: "etcd", bin: k8sBin("etcd"), args: []string{
			"--name=runh-k8s", "--data-dir=" + path("etcd"),
			"--listen-client-urls=http://" + etcdClient, "--advertise-client-urls=http://" + etcdClient,
			"--listen-peer-urls=http://" + etcdPeer, "--initial-advertise-peer-urls=http://" + etcdPeer,
			"--initial-cluster=runh-k8s=http://" + etcdPeer, "--listen-metrics-urls=",
			// A throwaway test cluster: no fsync, as kind and the
			// Kubernetes integration tests run etcd.
			"--unsafe-no-fsync", "--log-level=warn",
		}, ready: func() bool { return httpOK("http://" + etcdClient + "/health") }},
		{name: "kube-apiserver", bin: k8sBin("kube-apiserver"), args: []string{
			"--etcd-servers=http://" + etcdClient,
			"--bind-address=" + apiIP, "--advertise-address=" + apiIP, "--secure-port=" + apiPort,
			"--cert-dir=" + path("pki"),
			"--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"),
			"--client-ca-file=" + pki("ca.crt"),
			"--service-cluster-ip-range=" + serviceCIDR,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
			"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
			"--kubelet-certificate-authority=" + pki("ca.crt"),
			"--kubelet-preferred-address-types=InternalIP",
			"--profiling=false",
		}, ready: func() bool { return kubectlOK("get", "--raw", "/readyz") }},
		{name: "kube-controller-manager", bin: k8sBin("kube-controller-manager"), args: []string{
			"--kubeconfig=" + path("controller-manager.kubeconfig"),
			"--authentication-kubeconfig=" + path("controller-manager.kubeconfig"),
			"--authorization-kubeconfig=" + path("controller-manager.kubeconfig"),
			"--bind-address=127.0.0.1", "--secure-port=10257",
			"--service-account-private-key-file=" + pki("sa.key"), "--root-ca-file=" + pki("ca.crt"),
			"--cluster-signing-cert-file=" + pki("ca.crt"), "--cluster-signing-key-file=" + pki("ca.key"),
			"--use-service-account-credentials=true", "--leader-elect=false", "--profiling=false",
		}},
		{name: "kube-scheduler", bin: k8sBin("kube-scheduler"), args: []string{
			"--kubeconfig=" + path("scheduler.kubeconfig"),
			"--authentication-kubeconfig=" + path("scheduler.kubeconfig"),
			"--authorization-kubeconfig=" + path("scheduler.kubeconfig"),
			"--bind-address=127.0.0.1", "--secure-port=10259", "--leader-elect=false", "--profiling=false",
		}},
		{name: "containerd", bin: filepath.Join(c2, "containerd"), args: []string{
			"--config=" + hostContainerdConfig, "--log-level=info",
		}, pidfile: hostPidfile, ready: func() bool {
			return exec.Command(filepath.Join(c2, "ctr"), "--address", path("containerd", "containerd.sock"), "version").Run() == nil
		}},
		{name: "kubelet", bin: k8sBin("kubelet"), args: []string{
			"--config=" + path("kubelet.yaml"), "--kubeconfig=" + path("kubelet.kubeconfig"),
			"--root-dir=" + path("kubelet"), "--hostname-override=" + nodeName, "--node-ip=" + apiIP,
		}},
		{name: "kube-proxy", bin: k8sBin("kube-proxy"), args: []string{"--config=" + path("kube-proxy.yaml")}},
	}
}

// supervise runs the components in order, restarts any that exits, and
// stops them in reverse order on SIGTERM: first deleting every pod through
// the CRI while containerd still runs, so no container outlives it.
func supervise() error {
	log.SetPrefix("supervisor: ")
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	comps := components()
	type running struct {
		cmd  *exec.Cmd
		done chan struct{}
	}
	procs := make([]*running, len(comps))
	exited := make(chan int, len(comps))
	start := func(i int) error {
		c := comps[i]
		logf, err := os.OpenFile(path("logs", c.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(c.bin, c.args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		// containerd finds its own 2.4.2 shim before Debian's 1.6 one.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(repo(), "bin", "containerd2")+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("%s: %w", c.name, err)
		}
		logf.Close()
		if c.pidfile != "" {
			writeFileAtomic(c.pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"))
		}
		r := &running{cmd: cmd, done: make(chan struct{})}
		procs[i] = r
		go func() {
			err := cmd.Wait()
			log.Printf("%s (pid %d) exited: %v", c.name, cmd.Process.Pid, err)
			close(r.done)
			exited <- i
		}()
		log.Printf("started %s (pid %d)", c.name, cmd.Process.Pid)
		return nil
	}
	stopOne := func(i int) {
		r := procs[i]
		if r == nil {
			return
		}
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
	}
	shutdown := func() {
		// The kubelet first, so it does not recreate what is deleted next.
		for i := len(comps) - 1; i >= 0; i-- {
			if comps[i].name == "containerd" {
				deleteAllPods()
			}
			stopOne(i)
		}
		os.Remove(hostPidfile)
		log.Printf("stopped")
	}
	for i, c := range comps {
		if err := start(i); err != nil {
			shutdown()
			return err
		}
		if c.ready == nil {
			continue
		}
		deadline := time.Now().Add(90 * time.Second)
		for !c.ready() {
			select {
			case <-sigs:
				shutdown()
				return nil
			case j := <-exited:
				shutdown()
				return fmt.Errorf("%s exited while starting (see %s)", comps[j].name, path("logs", comps[j].name+".log"))
			case <-time.After(250 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				shutdown()
				return fmt.Errorf("%s not ready after 90s (see %s)", c.name, path("logs", c.name+".log"))
			}
		}
		log.Printf("%s ready", c.name)
	}
	os.WriteFile(path("supervisor.ready"), nil, 0o644)
	for {
		select {
		case <-sigs:
			shutdown()
			return nil
		case i := <-exited:
			// Restart whatever exits: containerd after the installer
			// signalled it, anything else after a crash.
			procs[i] = nil
			time.Sleep(time.Second)
			if err := start(i); err != nil {
				log.Printf("restart: %v", err)
			}
		}
	}
}

// deleteAllPods stops and removes every pod sandbox through the CRI, which
// kills their containers and tears down their networks (CNI DEL).
func deleteAllPods() {
	crictl := func(args ...string) ([]byte, error) {
		return exec.Command(filepath.Join(repo(), "bin", "crictl"),
			append([]string{"--runtime-endpoint", "unix://" + path("containerd", "containerd.sock"), "--timeout", "30s"}, args...)...).Output()
	}
	out, err := crictl("pods", "-q")
	if err != nil {
		log.Printf("list pods: %v", err)
		return
	}
	for _, id := range strings.Fields(string(out)) {
		if _, err := crictl("stopp", id); err != nil {
			log.Printf("stop pod %s: %v", id, err)
		}
		if _, err := crictl("rmp", "-f", id); err != nil {
			log.Printf("remove pod %s: %v", id, err)
		}
	}
}
