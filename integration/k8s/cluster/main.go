// Command runh-k8s runs a local single-node Kubernetes cluster for runh's
// end-to-end tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet and kube-proxy (built from the Go module proxy by
// `make k8s-build`), on containerd 2.4.2 with the CNI bridge plugin.
//
//	runh-k8s up         start it (or reuse a running one), install runh
//	                    through the DaemonSet, print export KUBECONFIG=...
//	runh-k8s down       stop it and remove everything it made
//	runh-k8s supervise  (internal) the supervisor up starts in the background
//	runh-k8s images DIR (internal) write the image archives to DIR
//	runh-k8s installer-image REF BINDIR OUT
//	                    the installer image with runh's binaries from BINDIR
//	                    (the upgrade test's new runh)
//
// There is no systemd here, so a supervisor process of its own starts the
// components, restarts any that exits (containerd when runh's installer
// asks for it by signalling the pid in /run/containerd.pid), and stops
// them on SIGTERM. Everything it makes lives under /tmp/runh-k8s, except
// what the installer touches on a real node (/etc/containerd/config.toml,
// backed up and restored; /opt/runh/bin; /run/containerd.pid) and what the
// kubelet and containerd put at fixed paths (/var/log/containers links,
// /run/containerd/runc/k8s.io, the kubepods cgroups): those are recorded
// at up and removed at down.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// The cluster's fixed addresses. The API server and the kubelet listen on
// an interface of their own (an empty bridge: this kernel has no dummy
// module), which pods reach through their gateway
// and kube-proxy's DNAT of the kubernetes Service; nothing listens on the
// host's real interfaces.
const (
	stateDir    = "/tmp/runh-k8s"
	nodeName    = "runh-node"
	apiIP       = "10.245.0.1"
	apiPort     = "16443"
	apiDummy    = "runhk8s-api"
	podBridge   = "runhk8s0"
	podCIDR     = "10.244.0.0/24"
	serviceCIDR = "10.96.0.0/24"
	serviceIP   = "10.96.0.1"
	etcdClient  = "127.0.0.1:12379"
	etcdPeer    = "127.0.0.1:12380"
	// What the installer DaemonSet writes on a real node.
	hostContainerdConfig = "/etc/containerd/config.toml"
	hostRunhDir          = "/opt/runh"
	hostPidfile          = "/run/containerd.pid"
)

func path(elem ...string) string { return filepath.Join(append([]string{stateDir}, elem...)...) }

// repo is the runh checkout: bin/ holds runh, runc, containerd 2.4.2 and
// the Kubernetes binaries (bin/k8s), deploy/kubernetes the manifests.
func repo() string {
	if r := os.Getenv("RUNH_REPO"); r != "" {
		return r
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	// bin/k8s/runh-k8s
	return filepath.Dir(filepath.Dir(filepath.Dir(exe)))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: runh-k8s up|down|supervise|images DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up()
	case "down":
		err = down()
	case "supervise":
		err = supervise()
	case "images":
		if len(os.Args) != 3 {
			err = fmt.Errorf("usage: runh-k8s images DIR")
		} else {
			err = writeImages(os.Args[2])
		}
	case "installer-image":
		if len(os.Args) != 5 {
			err = fmt.Errorf("usage: runh-k8s installer-image REF BINDIR OUT")
		} else {
			err = writeInstaller(os.Args[2], os.Args[3], os.Args[4])
		}
	default:
		err = fmt.Errorf("unknown command %q (up, down, supervise, images, installer-image)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runh-k8s %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
