#!/usr/bin/env bash
# Runs critest (cri-tools v1.37.0) through a private containerd 2.4.2 whose
# RuntimeClass handler "peer" is the runc shim with BinaryName = the runtime
# under test: containerd -> containerd-shim-runc-v2 -> RUNTIME, the path a
# kubelet takes. Images come from the private registry setup-critest.sh
# filled, through containerd's registry mirror config (original names).
# Usage: run-critest.sh WORKDIR runc|runh|runh-userns OUTDIR   (root; after
# setup-critest.sh WORKDIR, which writes the registry's config and images)
# Registry and containerd are stopped by PID on exit, their shims too; the
# pods are removed first so that mounts, netns and the bridge go with them.
set -uo pipefail
W=$(cd "${1:?usage: $0 WORKDIR runc|runh|runh-userns OUTDIR}" && pwd)
which=${2:?runc or runh}
OUT=${3:?outdir}
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$W/bin
C2=$top/bin/containerd2
case $which in
runc) RUNTIME=$top/bin/runc ;;
runh) RUNTIME=$top/bin/runh ;;
# The userns profile, by the name runh install --profile userns gives it.
runh-userns) ln -sfn runh "$top/bin/runh-userns" && RUNTIME=$top/bin/runh-userns ;;
*) echo "run-critest.sh: runtime must be runc, runh or runh-userns, not $which" >&2; exit 2 ;;
esac
REG=127.0.0.1:5055
# Skipped for runc and runh alike: image-service-only tests (they never reach
# the OCI runtime), port mapping / port-forward (no portmap and iptables
# wiring here), AppArmor/SELinux (not enabled on this kernel), NRI and image
# volumes (need plugins this containerd does not run).
SKIP='Image Manager|Image Consistency|Image Identifier|port mapping|portforward|PortForward|AppArmor|SELinux|NRI|image volume|ImageVolume'
R=$W/run-$which
mkdir -p "$OUT"
SOCK=$R/containerd.sock
crictl() { "$top/bin/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" "$@"; }
pids=()
unmount_under() { awk -v r="$1/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null; }
unmount_run() { unmount_under "$R"; }
# critest's mount-propagation tests bind-mount /tmp/test<pod id><n>/mnt on
# the host. When the runtime refuses the container (runh restricted refuses
# shared propagation), their cleanup stops at its first unmount, of a mount
# the container would have made, and leaves the bind mount and the
# directory behind; a refused pod-log test leaves /tmp/podLogTest<n>.
# Remove the ones made during this run, and a directory only once nothing
# is mounted under it.
marker=$(mktemp)
remove_critest_tmp() {
	local d
	for d in $(find /tmp -maxdepth 1 -type d -regextype posix-extended -regex '/tmp/(test[0-9a-f]{64}|podLogTest)[0-9]+' -newer "$marker"); do
		unmount_under "$d"
		awk -v r="$d/" 'index($5, r) == 1 {f = 1} END {exit f}' /proc/self/mountinfo && rm -rf "$d"
	done
}
cleanup() {
	[ -S "$SOCK" ] && crictl rmp -fa >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	# Shims outlive containerd by design; stop those attached to our socket.
	for p in $(ps -eo pid=,args= | awk -v s="-address $SOCK" 'index($0, "containerd-shim") && index($0, s) {print $1}'); do
		kill -9 "$p" 2>/dev/null
	done
	unmount_run
	remove_critest_tmp
	rm -f "$marker"
	ip link del runhcri0 2>/dev/null
	# Empty pod cgroups containerd left (rmdir refuses busy ones).
	find /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/k8s.io -depth -type d -exec rmdir {} + 2>/dev/null
	rm -rf /var/lib/cni/networks/runh-critest
	return 0
}
trap cleanup EXIT
unmount_run
rm -rf "$R" /var/lib/cni/networks/runh-critest
mkdir -p "$R/net.d"

"$B/registry" serve "$W/registry.yml" >"$OUT/registry.log" 2>&1 &
pids+=($!)

for upstream in registry.k8s.io gcr.io docker.io; do
	mkdir -p "$R/certs.d/$upstream"
	printf 'server = "https://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$upstream" "$REG" >"$R/certs.d/$upstream/hosts.toml"
done
cat >"$R/net.d/10-critest.conflist" <<'JSON'
{"cniVersion": "1.0.0", "name": "runh-critest", "plugins": [
  {"type": "bridge", "bridge": "runhcri0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.232.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}]}
JSON
# restrict_oom_score_adj: this VM's bounding set lacks CAP_SYS_RESOURCE, so
# no runtime can lower oom_score_adj (pause asks for -998).
cat >"$R/containerd.toml" <<TOML
version = 3
root = "$R/root"
state = "$R/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "registry.k8s.io/pause:3.10"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$R/certs.d"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$top/bin/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$R/net.d"
TOML
# The handler under test, registered the way an operator does.
"$top/bin/runh" install containerd --config "$R/containerd.toml" --name peer --path "$RUNTIME" >"$OUT/install.log" || exit 2
PATH=$C2:$PATH "$C2/containerd" --config "$R/containerd.toml" >"$OUT/containerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do crictl version >/dev/null 2>&1 && break; sleep 0.5; done
crictl version >/dev/null || { echo "run-critest.sh: containerd did not start; see $OUT/containerd.log" >&2; exit 2; }

start=$(date +%s)
timeout 1200 "$B/critest" -runtime-endpoint "unix://$SOCK" -image-endpoint "unix://$SOCK" \
	-runtime-handler peer -ginkgo.skip "$SKIP" -ginkgo.no-color -ginkgo.junit-report "$OUT/junit.xml" >"$OUT/critest.log" 2>&1
rc=$?
{
	echo "critest through containerd 2.4.2, handler peer -> $RUNTIME: rc=$rc, $(($(date +%s) - start)) s"
	grep -E '^(Ran [0-9]+ of|(FAIL|SUCCESS)!)' "$OUT/critest.log" | tail -2
} | tee "$OUT/summary.txt"
exit 0
