package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// containerdConfig is the node's containerd config before runh is
// installed: plain runc (the repository's pinned one) as the default
// handler, the bridge CNI, and the local pause image. The installer adds
// runh's handlers to it, as on a real node.
func containerdConfig() string {
	return fmt.Sprintf(`# Written by runh-k8s up (integration/k8s/cluster); the original is
# restored by runh-k8s down.
version = 3
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = %[4]q
[plugins."io.containerd.cri.v1.runtime"]
  # no CAP_SYS_RESOURCE on this VM (see ../shared/recipes)
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = %[5]q
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = %[6]q
`, path("containerd", "root"), path("containerd", "state"), path("containerd", "containerd.sock"),
		pauseRef, filepath.Join(repo(), "bin", "runc"), path("net.d"))
}

// cniConfig: one bridge, no masquerading (pods need reach only the node),
// host-local addresses kept under stateDir.
func cniConfig() string {
	return fmt.Sprintf(`{"cniVersion":"1.0.0","name":"runh-k8s","plugins":[{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,"hairpinMode":true,
"ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":%q}}]}
`, podBridge, podCIDR, path("cni-ipam"))
}

// kubeletConfig: cgroupfs on this cgroup v1 host. Kubernetes 1.35 made
// cgroup v1 opt-in: failCgroupV1 defaults to true and the kubelet refuses
// to start on a v1 host without this line.
func kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
address: %[1]s
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[2]s}
authorization: {mode: Webhook}
tlsCertFile: %[3]s
tlsPrivateKeyFile: %[4]s
containerRuntimeEndpoint: unix://%[5]s
podLogsDir: %[6]s
resolvConf: /etc/resolv.conf
# A small shared test machine: evict only when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, nodefs.inodesFree: 1%%, imagefs.available: 1%%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 40
serializeImagePulls: false
`, apiIP, path("pki", "ca.crt"), path("pki", "kubelet-serving.crt"), path("pki", "kubelet-serving.key"),
		path("containerd", "containerd.sock"), path("pod-logs"))
}

// kubeProxyConfig: iptables mode, leaving the host's conntrack sysctls
// alone, node ports only on the cluster's own address.
func kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %s}
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [%s/32]
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, path("kube-proxy.kubeconfig"), podCIDR, nodeName, apiIP)
}

func writeConfigs() error {
	for _, f := range []struct{ name, body string }{
		{"net.d/10-runh-k8s.conflist", cniConfig()},
		{"kubelet.yaml", kubeletConfig()},
		{"kube-proxy.yaml", kubeProxyConfig()},
	} {
		if err := os.WriteFile(path(f.name), []byte(f.body), 0o644); err != nil {
			return err
		}
	}
	for _, k := range []struct{ name, cert string }{
		{"admin", "admin"}, {"controller-manager", "controller-manager"}, {"scheduler", "scheduler"},
		{"kubelet", "kubelet"}, {"kube-proxy", "kube-proxy"},
	} {
		if err := writeKubeconfig(k.name, k.cert); err != nil {
			return err
		}
	}
	return nil
}
