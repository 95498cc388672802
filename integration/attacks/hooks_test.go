package attacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/integration/harness"
)

const (
	hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hex12 = "0123456789ab"
)

// setkeyArgs are dockerd's libnetwork-setkey hook arguments, exactly the
// shape runh's allowlist takes.
var setkeyArgs = []string{"libnetwork-setkey", "-exec-root=/run/x", hex64, hex12}

// dockerdPath is where the host's dockerd is (the hook allowlist knows
// /usr/bin, /usr/sbin and /usr/local/bin).
func dockerdPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dockerd")
	harness.Require(t, err == nil, "dockerd (apt-get install docker.io)")
	p, err = filepath.EvalSymlinks(p)
	harness.Require(t, err == nil, "dockerd resolves")
	return p
}

// evilHook writes an executable named dockerd into dir that records that
// it ran (uid and args) in marker, and exits 0: the attacker's code.
func evilHook(t *testing.T, dir, marker string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "dockerd")
	script := fmt.Sprintf("#!/bin/sh\necho \"ran as uid $(id -u): $*\" >> %s\nexit 0\n", marker)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHookAllowlistedWithEnv: the allowlisted hook with the attacker's
// environment (runh issue 13). dockerd's libnetwork-setkey hook, exactly
// as Docker writes it, plus env ["LD_PRELOAD=/tmp/evil.so"]: the dynamic
// loader would run the attacker's library inside dockerd, as root on the
// host. runh refuses it (hooks.prestart[0], rule hooks).
//
// Plain runc half: runc runs hooks on the host with the env the config
// gives; shown with a harmless hook (/bin/sh printing $LD_PRELOAD into a
// file) rather than dockerd with a real library.
func TestHookAllowlistedWithEnv(t *testing.T) {
	dockerd := dockerdPath(t)
	c := newCtr(t, "true")
	cleanupCtr(t, c)
	out := filepath.Join(t.TempDir(), "hook-env")
	const preload = "/nonexistent/runh-evil.so"
	c.Edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{
			Path: "/bin/sh", Args: []string{"sh", "-c", "echo \"$LD_PRELOAD\" > " + out}, Env: []string{"LD_PRELOAD=" + preload},
		}}}
	})
	r := c.Runc("run", c.ID+"-runc")
	mustOK(t, r, "runc run")
	if got, err := os.ReadFile(out); err != nil || strings.TrimSpace(string(got)) != preload {
		t.Fatalf("plain runc: the hook did not run with the config's env: %q %v", got, err)
	}
	t.Logf("plain runc: a prestart hook ran on the host with LD_PRELOAD=%s from the config", preload)

	c.Edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: dockerd, Args: setkeyArgs, Env: []string{"LD_PRELOAD=/tmp/evil.so"}}}}
	})
	before := readFile(t, c.Config())
	r = c.Runh("create", c.ID)
	c.Refused(r, before, "hooks.prestart[0]", "hooks")
	noLeftovers(t, c, "refused create")
	r = c.Runh("run", c.ID)
	c.Refused(r, before, "hooks.prestart[0]", "hooks")
	noLeftovers(t, c, "refused run")

	// The same hook without the env is not refused by rule hooks (runc
	// then runs dockerd, which fails: there is no dockerd to answer).
	c.Edit(func(s *specs.Spec) { s.Hooks.Prestart[0].Env = nil })
	if r := c.Runh("run", c.ID); strings.Contains(r.Stderr, "(rule hooks)") {
		t.Errorf("runh refused the allowlisted hook without env too: %s", r.Stderr)
	}
	c.Runc("delete", "--force", c.ID)
	releasePins(t, c) // `run` leaves its pins (TestRunLeavesNoPins)
	c.Edit(func(s *specs.Spec) { s.Hooks.Prestart[0].Env = []string{"LD_PRELOAD=/tmp/evil.so"} })

	// createRuntime, the same.
	c.Edit(func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateRuntime: s.Hooks.Prestart} })
	before = readFile(t, c.Config())
	c.Refused(c.Runh("create", c.ID), before, "hooks.createRuntime[0]", "hooks")
	noLeftovers(t, c, "refused create (createRuntime)")
}

// TestHookPathSwappedAfterCreate: an allowlisted hook whose path goes
// through a directory symlink the bundle's author controls (runh issue 13,
// rule hooks). runh judges the hook by resolving its path once, at create,
// and hands runc the path unchanged; runc execs it by path when the hook
// runs, and a poststop hook runs at delete, long after runh is gone. At
// create L -> dockerd's directory, so L/dockerd resolves to the
// allowlisted dockerd; the author then points L at a directory of their
// own, and `runh delete` (passed to runc as is) runs their "dockerd" as
// root on the host. No race: the swap has all the time it wants.
func TestHookPathSwappedAfterCreate(t *testing.T) {
	dockerd := dockerdPath(t)
	base := t.TempDir()
	marker := filepath.Join(base, "hook-ran")
	evilDir := filepath.Join(base, "evil")
	evilHook(t, evilDir, marker)
	link := filepath.Join(base, "L")
	if err := os.Symlink(filepath.Dir(dockerd), link); err != nil {
		t.Fatal(err)
	}
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c)
	c.Edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: filepath.Join(link, "dockerd"), Args: setkeyArgs}}}
	})
	swap := func() {
		tmp := link + ".new"
		os.Remove(tmp)
		if err := os.Symlink(evilDir, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() {
		os.Remove(link)
		os.Symlink(filepath.Dir(dockerd), link)
		os.Remove(marker)
	}

	// Plain runc runs whatever is at the hook's path when the hook runs.
	mustOK(t, c.Runc("create", c.ID+"-runc"), "runc create")
	swap()
	c.Runc("delete", "--force", c.ID+"-runc")
	if got, err := os.ReadFile(marker); err != nil {
		t.Fatalf("plain runc: the swapped-in hook did not run: %v", err)
	} else {
		t.Logf("plain runc: the swapped-in poststop hook ran: %s", strings.TrimSpace(string(got)))
	}
	restore()

	before := readFile(t, c.Config())
	r := c.Runh("create", c.ID)
	if r.Code != 0 {
		c.Refused(r, before, "hooks.poststop[0]", "hooks")
		noLeftovers(t, c, "refused create")
		return
	}
	swap()
	r = c.Runh("delete", "--force", c.ID)
	if got, err := os.ReadFile(marker); err == nil {
		t.Errorf("ATTACK SUCCEEDED against runh: the attacker's \"dockerd\" ran as a poststop hook on the host: %s\n"+
			"reproduce: bundle with hooks.poststop = [{path: L/dockerd, args: %q}], L -> %s; runh create ID; ln -sfn EVILDIR L; runh delete --force ID",
			strings.TrimSpace(string(got)), setkeyArgs, filepath.Dir(dockerd))
	}
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
}

// TestHookRelativePath: an allowlisted hook given by a relative path
// (runh issue 13, rule hooks). runh resolves a hook's path against its own
// working directory (the client's bundle, where engines run it); runc
// chdirs into the private bundle runh gives it,
// /run/runh/bundles/KEY/ID/NONCE (six levels deep), and resolves the
// same path there. "../../../../../../tmp/X/dockerd" from a bundle six
// levels below a directory A of the author's is A/tmp/X/dockerd (A/tmp/X
// a symlink to dockerd's directory: allowlisted); from the private bundle
// it is /tmp/X/dockerd, the author's own program, which runc runs as a
// createRuntime hook, as root on the host, during `runh create`. No race.
func TestHookRelativePath(t *testing.T) {
	dockerd := dockerdPath(t)
	a := t.TempDir()
	marker := filepath.Join(a, "hook-ran")
	x := fmt.Sprintf("runh-attack-hook-%d", os.Getpid())
	evilDir := filepath.Join("/tmp", x)
	t.Cleanup(func() { os.RemoveAll(evilDir) })
	evilHook(t, evilDir, marker)
	if err := os.MkdirAll(filepath.Join(a, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(dockerd), filepath.Join(a, "tmp", x)); err != nil {
		t.Fatal(err)
	}
	rel := "../../../../../../tmp/" + x + "/dockerd"

	c := newCtr(t, "true")
	cleanupCtr(t, c)
	deep := filepath.Join(a, "1", "2", "3", "4", "5", "bundle")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	c.Edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: rel, Args: setkeyArgs}}}
	})
	if err := os.WriteFile(filepath.Join(deep, "config.json"), readFile(t, c.Config()), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Bundle = deep
	if p, err := filepath.EvalSymlinks(filepath.Join(deep, rel)); err != nil || p != dockerd {
		t.Fatalf("setup: %s from the bundle is %q (%v), want %s", rel, p, err, dockerd)
	}

	// Plain runc half: runc runs any hook; from the client's bundle (its
	// own cwd) this path is the real dockerd, so the evil one is shown by
	// its absolute path.
	abs := filepath.Join(evilDir, "dockerd")
	c.Edit(func(s *specs.Spec) { s.Hooks.CreateRuntime[0].Path = abs })
	r := c.Runc("run", c.ID+"-runc")
	if got, err := os.ReadFile(marker); err != nil {
		t.Fatalf("plain runc: the hook did not run (exit %d, %s): %v", r.Code, r.Stderr, err)
	} else {
		t.Logf("plain runc: a createRuntime hook at %s ran on the host: %s", abs, strings.TrimSpace(string(got)))
	}
	os.Remove(marker)
	c.Edit(func(s *specs.Spec) { s.Hooks.CreateRuntime[0].Path = rel })

	before := readFile(t, c.Config())
	r = c.Runh("create", c.ID)
	if got, err := os.ReadFile(marker); err == nil {
		t.Errorf("ATTACK SUCCEEDED against runh (create exit %d): the attacker's %s ran as a createRuntime hook on the host: %s\n"+
			"reproduce: A/tmp/%s -> %s; bundle A/1/2/3/4/5/bundle with hooks.createRuntime = [{path: %q, args: %q}]; cd there; runh create ID",
			r.Code, abs, strings.TrimSpace(string(got)), x, filepath.Dir(dockerd), rel, setkeyArgs)
	} else if r.Code != 0 {
		c.Refused(r, before, "hooks.createRuntime[0]", "hooks")
		noLeftovers(t, c, "refused create")
	}
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
}

// TestHookStartContainerFromImage: an allowlisted startContainer hook
// (runh issue 13, rules hooks and seccomp). runh resolves the hook's path
// on the host, where /usr/sbin/dockerd is Docker's; runc runs
// startContainer hooks inside the container, after pivot_root, so the
// same path is the image's own /usr/sbin/dockerd: the image author's
// program. It runs as the container's user, but before runh-init installs
// runh's seccomp filter (on runh's fast path runc installs none), and
// whatever it leaves running in the background keeps no filter at all
// while the workload shows Seccomp: 2.
func TestHookStartContainerFromImage(t *testing.T) {
	dockerd := dockerdPath(t)
	rfs := privateRootfs(t)
	tag := fmt.Sprint(9000 + os.Getpid()%1000)
	inImage := filepath.Join(rfs, dockerd)
	if err := os.MkdirAll(filepath.Dir(inImage), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nsleep " + tag + " </dev/null >/dev/null 2>&1 &\nexit 0\n"
	if err := os.WriteFile(inImage, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c)
	c.Edit(func(s *specs.Spec) {
		s.Root.Path = rfs
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: dockerd, Args: setkeyArgs}}}
	})
	// The image's program's background process, found from the host.
	findIn := func(wait time.Duration) int {
		want := "sleep\x00" + tag + "\x00"
		deadline := time.Now().Add(wait)
		for {
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range procs {
				if data, err := os.ReadFile(p); err == nil && string(data) == want {
					pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
					return pid
				}
			}
			if time.Now().After(deadline) {
				return 0
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	find := func() int { return findIn(3 * time.Second) }

	mustOK(t, c.Runc("create", c.ID+"-runc"), "runc create")
	mustOK(t, c.Runc("start", c.ID+"-runc"), "runc start")
	if pid := find(); pid == 0 {
		t.Fatal("plain runc: the image's hook program did not run")
	} else {
		t.Logf("plain runc: the image's %s ran as a startContainer hook; its child (pid %d) has Seccomp %s", dockerd, pid, statusField(t, pid, "Seccomp"))
	}
	c.Runc("delete", "--force", c.ID+"-runc")
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if findIn(0) == 0 {
			break
		}
	}

	before := readFile(t, c.Config())
	r := c.Runh("create", c.ID)
	if r.Code != 0 {
		c.Refused(r, before, "hooks.startContainer[0]", "hooks")
		noLeftovers(t, c, "refused create")
		return
	}
	mustOK(t, c.Runh("start", c.ID), "runh start")
	workload := statusField(t, initPid(t, c, c.ID), "Seccomp")
	if pid := find(); pid != 0 {
		if sc := statusField(t, pid, "Seccomp"); sc != "2" {
			t.Errorf("ATTACK SUCCEEDED against runh: the image's %s ran as an allowlisted startContainer hook and left pid %d in the container with Seccomp %s (Uid %s, NoNewPrivs %s), while the workload has Seccomp %s\n"+
				"reproduce: image with an executable %s; hooks.startContainer = [{path: %s, args: %q}]; runh create ID; runh start ID",
				dockerd, pid, sc, statusField(t, pid, "Uid"), statusField(t, pid, "NoNewPrivs"), workload, dockerd, dockerd, setkeyArgs)
		}
	}
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
}
