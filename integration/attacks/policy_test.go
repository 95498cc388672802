package attacks

// Attacks on the operator policy (runh issue 14), found by an attack pass
// on the first version: each worked then, and each is refused or absent
// now. Plain runc has no policy to get around, so there is no runc
// baseline here; the effect is shown on runh's own earlier behaviour in
// the comments.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/integration/harness"
)

// operator writes a config (and profiles.d files) in a root-only
// temporary directory and returns --runh-config's value.
func operator(t *testing.T, top string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	pd := filepath.Join(dir, "profiles.d")
	os.MkdirAll(pd, 0o755)
	os.MkdirAll(filepath.Join(dir, "metrics"), 0o755)
	for name, body := range files {
		os.WriteFile(filepath.Join(pd, name), []byte(body), 0o644)
	}
	cfg := filepath.Join(dir, "config.toml")
	body := top + fmt.Sprintf("\naudit_log = %q\nprofiles_dir = %q\n", filepath.Join(dir, "audit.jsonl"), pd)
	if !strings.Contains(top, "metrics_dir") {
		body += fmt.Sprintf("metrics_dir = %q\n", filepath.Join(dir, "metrics"))
	}
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestAuditModeExecIntoHardenedContainer: a container created in enforce
// mode, then the operator switches to audit. The first version passed
// exec through untouched in audit mode: without runh-init the process got
// no seccomp filter at all (Seccomp: 0) and, with --user 0 --cap
// CAP_SYS_ADMIN, could mount. Now the container's own profile governs.
func TestAuditModeExecIntoHardenedContainer(t *testing.T) {
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c)
	enforce := operator(t, "", nil)
	mustOK(t, c.Runh("--runh-config", enforce, "run", "--detach", "--bundle", c.Bundle, c.ID), "runh run")
	audit := filepath.Join(filepath.Dir(enforce), "audit.toml")
	data, _ := os.ReadFile(enforce)
	os.WriteFile(audit, append([]byte("mode = \"audit\"\n"), data...), 0o644)
	r := c.Runh("--runh-config", audit, "exec", "--user", "0", "--cap", "CAP_SYS_ADMIN", c.ID, "sh", "-c", "id -u; grep -E '^(CapEff|Seccomp):' /proc/self/status")
	mustOK(t, r, "runh exec")
	if want := "65534\nCapEff:\t0000000000000000\nSeccomp:\t2\n"; r.Stdout != want {
		t.Fatalf("exec in audit mode into a hardened container: %q, want %q", r.Stdout, want)
	}
	// And update cannot lift its limit either.
	r = c.Runh("--runh-config", audit, "update", "--memory", "-1", c.ID)
	if r.Code == 0 {
		t.Fatal("update --memory -1 in audit mode removed the limit of a hardened container")
	}
}

// TestProfileFilesThatLowerTheFloor: profile files that passed the first
// version's checks and weakened containers.
func TestProfileFilesThatLowerTheFloor(t *testing.T) {
	seccompFile := func(json string) string {
		p := filepath.Join(t.TempDir(), "p.json")
		os.WriteFile(p, []byte(json), 0o644)
		return p
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		// clone(CLONE_NEWUSER|CLONE_NEWNET) worked, then nf_tables was
		// reachable from the new namespaces.
		{"unconditional clone", "seccomp_profile = \"" + seccompFile(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","clone","clone3","execve","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`) + "\"", "clone"},
		// x86 and x32 ABIs, and the Speculative Store Bypass mitigation
		// off, through runh.io/profile from a restricted handler.
		{"32-bit ABIs and SPEC_ALLOW", "seccomp_profile = \"" + seccompFile(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"flags":["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}`) + "\"", "architectures"},
		// A bind source in /tmp: anyone could create it as a symlink to
		// somewhere else before the next create.
		{"bind source anyone may create", "bind_sources = [\"/tmp/runh-attack-data\"]", "anyone may create it"},
		{"pids far above any need", "pids_max = 4194304", "pids_max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := operator(t, "", map[string]string{"weak.toml": "extends = \"restricted\"\n" + tc.body + "\n"})
			c := newCtr(t, "true")
			before, _ := os.ReadFile(c.Config())
			c.Refused(c.Runh("--runh-config", cfg, "create", "--bundle", c.Bundle, c.ID), before, "weak.toml", tc.want)
		})
	}
}

// TestOperatorPathsOthersCanWrite: a profiles_dir, metrics_dir or runc
// that someone other than root can change. The first version let nobody
// rename a looser root-owned profile over a stricter one, hang every call
// on a FIFO in metrics_dir, and run nobody's binary as runc.
func TestOperatorPathsOthersCanWrite(t *testing.T) {
	shared := t.TempDir()
	os.Chmod(shared, 0o777)
	fifo := filepath.Join(shared, ".runh-metrics.json")
	syscall.Mkfifo(fifo, 0o666)
	theirs := filepath.Join(t.TempDir(), "runc")
	data, _ := os.ReadFile(harness.Runc)
	os.WriteFile(theirs, data, 0o755)
	os.Chown(theirs, 65534, 65534)
	for _, tc := range []struct{ name, top, want string }{
		{"metrics_dir", fmt.Sprintf("metrics_dir = %q", shared), "metrics_dir"},
		{"profiles_dir", fmt.Sprintf("profiles_dir = %q", shared), "profiles_dir"},
		{"runc", fmt.Sprintf("runc = %q", theirs), "runc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := operator(t, tc.top, nil)
			if tc.name == "profiles_dir" {
				// operator() appends its own profiles_dir: use only ours.
				os.WriteFile(cfg, []byte(tc.top+"\n"), 0o644)
			}
			c := newCtr(t, "true")
			before, _ := os.ReadFile(c.Config())
			c.Refused(c.Runh("--runh-config", cfg, "create", "--bundle", c.Bundle, c.ID), before, "config.toml", tc.want)
		})
	}
}

// TestHugeAnnotationCannotFlushTheAuditLog: twelve refused creates with a
// 3.9 MiB runh.io/memory value rotated every earlier record out of the
// first version's log.
func TestHugeAnnotationCannotFlushTheAuditLog(t *testing.T) {
	cfg := operator(t, "audit_log_max_bytes = 65536", nil)
	log := filepath.Join(filepath.Dir(cfg), "audit.jsonl")
	ok := newCtr(t, "true")
	mustOK(t, ok.Runh("--runh-config", cfg, "run", "--bundle", ok.Bundle, ok.ID), "runh run")
	huge := strings.Repeat("9", 4<<20) + "Mi"
	for range 12 {
		c := newCtr(t, "true")
		c.Edit(func(s *specs.Spec) { s.Annotations = map[string]string{"runh.io/memory": huge} })
		if r := c.Runh("--runh-config", cfg, "create", "--bundle", c.Bundle, c.ID); r.Code == 0 || len(r.Stderr) > 4096 {
			t.Fatalf("create: exit %d, %d bytes of stderr", r.Code, len(r.Stderr))
		}
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"container_id":"`+ok.ID+`"`) {
		t.Fatalf("the first record was rotated out by 12 refusals (%d bytes in the log)", len(data))
	}
}
