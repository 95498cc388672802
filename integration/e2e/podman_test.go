//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPodman runs Podman with its state under a temporary directory and no
// network (netns "none"). No RUNH_RUNC is set: Podman does not pass its
// environment to every runtime call, so runh must find the runc installed
// next to it.
func TestPodman(t *testing.T) {
	require(t, os.Geteuid() == 0, "root")
	_, err := exec.LookPath("podman")
	require(t, err == nil, "podman (apt-get install podman)")
	dir, err := os.MkdirTemp("/tmp", "runh-podman-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "runroot"))), 0o644)
	// No default_ulimits: Podman asks for nofile 1048576, above this
	// node's hard limit; runh clamps it instead of runc failing.
	os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(fmt.Sprintf(`[containers]
log_driver = "k8s-file"
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
tmp_dir = %q
`, filepath.Join(dir, "events.log"), filepath.Join(dir, "tmp"))), 0o644)
	// Register runh the way an operator does.
	if out, stderr, code := runBounded(nil, runhBin, "install", "podman", "--config", filepath.Join(dir, "containers.conf"), "--path", runhBin); code != 0 || !strings.Contains(out, `registered runtime "runh"`) {
		t.Fatalf("runh install podman: exit %d\n%s%s", code, out, stderr)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir,
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"), "CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf")}
	podman := func(args ...string) (string, string, int) { return runBounded(env, "podman", args...) }
	t.Cleanup(func() {
		podman("rm", "-af", "-t", "0")
		podman("system", "reset", "-f")
		unmountUnder(dir)
		removeEmptyCgroups("libpod_parent")
	})
	rootfs := filepath.Join(dir, "rootfs.tar")
	layer := busyboxLayer(t)
	os.WriteFile(rootfs, layer, 0o644)
	if _, stderr, code := podman("import", "--change", `CMD ["/bin/sh"]`, rootfs, "localhost/runh-e2e/busybox"); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	img := "localhost/runh-e2e/busybox"

	out, stderr, code := podman("run", "--rm", "--runtime", "runh", img, "sh", "-c", "id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; touch /x 2>/dev/null || echo ROOT-RO; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; ulimit -n")
	// Podman asks for pids 2048 (its pids_limit default), within the
	// profile's maximum, so it stays; no memory limit, so runh's default.
	if want := "65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nROOT-RO\n2048\n268435456\n"; code != 0 || !strings.HasPrefix(out, want) {
		t.Fatalf("run: exit %d stdout %q stderr %s", code, out, stderr)
	}
	// The edge profile as runtime runh-edge, with annotations that only
	// tighten: Podman passes --annotation into config.json.
	if out, stderr, code := runBounded(nil, runhBin, "install", "podman", "--profile", "edge", "--config", filepath.Join(dir, "containers.conf"), "--path", runhBin); code != 0 || !strings.Contains(out, `registered runtime "runh-edge"`) {
		t.Fatalf("runh install podman --profile edge: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = podman("run", "--rm", "--runtime", "runh-edge", "--pids-limit", "0", "--annotation", "runh.io/memory=32Mi", img, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes")
	if code != 0 || out != "128\n33554432\n" {
		t.Fatalf("runh-edge with runh.io/memory=32Mi: exit %d stdout %q stderr %s", code, out, stderr)
	}
	if _, stderr, code := podman("run", "--rm", "--runtime", "runh-edge", "--annotation", "runh.io/memory=4Gi", img, "true"); code == 0 || !strings.Contains(stderr, "annotations.runh.io/memory") {
		t.Fatalf("runh.io/memory=4Gi: exit %d stderr %q", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--privileged"}, "(rule devices)"},
		{[]string{"-v", "/etc:/e"}, "bind mount of host path /etc is not allowed (rule host-mounts)"},
	} {
		_, stderr, code := podman(append(append([]string{"run", "--rm", "--runtime", "runh"}, tc.args...), img, "true")...)
		if code == 0 || !strings.Contains(stderr, `runh: denied by profile "restricted"`) || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q", tc.args, code, stderr)
		}
		t.Logf("podman shows: %s", strings.TrimSpace(stderr))
	}
	if _, stderr, code := podman("run", "-d", "--name", "long", "--runtime", "runh", img, "sleep", "300"); code != 0 {
		t.Fatalf("run -d: %s", stderr)
	}
	for _, args := range [][]string{{"-u", "0"}, {"--privileged"}} {
		out, stderr, code := podman(append(append([]string{"exec"}, args...), "long", "sh", "-c", "id -u; grep -E '^(CapEff|Seccomp):' /proc/self/status")...)
		if code != 0 || out != "65534\nCapEff:\t0000000000000000\nSeccomp:\t2\n" {
			t.Errorf("exec %v: exit %d stdout %q stderr %q", args, code, out, stderr)
		}
	}
	if out, _, code := runBounded(env, "script", "-qec", "podman exec -it -u 0 long sh -c 'tty; id -u'", "/dev/null"); code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "65534") {
		t.Errorf("exec -it: exit %d output %q", code, out)
	}
	for _, step := range [][]string{{"pause", "long"}, {"unpause", "long"}, {"kill", "-s", "USR1", "long"}, {"stop", "-t", "1", "long"}, {"start", "long"}, {"rm", "-f", "-t", "0", "long"}} {
		if _, stderr, code := podman(step...); code != 0 {
			t.Errorf("%v: %s", step, stderr)
		}
	}
}
