package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallScriptSystemd runs installer/install.sh the way the DaemonSet
// does on a systemd node, with fakes on PATH for what only a real node has
// (nsenter, systemctl, kubectl; sleep returns at once) and runh's real
// binaries as the image's. The no-systemd path (pidfile) runs for real in
// integration/k8s, against a supervised containerd.
func TestInstallScriptSystemd(t *testing.T) {
	repo, _ := filepath.Abs("../..")
	for _, b := range []string{"runh", "runh-core", "runh-init", "runc"} {
		if _, err := os.Stat(filepath.Join(repo, "bin", b)); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("bin/%s missing: make build first", b)
			}
			t.Skipf("SKIP: bin/%s missing (make build)", b)
		}
	}
	dir := t.TempDir()
	host, fake, proc := filepath.Join(dir, "host"), filepath.Join(dir, "fakebin"), filepath.Join(dir, "proc")
	calls := filepath.Join(dir, "calls")
	for _, d := range []string{host + "/opt/runh/bin", host + "/etc/containerd", fake, proc + "/1"} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(proc+"/1/comm", []byte("systemd\n"), 0o644)
	orig := "version = 3\n[plugins.\"io.containerd.cri.v1.runtime\".containerd]\n  default_runtime_name = \"runc\"\n"
	os.WriteFile(host+"/etc/containerd/config.toml", []byte(orig), 0o644)
	for _, f := range []string{"nsenter", "kubectl", "sleep"} {
		os.WriteFile(filepath.Join(fake, f), []byte("#!/bin/sh\necho \""+f+" $*\" >> "+calls+"\n"), 0o755)
	}
	script := func(action string, env ...string) (string, error) {
		os.Remove(calls)
		cmd := exec.Command("sh", filepath.Join(repo, "deploy/kubernetes/installer/install.sh"))
		cmd.Env = append([]string{"PATH=" + fake + ":/usr/bin:/bin", "NODE_NAME=node-1", "RUNH_ACTION=" + action,
			"HOST_ROOT=" + host, "DONE_FILE=" + filepath.Join(dir, "done"), "RUNH_IMAGE_DIR=" + filepath.Join(repo, "bin"), "PROC_ROOT=" + proc}, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := func(action string) string {
		t.Helper()
		if out, err := script(action); err != nil {
			t.Fatalf("install.sh %s: %v\n%s", action, err, out)
		}
		c, _ := os.ReadFile(calls)
		return string(c)
	}

	c := run("install")
	for _, want := range []string{
		"nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart containerd",
		"kubectl label node node-1 runh.dev/installed=true --overwrite",
		"sleep 2147483647",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("install did not run %q; calls:\n%s", want, c)
		}
	}
	cfg, _ := os.ReadFile(host + "/etc/containerd/config.toml")
	for _, h := range []string{"runh", "runh-edge", "runh-userns"} {
		if !strings.Contains(string(cfg), "runtimes."+h+"]") || !strings.Contains(string(cfg), "/opt/runh/bin/"+h+"'") {
			t.Errorf("handler %s not registered with its host path:\n%s", h, cfg)
		}
	}
	for _, b := range []string{"runh", "runh-core", "runh-init", "runc"} {
		if fi, err := os.Stat(host + "/opt/runh/bin/" + b); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s not installed 0755: %v", b, err)
		}
	}
	if l, _ := os.Readlink(host + "/opt/runh/bin/runh-edge"); l != "runh" {
		t.Errorf("runh-edge -> %q, want runh (relative, valid on the host)", l)
	}
	if left, _ := filepath.Glob(host + "/opt/runh/bin/.*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Again: nothing changed, so containerd is not restarted.
	if c := run("install"); strings.Contains(c, "systemctl") {
		t.Errorf("an unchanged config restarted containerd:\n%s", c)
	}

	// A profile name that would overwrite runh's own files, or that runh
	// does not know, stops the install before anything is touched.
	for _, bad := range []string{"edge core", "init", "nosuch"} {
		if out, err := script("install", "RUNH_PROFILES="+bad); err == nil || !strings.Contains(out, "RUNH_PROFILES") {
			t.Errorf("RUNH_PROFILES=%q: %v\n%s", bad, err, out)
		}
	}
	if fi, err := os.Lstat(host + "/opt/runh/bin/runh-core"); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("runh-core is no longer a regular file: %v", err)
	}

	// Uninstall when the node's pods cannot be listed: runh stays (a runh
	// pod may still need it).
	os.WriteFile(filepath.Join(fake, "kubectl"), []byte("#!/bin/sh\necho \"kubectl $*\" >> "+calls+"\ncase \"$1\" in get) echo Unauthorized >&2; exit 1;; esac\n"), 0o755)
	if out, err := script("uninstall"); err == nil || !strings.Contains(out, "runh stays installed") {
		t.Errorf("uninstall with kubectl failing: %v\n%s", err, out)
	}
	if _, err := os.Stat(host + "/opt/runh/bin/runh"); err != nil {
		t.Errorf("binaries removed although pods could not be listed: %v", err)
	}
	if cfg, _ := os.ReadFile(host + "/etc/containerd/config.toml"); !strings.Contains(string(cfg), "runtimes.runh]") {
		t.Errorf("handlers removed although pods could not be listed:\n%s", cfg)
	}
	os.WriteFile(filepath.Join(fake, "kubectl"), []byte("#!/bin/sh\necho \"kubectl $*\" >> "+calls+"\n"), 0o755)

	// Uninstall: label, handlers, restart; no runh pod runs (kubectl's fake
	// lists none), so the binaries go too.
	c = run("uninstall")
	for _, want := range []string{"kubectl label node node-1 runh.dev/installed-", "systemctl restart containerd"} {
		if !strings.Contains(c, want) {
			t.Errorf("uninstall did not run %q; calls:\n%s", want, c)
		}
	}
	cfg, _ = os.ReadFile(host + "/etc/containerd/config.toml")
	if strings.Contains(string(cfg), "runh") {
		t.Errorf("handlers left after uninstall:\n%s", cfg)
	}
	if _, err := os.Stat(host + "/opt/runh/bin"); !os.IsNotExist(err) {
		ents, _ := os.ReadDir(host + "/opt/runh/bin")
		t.Errorf("binaries left after uninstall: %v", ents)
	}
}
