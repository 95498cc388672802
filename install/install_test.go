package install

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const runhPath = "/usr/local/bin/runh"

func fixedNow() time.Time { return time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC) }

// copyConfig puts a testdata file (or nothing, for "") into a temp dir.
func copyConfig(t *testing.T, testdata, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if testdata != "" {
		data, err := os.ReadFile(filepath.Join("testdata", testdata))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// isSubsequence: every line of a appears in b, in order. An install only
// adds lines, so every comment, key and blank line of the original stays.
func isSubsequence(a, b []string) (string, bool) {
	j := 0
	for _, line := range a {
		for j < len(b) && b[j] != line {
			j++
		}
		if j == len(b) {
			return line, false
		}
		j++
	}
	return "", true
}

func TestInstallRealConfigs(t *testing.T) {
	cases := []struct {
		engine, testdata string
		check            func(t *testing.T, after []byte)
	}{
		{"containerd", "debian-containerd-config.toml", checkContainerd(2)},
		{"containerd", "containerd-1.6-default.toml", checkContainerd(2)},
		{"containerd", "recipes-containerd-config.toml", checkContainerd(2)},
		{"containerd", "recipes-containerd2-config.toml", checkContainerd(3)},
		{"containerd", "containerd-2.4-default.toml", checkContainerd(4)},
		{"podman", "debian-containers.conf", checkPodman},
		{"podman", "recipes-containers.conf", checkPodman},
		{"docker", "recipes-docker-daemon.json", checkDocker},
	}
	for _, c := range cases {
		t.Run(c.testdata, func(t *testing.T) {
			p := copyConfig(t, c.testdata, "config")
			before, _ := os.ReadFile(p)
			o := Options{Engine: c.engine, Config: p, Name: "runh", Path: runhPath, Now: fixedNow}
			res, err := Run(o, false)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(p)
			if !res.Changed || string(after) != string(res.After) {
				t.Fatalf("changed=%v, file differs from result", res.Changed)
			}
			c.check(t, after)
			if c.engine != "docker" { // JSON is re-indented; its keys are checked below
				if line, ok := isSubsequence(strings.Split(string(before), "\n"), strings.Split(string(after), "\n")); !ok {
					t.Fatalf("line lost or moved: %q\n%s", line, after)
				}
			}
			if backup, _ := os.ReadFile(res.Backup); string(backup) != string(before) {
				t.Fatalf("backup %s does not hold the original", res.Backup)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode %v, want the original 0640", fi.Mode().Perm())
			}
			// Idempotent: a second run changes nothing and writes no backup.
			res2, err := Run(o, false)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := os.ReadFile(p)
			if res2.Changed || res2.Backup != "" || string(again) != string(after) {
				t.Fatalf("second install changed the file (changed=%v backup=%q)", res2.Changed, res2.Backup)
			}
			if backups, _ := filepath.Glob(p + ".runh-backup-*"); len(backups) != 1 {
				t.Fatalf("backups: %v", backups)
			}
		})
	}
}

func checkContainerd(version int64) func(t *testing.T, after []byte) {
	return func(t *testing.T, after []byte) {
		t.Helper()
		m, err := decodeTOML(after)
		if err != nil {
			t.Fatal(err)
		}
		if m["version"] != version {
			t.Fatalf("version %v", m["version"])
		}
		rt := append(append([]string{}, criRuntimes[version]...), "runh")
		want := map[string]any{
			"runtime_type":          "io.containerd.runc.v2",
			"pod_annotations":       []any{"runh.io/*"},
			"container_annotations": []any{"runh.io/*"},
		}
		for k, v := range want {
			if got, _ := lookup(m, append(rt, k)...); !reflect.DeepEqual(got, v) {
				t.Errorf("%s = %#v, want %#v", k, got, v)
			}
		}
		if got, _ := lookup(m, append(rt, "options", "BinaryName")...); got != runhPath {
			t.Errorf("BinaryName = %v\n%s", got, after)
		}
		runcCgroup, ok := lookup(m, append(criRuntimes[version], "runc", "options", "SystemdCgroup")...)
		if got, _ := lookup(m, append(rt, "options", "SystemdCgroup")...); ok && got != runcCgroup {
			t.Errorf("SystemdCgroup = %v, runc has %v", got, runcCgroup)
		}
	}
}

func checkPodman(t *testing.T, after []byte) {
	m, err := decodeTOML(after)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := lookup(m, "engine", "runtimes", "runh"); !reflect.DeepEqual(got, []any{runhPath}) {
		t.Fatalf("engine.runtimes.runh = %#v\n%s", got, after)
	}
}

func checkDocker(t *testing.T, after []byte) {
	m, err := decodeAny(after)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := lookup(m, "runtimes", "runh", "path"); got != runhPath {
		t.Fatalf("runtimes.runh.path = %v\n%s", got, after)
	}
}

func TestInstallDockerKeepsOrderAndKeys(t *testing.T) {
	p := copyConfig(t, "recipes-docker-daemon.json", "daemon.json")
	before, _ := os.ReadFile(p)
	if _, err := Run(Options{Engine: "docker", Config: p, Name: "runh", Path: runhPath, SetDefault: true}, false); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	order := func(b []byte) []string {
		obj, err := decodeObject(b)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, m := range obj {
			keys = append(keys, m.key)
		}
		rt, _ := obj.object("runtimes")
		for _, m := range rt {
			keys = append(keys, "runtimes."+m.key)
		}
		return keys
	}
	want := append(order(before)[:3:3], "default-runtime", "runtimes.hardened", "runtimes.execrunc", "runtimes.hardargs", "runtimes.runh")
	if got := order(after); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if !strings.Contains(string(after), `"runtimeArgs": [`) || !strings.Contains(string(after), "\n  \"storage-driver\"") {
		t.Fatalf("other settings or the two-space indent lost:\n%s", after)
	}
}

func TestInstallNewFiles(t *testing.T) {
	for _, c := range []struct{ engine, name, want string }{
		{"docker", "daemon.json", "{\n  \"runtimes\": {\n    \"runh\": {\n      \"path\": \"/usr/local/bin/runh\"\n    }\n  }\n}\n"},
		{"podman", "containers.conf", "[engine.runtimes]\n  runh = ['/usr/local/bin/runh']\n"},
		{"containerd", "config.toml", `version = 3

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runh]
  runtime_type = 'io.containerd.runc.v2'
  pod_annotations = ['runh.io/*']
  container_annotations = ['runh.io/*']
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runh.options]
    BinaryName = '/usr/local/bin/runh'
`},
	} {
		t.Run(c.engine, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "etc", c.name)
			res, err := Run(Options{Engine: c.engine, Config: p, Name: "runh", Path: runhPath, ConfigVersion: 3}, false)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != c.want || res.Backup != "" {
				t.Fatalf("got backup %q and\n%s\nwant\n%s", res.Backup, got, c.want)
			}
		})
	}
}

func TestInstallUpdatesInPlace(t *testing.T) {
	p := copyConfig(t, "", "config.toml")
	os.WriteFile(p, []byte(`version = 2
# runtimes
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runh]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["example.com/*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runh.options]
    BinaryName = "/opt/old/runh" # moved in 2026
# the end
`), 0o644)
	if _, err := Run(Options{Engine: "containerd", Config: p, Name: "runh", Path: runhPath, SetDefault: true}, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := `version = 2
# runtimes
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runh]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ['example.com/*', 'runh.io/*']
  container_annotations = ['runh.io/*']
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runh.options]
    BinaryName = '/usr/local/bin/runh' # moved in 2026
[plugins.'io.containerd.grpc.v1.cri'.containerd]
  default_runtime_name = 'runh'
# the end
`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestInstallRefuses(t *testing.T) {
	cases := []struct {
		name, engine, content string
		opt                   func(*Options)
		want                  error
		msg                   string
	}{
		{"garbage toml", "containerd", "version = 2\n[plugins\n", nil, ErrBadConfig, "line 2"},
		{"garbage json", "docker", `{"runtimes": {`, nil, ErrBadConfig, "not valid JSON"},
		{"json array", "docker", `[]`, nil, ErrBadConfig, "not a JSON object"},
		{"runtimes not an object", "docker", `{"runtimes": []}`, nil, ErrBadConfig, `"runtimes"`},
		{"containerd v1", "containerd", "[plugins.cri]\n", nil, ErrBadConfig, "version 1"},
		{"containerd v5", "containerd", "version = 5\n", nil, ErrBadConfig, "versions 2, 3 and 4"},
		{"version mismatch", "containerd", "version = 2\n", func(o *Options) { o.ConfigVersion = 3 }, ErrBadOption, "--config-version 3"},
		{"inline table", "containerd", "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  runtimes = { runc = { runtime_type = \"io.containerd.runc.v2\" } }\n", nil, ErrBadConfig, "inline table"},
		{"podman inline", "podman", "[engine]\nruntimes = { crun = [\"/usr/bin/crun\"] }\n", nil, ErrBadConfig, "by hand"},
		{"bad name", "docker", "{}", func(o *Options) { o.Name = "Run H" }, ErrBadOption, "--name"},
		{"relative path", "docker", "{}", func(o *Options) { o.Path = "bin/runh" }, ErrBadOption, "--path"},
		{"engine", "cri-o", "", nil, ErrUnknownEngine, "cri-o"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := copyConfig(t, "", "config")
			os.WriteFile(p, []byte(c.content), 0o644)
			o := Options{Engine: c.engine, Config: p, Name: "runh", Path: runhPath}
			if c.opt != nil {
				c.opt(&o)
			}
			_, err := Run(o, false)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.msg)
			}
			if got, _ := os.ReadFile(p); string(got) != c.content {
				t.Fatal("a refused install modified the file")
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "*")); len(left) != 1 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func TestInstallDryRunWritesNothing(t *testing.T) {
	p := copyConfig(t, "debian-containerd-config.toml", "config.toml")
	before, _ := os.ReadFile(p)
	res, err := Run(Options{Engine: "containerd", Config: p, Name: "runh", Path: runhPath}, true)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	if !res.Changed || string(after) != string(before) || res.Backup != "" || !strings.Contains(string(res.After), "BinaryName") {
		t.Fatalf("dry run: changed=%v backup=%q", res.Changed, res.Backup)
	}
}

// TestRemoveHandler: install then remove gives back the original config
// (the same decoded values, every non-blank line kept in order) for each
// real config, and removal refuses what it cannot undo cleanly.
func TestRemoveHandler(t *testing.T) {
	for _, td := range []string{"containerd-1.6-default.toml", "containerd-2.4-default.toml", "debian-containerd-config.toml", "recipes-containerd2-config.toml"} {
		t.Run(td, func(t *testing.T) {
			p := copyConfig(t, td, "config.toml")
			orig, _ := os.ReadFile(p)
			for _, n := range []string{"runh", "runh-edge"} {
				if _, err := Run(Options{Engine: "containerd", Config: p, Name: n, Path: runhPath, Now: fixedNow}, false); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Run(Options{Engine: "containerd", Config: p, Name: "runh", Path: runhPath, Remove: true, Now: fixedNow}, false)
			if err != nil || !res.Changed {
				t.Fatalf("remove: changed=%v err=%v", res != nil && res.Changed, err)
			}
			got, _ := os.ReadFile(p)
			if strings.Contains(string(got), "runtimes.runh]") || !strings.Contains(string(got), "runtimes.runh-edge]") {
				t.Fatalf("runh not removed, or runh-edge lost:\n%s", got)
			}
			if _, err := Run(Options{Engine: "containerd", Config: p, Name: "runh-edge", Path: runhPath, Remove: true, Now: fixedNow}, false); err != nil {
				t.Fatal(err)
			}
			got, _ = os.ReadFile(p)
			a, _ := decodeTOML(orig)
			b, _ := decodeTOML(got)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("install+remove changed the config:\n%s\nwant\n%s", got, orig)
			}
			if line, ok := isSubsequence(nonBlank(orig), nonBlank(got)); !ok {
				t.Fatalf("install+remove lost line %q", line)
			}
			// Removing what is not there changes nothing.
			res, err = Run(Options{Engine: "containerd", Config: p, Name: "runh", Path: runhPath, Remove: true, Now: fixedNow}, false)
			if err != nil || res.Changed {
				t.Fatalf("second remove: changed=%v err=%v", res.Changed, err)
			}
		})
	}
	for _, tc := range []struct {
		name, src string
		o         Options
	}{
		{"default handler", "version = 3\n[plugins.\"io.containerd.cri.v1.runtime\".containerd]\n  default_runtime_name = \"runh\"\n[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runh]\n  runtime_type = \"io.containerd.runc.v2\"\n", Options{Name: "runh"}},
		{"inline handler", "version = 3\n[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes]\n  runh = {runtime_type = \"io.containerd.runc.v2\"}\n", Options{Name: "runh"}},
		{"docker", "{}", Options{Engine: "docker", Name: "runh"}},
		// No default_runtime_name: containerd's default is runc.
		{"implicit default runc", "version = 3\n[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n", Options{Name: "runc"}},
		{"with set-default", "version = 3\n", Options{Name: "runh", SetDefault: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config")
			os.WriteFile(p, []byte(tc.src), 0o644)
			o := tc.o
			if o.Engine == "" {
				o.Engine = "containerd"
			}
			o.Config, o.Path, o.Remove = p, runhPath, true
			if _, err := Run(o, false); err == nil {
				t.Fatal("removed")
			}
			if got, _ := os.ReadFile(p); string(got) != tc.src {
				t.Fatalf("refused removal changed the file:\n%s", got)
			}
		})
	}
}

func nonBlank(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestRemoveKeepsNeighbours: the comment above the next table, and other
// handlers whose names share a prefix, stay; a symlinked config is refused.
func TestRemoveKeepsNeighbours(t *testing.T) {
	src := `version = 3
# runh, added by runh install
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runh]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runh.options]
    BinaryName = "/opt/runh/bin/runh"

# edge profile: DO NOT REMOVE
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runh2]
  runtime_type = "io.containerd.runc.v2"
# the end
`
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	os.WriteFile(p, []byte(src), 0o644)
	if _, err := Run(Options{Engine: "containerd", Config: p, Name: "runh", Path: runhPath, Remove: true, Now: fixedNow}, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := `version = 3
# runh, added by runh install

# edge profile: DO NOT REMOVE
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runh2]
  runtime_type = "io.containerd.runc.v2"
# the end
`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	link := filepath.Join(dir, "link.toml")
	os.Symlink("config.toml", link)
	if _, err := Run(Options{Engine: "containerd", Config: link, Name: "runh2", Path: runhPath, Remove: true}, false); err == nil {
		t.Fatal("a symlinked config was edited")
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
}
