package runtime_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/runtime"
)

// These tests run the built runh against testdata/fakerunc.sh, which
// records what it was handed. They need neither root nor a real runc.

var runhBin string

func TestMain(m *testing.M) {
	// Fuzzing runs no test that needs the binary, and each fuzz worker is
	// a process that would build it again.
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	// Nor does TestRuncDiesWithRunh's helper, which is killed: it would
	// leave its build in /tmp (5.7 MB a run).
	if os.Getenv(runtime.HelperPidFileEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "runh-test")
	if err != nil {
		panic(err)
	}
	runhBin = filepath.Join(dir, "runh")
	out, err := exec.Command("go", "build", "-tags", "runhtest", "-o", runhBin, "../cmd/runh").CombinedOutput()
	if err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fake struct {
	t      *testing.T
	dir    string
	bundle string
	env    []string
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{t: t, dir: t.TempDir(), bundle: t.TempDir()}
	runc, _ := filepath.Abs("../testdata/fakerunc.sh")
	// Its own state dir: runh.log and the filter cache stay out of /run/runh.
	f.env = append(os.Environ(), "RUNH_RUNC="+runc, "FAKERUNC_DIR="+f.dir, "RUNH_STATE_DIR="+filepath.Join(f.dir, "state"),
		"RUNH_CONFIG="+filepath.Join(f.dir, "config.toml"))
	// Its own operator config: the audit log and metrics stay in f.dir.
	f.setConfig("")
	// A create mounts runh's private-bundle tmpfs in the state dir.
	t.Cleanup(func() { unix.Unmount(filepath.Join(f.dir, "state", "bundles"), unix.MNT_DETACH) })
	os.MkdirAll(filepath.Join(f.bundle, "rootfs", "dev"), 0o755)
	// The image's command: runh looks it up at create, as runc does.
	os.MkdirAll(filepath.Join(f.bundle, "rootfs", "bin"), 0o755)
	os.WriteFile(filepath.Join(f.bundle, "rootfs", "bin", "true"), []byte("#!/bin/true\n"), 0o755)
	return f
}

// fakeRunhContainer makes what runh finds for a container it created: a
// runc state whose bundle is a private bundle carrying runh's annotation.
// It returns the state root.
func (f *fake) fakeRunhContainer(id string) string {
	f.t.Helper()
	root := filepath.Join(f.dir, "root")
	h := fnv.New64a()
	h.Write([]byte(root))
	priv := filepath.Join(f.dir, "state", "bundles", strconv.FormatUint(h.Sum64(), 16), id, "1.x")
	os.MkdirAll(priv, 0o711)
	os.MkdirAll(filepath.Join(root, id), 0o711)
	os.WriteFile(filepath.Join(priv, "config.json"), []byte(`{"ociVersion":"1.0.2","annotations":{"dev.runh.profile":"restricted"}}`), 0o600)
	os.WriteFile(filepath.Join(root, id, "state.json"), []byte(`{"config":{"labels":["bundle=`+priv+`"]}}`), 0o600)
	return root
}

// setConfig writes runh's operator config for this fake: top (top-level
// keys), runh's audit log, metrics and profiles.d in f.dir unless top sets
// them, then tables.
func (f *fake) setConfig(top string, tables ...string) {
	f.t.Helper()
	os.MkdirAll(filepath.Join(f.dir, "metrics"), 0o755)
	os.MkdirAll(filepath.Join(f.dir, "profiles.d"), 0o755)
	body := top + "\n"
	for _, kv := range [][2]string{{"audit_log", "audit.jsonl"}, {"metrics_dir", "metrics"}, {"profiles_dir", "profiles.d"}} {
		if !strings.Contains(top, kv[0]) {
			body += kv[0] + " = \"" + filepath.Join(f.dir, kv[1]) + "\"\n"
		}
	}
	body += strings.Join(tables, "\n")
	if err := os.WriteFile(filepath.Join(f.dir, "config.toml"), []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// auditRecords reads the fake's audit log.
func (f *fake) auditRecords() []map[string]any {
	f.t.Helper()
	data, _ := os.ReadFile(filepath.Join(f.dir, "audit.jsonl"))
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			f.t.Fatalf("audit line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func (f *fake) writeConfig(mutate func(*specs.Spec)) []byte {
	f.t.Helper()
	caps := []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{Args: []string{"true"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}},
		Root:  &specs.Root{Path: "rootfs"},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "mount"}}},
	}
	if mutate != nil {
		mutate(s)
	}
	data, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(f.bundle, "config.json"), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return data
}

// run runs runh and returns stdout, stderr and the exit code.
func (f *fake) run(extra []*os.File, args ...string) (string, string, int) {
	f.t.Helper()
	cmd := exec.Command(runhBin, args...)
	cmd.Env = f.env
	cmd.Dir = f.bundle
	cmd.ExtraFiles = extra
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (f *fake) argv() string {
	data, _ := os.ReadFile(filepath.Join(f.dir, "argv"))
	return string(data)
}

func TestPassThroughArgvUnchanged(t *testing.T) {
	f := newFake(t)
	args := []string{"--root", "/r", "--log", "/l.json", "--log-format", "json", "--root", "/r2", "kill", "--all", "ctr", "9"}
	out, stderr, code := f.run(nil, args...)
	if code != 0 || out != "" || stderr != "" {
		t.Fatalf("code %d stdout %q stderr %q", code, out, stderr)
	}
	if want := strings.Join(args, "\n") + "\n--\n"; f.argv() != want {
		t.Fatalf("argv %q, want %q", f.argv(), want)
	}
}

func TestPassThroughExitCode(t *testing.T) {
	f := newFake(t)
	f.env = append(f.env, "FAKERUNC_EXIT=7")
	if _, _, code := f.run(nil, "state", "ctr"); code != 7 {
		t.Fatalf("exit %d, want runc's 7", code)
	}
}

func TestFdsReachRuncAtTheirNumbers(t *testing.T) {
	f := newFake(t)
	r1, w1, _ := os.Pipe()
	r2, w2, _ := os.Pipe()
	defer func() { r1.Close(); w1.Close(); r2.Close(); w2.Close() }()
	f.run([]*os.File{r1, r2}, "start", "ctr")
	fds, _ := os.ReadFile(filepath.Join(f.dir, "fds"))
	if !strings.HasPrefix(string(fds), "0 1 2 3 4 ") {
		t.Fatalf("fds in runc: %q", fds)
	}
}

func TestUnknownCommandRefused(t *testing.T) {
	f := newFake(t)
	_, stderr, code := f.run(nil, "frobnicate", "ctr")
	if code == 0 || !strings.Contains(stderr, `unknown command "frobnicate"`) || f.argv() != "" {
		t.Fatalf("code %d stderr %q argv %q", code, stderr, f.argv())
	}
}

func TestDenialLeavesConfigAndCallsNoRunc(t *testing.T) {
	f := newFake(t)
	orig := f.writeConfig(func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8}}
	})
	logPath := filepath.Join(f.bundle, "log.json")
	out, stderr, code := f.run(nil, "--log", logPath, "--log-format", "json", "create", "--bundle", f.bundle, "ctr")
	if code != 1 || out != "" {
		t.Fatalf("code %d stdout %q", code, out)
	}
	want := `runh: denied by profile "restricted": linux.devices[0]: device /dev/sda (b 8:0) is not allowed (rule devices)`
	if stderr != want+"\nrunh: hint: runh passes no host devices: --privileged and --device are not supported\n" {
		t.Fatalf("stderr %q", stderr)
	}
	logData, _ := os.ReadFile(logPath)
	var line map[string]string
	if err := json.Unmarshal(logData, &line); err != nil || line["level"] != "error" || line["msg"] != want {
		t.Fatalf("log %q: %v", logData, err)
	}
	if now, _ := os.ReadFile(filepath.Join(f.bundle, "config.json")); !bytes.Equal(now, orig) {
		t.Fatal("config.json changed on refusal")
	}
	if f.argv() != "" {
		t.Fatalf("runc was called: %q", f.argv())
	}
}

// TestCreateHardensAndVerifies: runc gets the hardened config and the same
// argv; then verification finds the fake's unhardened "init" and runh
// deletes the container and fails, closed.
func TestCreateHardensAndVerifies(t *testing.T) {
	f := newFake(t)
	f.writeConfig(nil)
	args := []string{"--root", "/r", "create", "--bundle", f.bundle, "--pid-file", filepath.Join(f.dir, "init.pid"), "ctr"}
	_, stderr, code := f.run(nil, args...)
	data, err := os.ReadFile(filepath.Join(f.dir, "config.json"))
	if err != nil {
		t.Fatalf("runc got no config: %v", err)
	}
	var s specs.Spec
	json.Unmarshal(data, &s)
	if s.Process.User.UID != 65534 || !s.Root.Readonly || s.Linux.Seccomp == nil || !s.Process.NoNewPrivileges {
		t.Fatalf("runc got an unhardened config: %s", data)
	}
	// runc gets runh's private bundle, the caller's flags, and the id.
	priv := filepath.Join(f.dir, "state", "bundles") + "/"
	want := regexp.MustCompile(`^--root\n/r\ncreate\n--bundle\n` + regexp.QuoteMeta(priv) + `[0-9a-f]+/ctr/[0-9]+\.[0-9a-z]+\n--pid-file=` + regexp.QuoteMeta(filepath.Join(f.dir, "init.pid")) + `\n--\nctr\n--\n`)
	if !want.MatchString(f.argv()) {
		t.Fatalf("create argv %q", f.argv())
	}
	if now, _ := os.ReadFile(filepath.Join(f.bundle, "config.json")); bytes.Contains(now, []byte("65534")) {
		t.Fatal("the caller's config.json was rewritten")
	}
	if code != 1 || !strings.Contains(stderr, "post-create verification failed") {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "deleted")); err != nil {
		t.Fatal("container not deleted after failed verification")
	}
	if !strings.Contains(f.argv(), "delete\n--force\nctr\n") {
		t.Fatalf("no delete --force: %q", f.argv())
	}
}

func TestExecProcessHardenedInMemfd(t *testing.T) {
	f := newFake(t)
	p := specs.Process{User: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, Args: []string{"sh"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_ADMIN"}, Effective: []string{"CAP_SYS_ADMIN"}}}
	data, _ := json.Marshal(p)
	pf := filepath.Join(f.bundle, "process.json")
	os.WriteFile(pf, data, 0o600)
	root := f.fakeRunhContainer("ctr")
	_, stderr, code := f.run(nil, "--root", root, "exec", "--process", pf, "--detach", "--pid-file", "/x.pid", "ctr")
	if code != 0 {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	argv := f.argv()
	if !strings.Contains(argv, "--process\n/proc/self/fd/") || strings.Contains(argv, pf) || !strings.Contains(argv, "--detach=true") || !strings.Contains(argv, "--pid-file=/x.pid") {
		t.Fatalf("exec argv %q", argv)
	}
	got, _ := os.ReadFile(filepath.Join(f.dir, "process.json"))
	var hp specs.Process
	if err := json.Unmarshal(got, &hp); err != nil || hp.User.UID != 65534 || len(hp.User.AdditionalGids) != 0 || len(hp.Capabilities.Bounding) != 0 || !hp.NoNewPrivileges {
		t.Fatalf("runc got %s (%v)", got, err)
	}
	if now, _ := os.ReadFile(pf); !bytes.Equal(now, data) {
		t.Fatal("caller's process.json was modified")
	}
}

func TestUpdateRemovingLimitRefused(t *testing.T) {
	f := newFake(t)
	cmd := exec.Command(runhBin, "update", "--resources", "-", "ctr")
	cmd.Env = f.env
	cmd.Stdin = strings.NewReader(`{"pids":{"limit":-1}}`)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "update would remove the pids limit") || f.argv() != "" {
		t.Fatalf("err %v out %q argv %q", err, out, f.argv())
	}
}

func TestRuncSelfLoopRefused(t *testing.T) {
	f := newFake(t)
	f.env = append(f.env, "RUNH_RUNC="+runhBin)
	_, stderr, code := f.run(nil, "state", "x")
	if code == 0 || !strings.Contains(stderr, "is runh itself") {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
}

func TestRuncOnPathSkipsRunhItself(t *testing.T) {
	f := newFake(t)
	self := t.TempDir()
	os.Symlink(runhBin, filepath.Join(self, "runc"))
	real := t.TempDir()
	fr, _ := filepath.Abs("../testdata/fakerunc.sh")
	os.Symlink(fr, filepath.Join(real, "runc"))
	var env []string
	for _, e := range f.env {
		if !strings.HasPrefix(e, "RUNH_RUNC=") && !strings.HasPrefix(e, "PATH=") {
			env = append(env, e)
		}
	}
	f.env = append(env, "PATH="+self+":"+real+":/usr/bin:/bin")
	if _, stderr, code := f.run(nil, "state", "x"); code != 0 || f.argv() == "" {
		t.Fatalf("code %d stderr %q: the fake runc after runh's own link was not used", code, stderr)
	}
}

func TestOwnCommandsHelp(t *testing.T) {
	f := newFake(t)
	out, _, code := f.run(nil, "--help")
	if code != 0 || !strings.Contains(out, "drop-in for runc") || !strings.Contains(out, "runh check --bundle") {
		t.Fatalf("help: %d %q", code, out)
	}
	f.writeConfig(nil)
	out, _, code = f.run(nil, "check", "--bundle", f.bundle)
	if code != 0 || !strings.Contains(out, "process.user.uid: 0 -> 65534") {
		t.Fatalf("check: %d %q", code, out)
	}
	if _, stderr, code := f.run(nil, "profile", "show", "permissive"); code == 0 || !strings.Contains(stderr, "unknown profile") {
		t.Fatalf("unknown profile: %d %q", code, stderr)
	}
}

// TestCompatProfile: the operator's --runh-profile compat passes the spec
// through as written, logs loudly, and runc never sees the flag.
func TestCompatProfile(t *testing.T) {
	f := newFake(t)
	f.writeConfig(func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8}}
	})
	logPath := filepath.Join(f.bundle, "log.json")
	args := []string{"--runh-profile", "compat", "--log", logPath, "--log-format", "json", "create", "--bundle", f.bundle, "ctr"}
	f.run(nil, args...)
	if strings.Contains(f.argv(), "runh-profile") || !strings.HasPrefix(f.argv(), "--log\n"+logPath) {
		t.Fatalf("runc argv %q", f.argv())
	}
	data, _ := os.ReadFile(filepath.Join(f.dir, "config.json"))
	var s specs.Spec
	json.Unmarshal(data, &s)
	if s.Process.User.UID != 0 || len(s.Linux.Devices) != 1 || s.Linux.Seccomp != nil {
		t.Fatalf("compat changed the spec: %s", data)
	}
	logData, _ := os.ReadFile(logPath)
	if !strings.Contains(string(logData), `NOT hardened`) || !strings.Contains(string(logData), `would refuse`) || !strings.Contains(string(logData), `"level":"warning"`) {
		t.Fatalf("compat not logged loudly: %s", logData)
	}
	// Pass-through drops the flag too; an unknown profile is refused.
	f2 := newFake(t)
	f2.run(nil, "--runh-profile=compat", "state", "ctr")
	if f2.argv() != "state\nctr\n--\n" {
		t.Fatalf("pass-through argv %q", f2.argv())
	}
	f2.writeConfig(nil)
	if _, stderr, code := f2.run(nil, "--runh-profile", "permissive", "create", "ctr"); code == 0 || !strings.Contains(stderr, "unknown profile") {
		t.Fatalf("unknown profile: %d %q", code, stderr)
	}
}

// TestRuncNextToRunh: without RUNH_RUNC (Podman drops the environment on
// some calls), runh uses the runc installed next to it before PATH.
func TestRuncNextToRunh(t *testing.T) {
	f := newFake(t)
	dir := t.TempDir()
	data, _ := os.ReadFile(runhBin)
	os.WriteFile(filepath.Join(dir, "runh"), data, 0o755)
	fr, _ := filepath.Abs("../testdata/fakerunc.sh")
	os.Symlink(fr, filepath.Join(dir, "runc"))
	cmd := exec.Command(filepath.Join(dir, "runh"), "state", "x")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "FAKERUNC_DIR=" + f.dir}
	if out, err := cmd.CombinedOutput(); err != nil || f.argv() != "state\nx\n--\n" {
		t.Fatalf("err %v out %q argv %q", err, out, f.argv())
	}
}

// TestExecIntoForeignContainerRefused: a container whose runc state names
// a bundle outside runh's private bundles (plain runc made it) gets no exec.
func TestExecIntoForeignContainerRefused(t *testing.T) {
	f := newFake(t)
	root := filepath.Join(f.dir, "root")
	os.MkdirAll(filepath.Join(root, "ctr"), 0o711)
	os.WriteFile(filepath.Join(root, "ctr", "state.json"), []byte(`{"config":{"labels":["bundle=`+f.bundle+`"]}}`), 0o600)
	_, stderr, code := f.run(nil, "--root", root, "exec", "ctr", "true")
	if code == 0 || !strings.Contains(stderr, "runh did not create it") || !strings.Contains(stderr, "rule exec-runh-only") || f.argv() != "" {
		t.Fatalf("code %d stderr %q argv %q", code, stderr, f.argv())
	}
}
