package runtime_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runAs runs runh under another name (a symlink, as `runh install
// --profile` makes).
func (f *fake) runAs(name string, args ...string) (string, string, int) {
	f.t.Helper()
	link := filepath.Join(f.t.TempDir(), name)
	if err := os.Symlink(runhBin, link); err != nil {
		f.t.Fatal(err)
	}
	saved := runhBin
	runhBin = link
	defer func() { runhBin = saved }()
	return f.run(nil, args...)
}

// runcConfig is the config.json the fake runc was handed.
func (f *fake) runcConfig() *specs.Spec {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.dir, "config.json"))
	if err != nil {
		f.t.Fatalf("runc got no config: %v", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		f.t.Fatal(err)
	}
	return &s
}

func limits(s *specs.Spec) (int64, int64) {
	r := s.Linux.Resources
	return *r.Memory.Limit, *r.Pids.Limit
}

func TestProfileChoice(t *testing.T) {
	for _, tc := range []struct {
		name, argv0, config string
		flags               []string
		want                string
	}{
		{"default", "runh", "", nil, "restricted"},
		{"handler name", "runh-edge", "", nil, "edge"},
		{"flag beats name", "runh-edge", "", []string{"--runh-profile", "restricted"}, "restricted"},
		{"default_profile", "runh", `default_profile = "edge"`, nil, "edge"},
		{"name beats default_profile", "runh-restricted", `default_profile = "edge"`, nil, "restricted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.setConfig(tc.config)
			f.writeConfig(nil)
			args := append(append([]string{}, tc.flags...), "--root", f.t.TempDir(), "create", "--bundle", f.bundle, "ctr")
			f.runAs(tc.argv0, args...)
			s := f.runcConfig()
			if got := s.Annotations["dev.runh.profile"]; got != tc.want {
				t.Fatalf("profile %q, want %q", got, tc.want)
			}
			mem, pids := limits(s)
			if tc.want == "edge" && (mem != 64<<20 || pids != 128) || tc.want == "restricted" && (mem != 256<<20 || pids != 512) {
				t.Fatalf("%s limits: memory %d pids %d", tc.want, mem, pids)
			}
			recs := f.auditRecords()
			if len(recs) == 0 || recs[0]["profile"] != tc.want || recs[0]["op"] != "create" || recs[0]["outcome"] != "changed" {
				t.Fatalf("audit %v", recs)
			}
		})
	}
}

func TestHandlerNameRefusals(t *testing.T) {
	for _, tc := range []struct{ argv0, want string }{
		{"runh-nope", `unknown profile "nope"`},
		{"runh-compat", "compat hardens nothing"},
	} {
		f := newFake(t)
		f.writeConfig(nil)
		_, stderr, code := f.runAs(tc.argv0, "create", "--bundle", f.bundle, "ctr")
		if code == 0 || !strings.Contains(stderr, tc.want) || f.argv() != "" {
			t.Fatalf("%s: code %d stderr %q argv %q", tc.argv0, code, stderr, f.argv())
		}
	}
}

// TestBrokenConfigFailsClosed: a config that does not load refuses create,
// exec and update, naming the file and key; pass-through calls (how an
// engine cleans up) still reach runc, with a warning.
func TestBrokenConfigFailsClosed(t *testing.T) {
	f := newFake(t)
	f.setConfig(`mode = "permissive"`)
	orig := f.writeConfig(nil)
	for _, args := range [][]string{
		{"create", "--bundle", f.bundle, "ctr"},
		{"run", "--bundle", f.bundle, "ctr"},
		{"exec", "ctr", "true"},
		{"update", "--memory", "1M", "ctr"},
	} {
		_, stderr, code := f.run(nil, args...)
		if code == 0 || !strings.Contains(stderr, "config.toml") || !strings.Contains(stderr, "mode") || f.argv() != "" {
			t.Fatalf("%v: code %d stderr %q argv %q", args, code, stderr, f.argv())
		}
	}
	if now, _ := os.ReadFile(filepath.Join(f.bundle, "config.json")); !bytes.Equal(now, orig) {
		t.Fatal("config.json changed")
	}
	log := filepath.Join(f.dir, "runc.log")
	_, stderr, code := f.run(nil, "--log", log, "delete", "ctr")
	warned, _ := os.ReadFile(log)
	if code != 0 || !strings.Contains(f.argv(), "delete\nctr") || !strings.Contains(string(warned), "mode") {
		t.Fatalf("delete: code %d stderr %q log %q argv %q", code, stderr, warned, f.argv())
	}
}

// TestAuditMode: the container reaches runc exactly as the client wrote it
// (its bundle, its argv), and the log says what enforce would have done.
func TestAuditMode(t *testing.T) {
	f := newFake(t)
	f.setConfig(`mode = "audit"`)
	orig := f.writeConfig(func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8}}
	})
	log := filepath.Join(f.dir, "runc.log")
	args := []string{"--root", t.TempDir(), "--log", log, "create", "--bundle", f.bundle, "ctr"}
	_, stderr, code := f.run(nil, args...)
	warned, _ := os.ReadFile(log)
	if code != 0 {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	if want := strings.Join(args, "\n") + "\n--\n"; !strings.HasPrefix(f.argv(), want) {
		t.Fatalf("runc argv %q, want the caller's %q", f.argv(), want)
	}
	if got, _ := os.ReadFile(filepath.Join(f.dir, "config.json")); !bytes.Equal(got, orig) {
		t.Fatal("runc did not get the client's config.json byte for byte")
	}
	recs := f.auditRecords()
	if len(recs) != 1 || recs[0]["mode"] != "audit" || recs[0]["outcome"] != "would_deny" {
		t.Fatalf("audit %v", recs)
	}
	den, _ := recs[0]["denial"].(map[string]any)
	if den["rule"] != "devices" || den["field"] != "linux.devices[0]" {
		t.Fatalf("denial %v", den)
	}
	if !strings.Contains(string(warned), "NOT hardened") {
		t.Fatalf("no warning in runc's log that audit mode does not harden: %q", warned)
	}
}

func TestAnnotationOverrides(t *testing.T) {
	f := newFake(t)
	f.writeConfig(func(s *specs.Spec) { s.Annotations = map[string]string{"runh.io/memory": "32Mi", "runh.io/pids": "20"} })
	f.runAs("runh-edge", "--root", t.TempDir(), "create", "--bundle", f.bundle, "ctr")
	if mem, pids := limits(f.runcConfig()); mem != 32<<20 || pids != 20 {
		t.Fatalf("limits %d %d, want 32Mi and 20", mem, pids)
	}

	f = newFake(t)
	orig := f.writeConfig(func(s *specs.Spec) { s.Annotations = map[string]string{"runh.io/memory": "4Gi"} })
	_, stderr, code := f.runAs("runh-edge", "create", "--bundle", f.bundle, "ctr")
	if code == 0 || !strings.Contains(stderr, "annotations.runh.io/memory") || f.argv() != "" {
		t.Fatalf("code %d stderr %q argv %q", code, stderr, f.argv())
	}
	if now, _ := os.ReadFile(filepath.Join(f.bundle, "config.json")); !bytes.Equal(now, orig) {
		t.Fatal("config.json changed")
	}
	recs := f.auditRecords()
	if len(recs) != 1 || recs[0]["outcome"] != "denied" {
		t.Fatalf("audit %v", recs)
	}
}

// TestAuditLogFailure: enforce refuses what it cannot record; audit mode
// warns and goes on.
func TestAuditLogFailure(t *testing.T) {
	f := newFake(t)
	f.setConfig(`audit_log = "/proc/runh-cannot-write/audit.jsonl"`)
	f.writeConfig(nil)
	_, stderr, code := f.run(nil, "create", "--bundle", f.bundle, "ctr")
	if code == 0 || !strings.Contains(stderr, "audit log") || f.argv() != "" {
		t.Fatalf("enforce: code %d stderr %q argv %q", code, stderr, f.argv())
	}
	f.setConfig("mode = \"audit\"\naudit_log = \"/proc/runh-cannot-write/audit.jsonl\"")
	log := filepath.Join(f.dir, "runc.log")
	_, stderr, code = f.run(nil, "--root", t.TempDir(), "--log", log, "create", "--bundle", f.bundle, "ctr")
	warned, _ := os.ReadFile(log)
	if code != 0 || !strings.Contains(string(warned), "audit log") || f.argv() == "" {
		t.Fatalf("audit: code %d stderr %q log %q argv %q", code, stderr, warned, f.argv())
	}
}

func TestConfigShowRoundTrips(t *testing.T) {
	f := newFake(t)
	f.setConfig(`default_profile = "edge"`, "[profiles.edge]\npids_max = 300\n")
	out, stderr, code := f.run(nil, "config", "show")
	if code != 0 || !strings.Contains(out, `default_profile = "edge"`) || !strings.Contains(out, "pids_max = 300") {
		t.Fatalf("code %d stderr %q\n%s", code, stderr, out)
	}
	// The output is itself a config that loads to the same profiles.
	path := filepath.Join(f.dir, "config.toml")
	os.WriteFile(path, []byte(out), 0o644)
	again, stderr, code := f.run(nil, "config", "show")
	if code != 0 || strings.SplitN(again, "\n", 2)[1] != strings.SplitN(out, "\n", 2)[1] {
		t.Fatalf("second show differs (code %d, %q):\n%s\n---\n%s", code, stderr, out, again)
	}
	out, _, code = f.run(nil, "profile", "list")
	if code != 0 || !strings.Contains(out, "edge") || !strings.Contains(out, "restricted") {
		t.Fatalf("profile list: %q", out)
	}
}

// TestInstallProfile: --profile makes runh-NAME next to runh and registers
// it as handler runh-NAME; again is a no-op; compat and unknown names are
// refused.
func TestInstallProfile(t *testing.T) {
	f := newFake(t)
	dir := t.TempDir()
	runh := filepath.Join(dir, "runh")
	os.WriteFile(runh, []byte("#!/bin/true\n"), 0o755)
	daemon := filepath.Join(dir, "daemon.json")
	for range 2 {
		out, stderr, code := f.run(nil, "install", "docker", "--profile", "edge", "--path", runh, "--config", daemon)
		if code != 0 {
			t.Fatalf("code %d stderr %q out %q", code, stderr, out)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "runh-edge")); err != nil || target != "runh" {
		t.Fatalf("runh-edge -> %q: %v", target, err)
	}
	data, _ := os.ReadFile(daemon)
	var cfg struct {
		Runtimes map[string]struct{ Path string } `json:"runtimes"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.Runtimes["runh-edge"].Path != filepath.Join(dir, "runh-edge") {
		t.Fatalf("daemon.json %s: %v", data, err)
	}
	for _, p := range []string{"compat", "nope"} {
		if _, stderr, code := f.run(nil, "install", "docker", "--profile", p, "--path", runh, "--config", daemon); code == 0 || !strings.Contains(stderr, p) {
			t.Fatalf("--profile %s: code %d stderr %q", p, code, stderr)
		}
	}
}

// TestAuditModeStillEnforcesRunhContainers: audit mode is for new
// containers; an exec into one runh created is hardened by its own
// profile (without runh-init it would run with no seccomp filter).
func TestAuditModeStillEnforcesRunhContainers(t *testing.T) {
	f := newFake(t)
	f.setConfig(`mode = "audit"`)
	p := specs.Process{User: specs.User{UID: 0}, Args: []string{"sh"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_ADMIN"}, Effective: []string{"CAP_SYS_ADMIN"}}}
	data, _ := json.Marshal(p)
	pf := filepath.Join(f.bundle, "process.json")
	os.WriteFile(pf, data, 0o600)
	root := f.fakeRunhContainer("ctr")
	_, stderr, code := f.run(nil, "--root", root, "exec", "--process", pf, "ctr")
	if code != 0 || !strings.Contains(f.argv(), "--process\n/proc/self/fd/") {
		t.Fatalf("code %d stderr %q argv %q", code, stderr, f.argv())
	}
	got, _ := os.ReadFile(filepath.Join(f.dir, "process.json"))
	var hp specs.Process
	if err := json.Unmarshal(got, &hp); err != nil || hp.User.UID != 65534 || len(hp.Capabilities.Effective) != 0 {
		t.Fatalf("exec process not hardened in audit mode: %s", got)
	}
	if recs := f.auditRecords(); len(recs) != 1 || recs[0]["mode"] != "enforce" || recs[0]["op"] != "exec" {
		t.Fatalf("audit %v", recs)
	}
}
