package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes config.toml (and profiles.d files) in a temporary
// directory, root's alone as LoadConfig requires, and returns its path.
// profiles_dir is set to the temporary profiles.d unless body sets it.
func writeConfig(t *testing.T, body string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	pd := filepath.Join(dir, "profiles.d")
	if err := os.Mkdir(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(pd, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(body, "profiles_dir") {
		body = "profiles_dir = \"" + pd + "\"\n" + body
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func noConfig(t *testing.T) *Config {
	t.Helper()
	c, err := LoadConfig(writeConfig(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadConfigEveryKey(t *testing.T) {
	path := writeConfig(t, `
default_profile = "edge"
mode = "audit"
audit_log = "/var/log/runh-test/audit.jsonl"
audit_log_max_bytes = 65536
audit_log_keep = 5
metrics_dir = "/var/lib/node_exporter/textfile"
runc = "/usr/local/sbin/runc"

[profiles.edge]
memory_default = "32Mi"
pids_max = 256
`, nil)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultProfile != "edge" || c.Mode != Audit || c.AuditLog != "/var/log/runh-test/audit.jsonl" ||
		c.AuditLogMaxBytes != 65536 || c.AuditLogKeep != 5 || c.MetricsDir != "/var/lib/node_exporter/textfile" ||
		c.Runc != "/usr/local/sbin/runc" || c.Path != path {
		t.Fatalf("config %+v", c)
	}
	edge, _ := c.Profile("edge")
	if edge.Policy.MemoryDefault != 32<<20 || edge.Policy.PidsMax != 256 {
		t.Fatalf("edge parameters not applied: %+v", edge.Policy)
	}
	// The built-in is untouched for the next config.
	if Edge().Policy.MemoryDefault != 64<<20 {
		t.Fatal("the config changed the built-in edge")
	}
}

func TestLoadConfigMissingFileIsDefaults(t *testing.T) {
	c, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "" || c.Mode != Enforce || c.DefaultProfile != DefaultName || c.AuditLog != "/var/log/runh/audit.jsonl" {
		t.Fatalf("defaults %+v", c)
	}
}

// TestLoadConfigRefuses: everything wrong names the file and the key, and
// is an ErrBadConfig (runh then refuses every create).
func TestLoadConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		files      map[string]string
		want       []string
	}{
		{"unknown key", `defualt_profile = "edge"`, nil, []string{"unknown key defualt_profile"}},
		{"unknown nested key", "[profiles.edge]\nreadonly_root = false", nil, []string{"unknown key profiles.edge.readonly_root"}},
		{"bad type", `audit_log_keep = "three"`, nil, []string{"config.toml", "line 2"}},
		{"syntax", `mode = enforce`, nil, []string{"config.toml", "line 2"}},
		{"mode", `mode = "permissive"`, nil, []string{"mode", "permissive"}},
		{"relative path", `audit_log = "audit.jsonl"`, nil, []string{"audit_log", "absolute"}},
		{"runc with odd characters", `runc = "/usr/bin/run c"`, nil, []string{"runc", "one line"}},
		{"runc in a form the front cannot read", `runc = '/usr/bin/runc'`, nil, []string{"runc", "one line"}},
		{"unknown default", `default_profile = "nope"`, nil, []string{"default_profile", "unknown profile"}},
		{"params of an undefined profile", "[profiles.data]\nuid = 1000", nil, []string{"[profiles.data]", "unknown profile"}},
		{"uid 0", "[profiles.restricted]\nuid = 0", nil, []string{"uid", "non-root"}},
		{"gid 0", "", map[string]string{"data.toml": "extends = \"restricted\"\ngid = 0"}, []string{"data.toml", "gid"}},
		{"memory unlimited", "[profiles.edge]\nmemory_max = \"-1\"", nil, []string{"memory_max"}},
		{"pids unlimited", "[profiles.edge]\npids_default = 0", nil, []string{"pids_default", "finite"}},
		{"default above max", "[profiles.edge]\nmemory_default = \"1Gi\"", nil, []string{"memory_default", "above memory_max"}},
		{"sensitive bind source", "", map[string]string{"data.toml": "extends = \"restricted\"\nbind_sources = [\"/etc\"]"}, []string{"data.toml", "bind_sources", "/etc"}},
		{"bind source holding a sensitive tree", "", map[string]string{"data.toml": "extends = \"restricted\"\nbind_sources = [\"/var\"]"}, []string{"bind_sources", "/var"}},
		{"host sysctl", "[profiles.edge]\nsysctls = [\"kernel.core_pattern\"]", nil, []string{"sysctls", "kernel.core_pattern"}},
		{"dangerous capability", "[profiles.edge]\ncapabilities = [\"CAP_SYS_ADMIN\"]", nil, []string{"capabilities", "CAP_SYS_ADMIN"}},
		{"CAP_KILL", "[profiles.edge]\ncapabilities = [\"CAP_KILL\"]", nil, []string{"capabilities", "CAP_KILL"}},
		{"pids far above any need", "[profiles.edge]\npids_max = 4194304", nil, []string{"pids_max", "65536"}},
		{"profiles_dir writable by others", "profiles_dir = \"/tmp\"", nil, []string{"profiles_dir", "/tmp"}},
		{"bind source in a sticky dir", "", map[string]string{"data.toml": "extends = \"restricted\"\nbind_sources = [\"/tmp/runh-no-such-dir\"]"}, []string{"bind_sources", "anyone may create it"}},
		{"no extends", "", map[string]string{"data.toml": "uid = 1000"}, []string{"data.toml", "extends: required"}},
		{"extends compat", "", map[string]string{"data.toml": "extends = \"compat\""}, []string{"data.toml", "compat"}},
		{"cycle", "", map[string]string{"a.toml": "extends = \"b\"", "b.toml": "extends = \"a\""}, []string{"cycle"}},
		{"shadows a built-in", "", map[string]string{"edge.toml": "extends = \"restricted\""}, []string{"edge.toml", "built-in"}},
		{"bad name", "", map[string]string{"Data.toml": "extends = \"restricted\""}, []string{"Data"}},
		{"unknown key in a profile file", "", map[string]string{"data.toml": "extends = \"restricted\"\nprivileged = true"}, []string{"data.toml", "unknown key privileged"}},
		{"compat parameters", "[profiles.compat]\nuid = 1000", nil, []string{"compat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.body, tc.files))
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("err = %v, want ErrBadConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestLoadConfigOwnership: like sudoers, a config (or profile file) that
// someone other than root could write is refused, naming the file.
func TestLoadConfigOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	for _, tc := range []struct {
		name  string
		fix   func(path string) error
		which string
	}{
		{"group writable", func(p string) error { return os.Chmod(p, 0o664) }, "config.toml"},
		{"world writable", func(p string) error { return os.Chmod(p, 0o646) }, "config.toml"},
		{"another owner", func(p string) error { return os.Chown(p, 1000, 0) }, "config.toml"},
		{"profile file of another owner", func(p string) error {
			return os.Chown(filepath.Join(filepath.Dir(p), "profiles.d", "data.toml"), 1000, 1000)
		}, "data.toml"},
		{"symlink", func(p string) error {
			real := p + ".real"
			if err := os.Rename(p, real); err != nil {
				return err
			}
			return os.Symlink(real, p)
		}, "symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, "mode = \"enforce\"", map[string]string{"data.toml": "extends = \"restricted\""})
			if err := tc.fix(path); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.which) {
				t.Fatalf("err = %v, want ErrBadConfig naming %s", err, tc.which)
			}
		})
	}
}

// TestProfileFile: a profiles.d profile gets its parameters on top of the
// profile it extends, keeps every rule and check of the floor, and can
// extend another file's profile.
func TestProfileFile(t *testing.T) {
	sc := filepath.Join(t.TempDir(), "deny-more.json")
	if err := os.WriteFile(sc, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(writeConfig(t, "", map[string]string{
		"data.toml":       "extends = \"edge\"\nuid = 2000\nbind_sources = [\"/data\"]\nsysctls = [\"kernel.shmmax\"]\nseccomp_profile = \"" + sc + "\"\ncapabilities = []\nmasked_paths = [\"/proc/cpuinfo\"]\n",
		"data-small.toml": "extends = \"data\"\nmemory_max = \"128Mi\"\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Profile("data-small")
	if err != nil {
		t.Fatal(err)
	}
	pol := p.Policy
	if p.Extends != "data" || pol.UID != 2000 || pol.GID != 65534 || pol.MemoryMax != 128<<20 || pol.MemoryDefault != 64<<20 ||
		len(pol.BindSources) != 1 || len(pol.CapOnRequest) != 0 || p.SeccompSource != sc ||
		!contains(pol.SafeSysctls, "kernel.shmmax") || !contains(pol.MaskedPaths, "/proc/cpuinfo") || !contains(pol.MaskedPaths, "/proc/kcore") {
		t.Fatalf("data-small: %+v", pol)
	}
	r := Restricted()
	if len(p.Rules) != len(r.Rules) || len(p.Checks) != len(r.Checks) {
		t.Fatal("a profile file changed the rules or checks")
	}
}

// TestCustomSeccompFloor: a profile's seccomp file may not be unconfined or
// allow what the floor denies.
func TestCustomSeccompFloor(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"unconfined", `{"defaultAction":"SCMP_ACT_ALLOW"}`, "unconfined"},
		{"log", `{"defaultAction":"SCMP_ACT_LOG"}`, "unconfined"},
		{"mount", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","mount"],"action":"SCMP_ACT_ALLOW"}]}`, "mount"},
		{"unshare under a condition", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["unshare"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`, "unshare"},
		{"unknown field", `{"defaultAction":"SCMP_ACT_ERRNO","unconfined":true}`, "unknown field"},
		{"clone with any flags", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","clone"],"action":"SCMP_ACT_ALLOW"}]}`, "CLONE_NEW"},
		{"clone with a partial mask", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":268435456,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}`, "CLONE_NEW"},
		{"clone3", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone3"],"action":"SCMP_ACT_ALLOW"}]}`, "clone3"},
		{"32-bit ABIs", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]}`, "architectures"},
		{"spec allow", `{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}`, "flags"},
		{"notify listener", `{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/run/agent.sock"}`, "listenerPath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := filepath.Join(t.TempDir(), "p.json")
			os.WriteFile(sc, []byte(tc.json), 0o644)
			_, err := LoadConfig(writeConfig(t, "", map[string]string{"x.toml": "extends = \"restricted\"\nseccomp_profile = \"" + sc + "\""}))
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "seccomp_profile") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want seccomp_profile and %q", err, tc.want)
			}
		})
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
