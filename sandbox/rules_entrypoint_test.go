package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRuleEntrypoint(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/bin", "data"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "bin/sh"), []byte("#!"), 0o755)
	os.WriteFile(filepath.Join(root, "data/notes"), []byte("x"), 0o644)
	os.Symlink("sh", filepath.Join(root, "bin/ash"))
	// Absolute and ../ symlinks resolve inside the root, never to the host.
	os.Symlink("/../../../../bin/true", filepath.Join(root, "bin/escape"))
	os.Symlink("/opt/app/run", filepath.Join(root, "bin/app"))
	for _, tc := range []struct {
		name, want string
		args       []string
		env        []string
		mounts     []specs.Mount
	}{
		{name: "in PATH", args: []string{"sh", "-c", "true"}},
		{name: "symlink in the image", args: []string{"ash"}},
		{name: "absolute", args: []string{"/bin/sh"}},
		{name: "missing", args: []string{"nosuch"}, want: `exec: "nosuch": executable file not found in $PATH`},
		{name: "missing absolute", args: []string{"/bin/nosuch"}, want: `exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory`},
		{name: "not executable", args: []string{"/data/notes"}, want: `exec: "/data/notes": permission denied`},
		{name: "directory", args: []string{"/bin"}, want: `permission denied`},
		{name: "PATH from the spec", args: []string{"sh"}, env: []string{"PATH=/usr/bin"}, want: `executable file not found in $PATH`},
		{name: "escaping symlink stays inside", args: []string{"escape"}},
		{name: "from a volume", args: []string{"/scripts/run.sh"}, mounts: []specs.Mount{{Destination: "/scripts", Type: "bind", Source: "/x"}}},
		{name: "symlink into a volume", args: []string{"app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Root: &specs.Root{Path: root}, Process: &specs.Process{Args: tc.args, Env: tc.env, Cwd: "/"}, Mounts: tc.mounts}
			err := RuleEntrypoint.Apply(&Env{Policy: testPolicy()}, s)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
