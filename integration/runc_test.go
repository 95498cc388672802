package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/runtime"
)

// probe prints, from inside the container, what the hardening did.
const probe = `id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status;
touch /probe 2>/dev/null && echo ROOT-WRITABLE || echo ROOT-READONLY;
touch /tmp/probe && echo TMP-WRITABLE;
echo pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max);
echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)`

func TestHardenedContainerFromInside(t *testing.T) {
	c := newCtr(t, "sh", "-c", probe)
	r := c.mustRunh("run", c.id)
	want := []string{"65534", "CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2",
		"ROOT-READONLY", "TMP-WRITABLE", "pids=512", "mem=268435456"}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("missing %q in container output:\n%s", w, r.stdout)
		}
	}
	if !c.stateEmpty() {
		t.Error("state left after run")
	}
}

// TestSeccompDenies: the profile's denials take effect inside.
func TestSeccompDenies(t *testing.T) {
	c := newCtr(t, "sh", "-c", "unshare -n true && echo UNSHARE-OK; mount -t tmpfs x /tmp 2>&1 && echo MOUNT-OK; echo done")
	r := c.mustRunh("run", c.id)
	if strings.Contains(r.stdout, "UNSHARE-OK") || strings.Contains(r.stdout, "MOUNT-OK") || !strings.Contains(r.stdout, "done") {
		t.Fatalf("seccomp did not deny:\n%s", r.stdout)
	}
}

// TestSeccompStacksClientProfile: a client profile that denies something
// runh's allows (a Kubernetes Localhost profile blocking chmod) stays in
// force, and runh's filter is stacked on it: two filters, for the init and
// for exec processes, and chmod fails with the client's EPERM although /tmp
// is writable.
func TestSeccompStacksClientProfile(t *testing.T) {
	c := newCtr(t, "sh", "-c", "touch /tmp/f; chmod 600 /tmp/f 2>&1; grep -E '^Seccomp(_filters)?:' /proc/self/status; unshare -n true || echo UNSHARE-DENIED; sleep 30")
	c.edit(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"chmod", "fchmod", "fchmodat", "fchmodat2"}, Action: specs.ActErrno}}}
	})
	c.mustRunh("run", "-d", c.id)
	waitStatus(t, c, "running")
	r := c.runh("exec", c.id, "sh", "-c", "grep -E '^Seccomp(_filters)?:' /proc/self/status; chmod 600 /tmp/f 2>&1")
	for _, w := range []string{"Seccomp:\t2", "Seccomp_filters:\t2", "Operation not permitted"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("exec: missing %q in:\n%s", w, r.stdout)
		}
	}
	c.mustRunh("kill", c.id, "KILL")
}

// hostNetNS is the test's own network namespace, the host's.
var hostNetNS = "/proc/" + itoa(os.Getpid()) + "/ns/net"

func TestDenials(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(*specs.Spec)
	}{
		{"docker socket", `mounts[7]: bind mount of container engine socket /var/run/docker.sock is not allowed (rule host-mounts)`, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/s", Type: "bind", Source: "/var/run/docker.sock", Options: []string{"rbind"}})
		}},
		{"host root", `bind mount of host path / is not allowed (rule host-mounts)`, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/host", Type: "bind", Source: "/", Options: []string{"rbind"}})
		}},
		{"privileged device", `device /dev/sda (b 8:0) is not allowed (rule devices)`, func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/sda", Type: "b", Major: 8})
		}},
		{"host network", `joining the host's network namespace (` + hostNetNS + `) is not allowed (rule private-namespaces)`, func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = hostNetNS
				}
			}
		}},
		{"hook", `hook /bin/sh (args [], env [], resolves to`, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh"}}}
		}},
		{"sysctl", `sysctl kernel.core_pattern is not in the safe set (rule sysctls)`, func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/tmp/x"}
		}},
		{"leaky vessels cwd", `(CVE-2024-21626) (rule cwd-fd)`, func(s *specs.Spec) { s.Process.Cwd = "/proc/self/fd/7" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCtr(t, "true")
			c.edit(tc.edit)
			before, _ := os.ReadFile(c.config())
			for _, cmd := range []string{"create", "run"} {
				r := c.runh(cmd, c.id)
				if r.code == 0 {
					t.Fatalf("%s succeeded", cmd)
				}
				if !strings.Contains(r.stderr, tc.want) || !strings.HasPrefix(r.stderr, `runh: denied by profile "restricted": `) {
					t.Fatalf("%s stderr %q, want %q", cmd, r.stderr, tc.want)
				}
				line := c.lastLogLine()
				first, _, _ := strings.Cut(r.stderr, "\n")
				if line["level"] != "error" || line["msg"] != first || line["time"] == "" || !strings.Contains(r.stderr, "\nrunh: hint: ") {
					t.Fatalf("log line %v", line)
				}
				if after, _ := os.ReadFile(c.config()); !bytes.Equal(before, after) {
					t.Fatal("config.json changed on refusal")
				}
				if !c.stateEmpty() {
					t.Fatal("state left under --root after refusal")
				}
			}
		})
	}
}

// TestLifecycleMatchesRunc: create through runh, then every pass-through
// command gives what runc gives.
func TestLifecycleMatchesRunc(t *testing.T) {
	c := newCtr(t, "sleep", "60")
	pidFile := filepath.Join(c.bundle, "init.pid")
	c.mustRunh("create", "--bundle", c.bundle, "--pid-file", pidFile, c.id)
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatal("no pid file")
	}
	same := func(args ...string) string {
		t.Helper()
		a, b := c.runh(args...), c.runc(args...)
		if a.stdout != b.stdout || a.code != b.code {
			t.Fatalf("%v: runh %q (%d), runc %q (%d)", args, a.stdout, a.code, b.stdout, b.code)
		}
		return a.stdout
	}
	if !strings.Contains(same("state", c.id), `"status": "created"`) {
		t.Fatal("not created")
	}
	c.mustRunh("start", c.id)
	same("state", c.id)
	// ps's table has a CPU-percent column that moves between two calls;
	// its JSON form is the pid list.
	same("ps", "--format", "json", c.id)
	if r := c.mustRunh("ps", c.id); !strings.Contains(r.stdout, "sleep 60") {
		t.Fatalf("ps: %q", r.stdout)
	}
	same("list")
	c.mustRunh("pause", c.id)
	if !strings.Contains(same("state", c.id), `"status": "paused"`) {
		t.Fatal("not paused")
	}
	c.mustRunh("resume", c.id)
	c.mustRunh("kill", c.id, "9")
	waitStatus(t, c, "stopped")
	c.mustRunh("delete", c.id)
	if !c.stateEmpty() {
		t.Fatal("state left after delete")
	}
}

func waitStatus(t *testing.T, c *ctr, status string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var st struct{ Status string }
		json.Unmarshal([]byte(c.runc("state", c.id).stdout), &st)
		if st.Status == status {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("container never reached %s", status)
}

func TestExecHardened(t *testing.T) {
	c := newCtr(t, "sleep", "60")
	c.mustRunh("run", "--detach", c.id)
	all := []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_NET_RAW"}
	p := specs.Process{User: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, Cwd: "/", Env: []string{"PATH=/bin"},
		Args:         []string{"sh", "-c", "id -u; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"},
		Capabilities: &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all}}
	data, _ := json.Marshal(p)
	pf := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(pf, data, 0o600)
	r := c.mustRunh("exec", "--process", pf, c.id)
	for _, w := range []string{"65534\n65534\n", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("exec --process: missing %q in\n%s", w, r.stdout)
		}
	}
	// The CLI form, as `docker exec -u 0 --privileged` would ask.
	r = c.mustRunh("exec", "-u", "0:0", "--cap", "CAP_SYS_ADMIN", "--no-new-privs=false", c.id, "sh", "-c", "id -u; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; ls /proc/self/fd | wc -l")
	for _, w := range []string{"65534\n", "CapEff:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("exec flags: missing %q in\n%s", w, r.stdout)
		}
	}
	// Only stdio and ls's own directory fd: runh's memfd did not leak.
	if !strings.HasSuffix(strings.TrimSpace(r.stdout), "4") {
		t.Errorf("fds in the exec'd process:\n%s", r.stdout)
	}
}

func TestPidFileAndPreserveFds(t *testing.T) {
	c := newCtr(t, "sh", "-c", "echo through-fd-3 >&3")
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	pidFile := filepath.Join(c.bundle, "pid")
	ctx := t.Context()
	cmd := c.cmd(ctx, runhBin, "create", "--pid-file", pidFile, "--preserve-fds", "1", c.id)
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v", err)
	}
	wr.Close()
	data, _ := os.ReadFile(pidFile)
	if !regexp.MustCompile(`^[0-9]+$`).Match(bytes.TrimSpace(data)) {
		t.Fatalf("pid file %q", data)
	}
	c.mustRunh("start", c.id)
	got := make([]byte, 64)
	n, _ := rd.Read(got)
	if string(got[:n]) != "through-fd-3\n" {
		t.Fatalf("read %q from the preserved fd", got[:n])
	}
}

// TestConsoleSocket: a tty container gets its pty master sent over
// --console-socket, as containerd's shim and conmon do.
func TestConsoleSocket(t *testing.T) {
	c := newCtr(t, "sh", "-c", "tty; id -u")
	c.edit(func(s *specs.Spec) { s.Process.Terminal = true })
	sock := filepath.Join(t.TempDir(), "pty.sock")
	ln, err := newConsoleListener(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	master := make(chan *os.File, 1)
	go func() {
		f, err := ln.receive()
		if err != nil {
			t.Error(err)
		}
		master <- f
	}()
	c.mustRunh("create", "--console-socket", sock, c.id)
	var m *os.File
	select {
	case m = <-master:
	case <-time.After(10 * time.Second):
		t.Fatal("no pty master received")
	}
	if m == nil {
		t.Fatal("no pty master")
	}
	defer m.Close()
	c.mustRunh("start", c.id)
	var out bytes.Buffer
	buf := make([]byte, 256)
	m.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.Contains(out.String(), "65534") {
		n, err := m.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "65534") {
		t.Fatalf("tty output %q", out.String())
	}
}

func TestUpdateChecked(t *testing.T) {
	c := newCtr(t, "sleep", "60")
	c.mustRunh("run", "--detach", c.id)
	if r := c.exec(runhBin, `{"pids":{"limit":100}}`, "update", "--resources", "-", c.id); r.code != 0 {
		t.Fatalf("update within limits: %d %s", r.code, r.stderr)
	}
	r := c.exec(runhBin, `{"memory":{"limit":-1}}`, "update", "--resources", "-", c.id)
	if r.code == 0 || !strings.Contains(r.stderr, "update would remove the memory limit") {
		t.Fatalf("unlimited memory: %d %s", r.code, r.stderr)
	}
	if r := c.runh("update", "--pids-limit", "-1", c.id); r.code == 0 {
		t.Fatal("pids-limit -1 accepted")
	}
	r = c.mustRunh("exec", c.id, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
	if strings.TrimSpace(r.stdout) != "100" {
		t.Fatalf("pids.max after update: %q", r.stdout)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCommandTableMatchesRunc: every command the pinned runc lists is in
// runh's table, and every runc-facing entry of the table exists in runc.
func TestCommandTableMatchesRunc(t *testing.T) {
	_, err := os.Stat(runcBin)
	require(t, err == nil, "bin/runc")
	out, err := exec.Command(runcBin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	section := string(out[bytes.Index(out, []byte("COMMANDS:")):bytes.Index(out, []byte("GLOBAL OPTIONS:"))])
	runcCmds := map[string]bool{}
	for _, line := range strings.Split(section, "\n")[1:] {
		names, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				runcCmds[n] = true
			}
		}
	}
	if len(runcCmds) < 17 {
		t.Fatalf("parsed only %v from runc --help", runcCmds)
	}
	for n := range runcCmds {
		if _, ok := runtime.Commands[n]; !ok {
			t.Errorf("runc command %q is not classified by runh", n)
		}
	}
	for n, class := range runtime.Commands {
		if class != runtime.Own && !runcCmds[n] {
			t.Errorf("runh classifies %q (%s), which runc does not have", n, class)
		}
	}
}

func TestVersionKeepsRuncLines(t *testing.T) {
	prerequisites(t)
	cmd := exec.Command(runhBin, "--version")
	cmd.Env = append(os.Environ(), "RUNH_RUNC="+runcBin)
	out, err := cmd.Output()
	runcOut, _ := exec.Command(runcBin, "--version").Output()
	rest := strings.TrimPrefix(string(out), string(runcOut))
	if err != nil || len(runcOut) == 0 || !strings.HasPrefix(string(out), string(runcOut)) || !regexp.MustCompile(`^runh version \S+\n$`).MatchString(rest) {
		t.Fatalf("version output %q (%v)", out, err)
	}
}
