// Package harness runs runh and the pinned runc (bin/) on real containers
// for the integration and attack suites: a busybox-static rootfs, a bundle
// and a state root per container, bounded commands, and cleanup. It needs
// root; on a developer's machine a missing prerequisite skips loudly, under
// CI=true it fails.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/testenv"
)

var (
	// Repo is the repository root; Runh and Runc are the built binaries.
	Repo = func() string {
		_, file, _, _ := runtime.Caller(0)
		return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	}()
	Runh = filepath.Join(Repo, "bin", "runh")
	Runc = filepath.Join(Repo, "bin", "runc")

	seq       atomic.Int64
	rootfsDir string
	rootfsErr error
	rootfsOne sync.Once
)

// Rootfs returns a shared busybox-static rootfs, built on first use under
// dir (the caller's TestMain temp dir, removed by it).
func Rootfs(dir string) (string, error) {
	rootfsOne.Do(func() {
		rootfsDir = filepath.Join(dir, "rootfs")
		rootfsErr = BuildRootfs(rootfsDir)
	})
	return rootfsDir, rootfsErr
}

// BuildRootfs makes a busybox-static rootfs: /bin/busybox and its applets.
func BuildRootfs(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found (apt-get install busybox-static): %w", err)
	}
	if out, _ := exec.Command("file", "-L", bb).Output(); len(out) > 0 && !bytes.Contains(out, []byte("statically linked")) && !bytes.Contains(out, []byte("static-pie")) {
		return fmt.Errorf("%s is not static (apt-get install busybox-static)", bb)
	}
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp", "run", "var/tmp", "root", "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	for _, app := range strings.Fields(string(list)) {
		if app != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "bin", app))
		}
	}
	return os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
}

// Require fails under CI and skips loudly elsewhere.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	testenv.Require(t, ok, what, "run `make test` as root")
}

// Prerequisites checks root, the built binaries and the rootfs.
func Prerequisites(t testing.TB, rootfs string, rootfsErr error) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "root")
	_, err1 := os.Stat(Runh)
	_, err2 := os.Stat(Runc)
	_, err3 := os.Stat(Runh + "-core")
	Require(t, err1 == nil && err2 == nil && err3 == nil, "bin/runh, bin/runh-core and bin/runc (make build)")
	Require(t, rootfsErr == nil, fmt.Sprint("busybox rootfs: ", rootfsErr))
}

// Ctr is one container under test, with its own bundle and state root.
type Ctr struct {
	T      testing.TB
	ID     string
	Bundle string
	Root   string
	Log    string
}

// NewCtr makes a bundle from `runc spec` with the rootfs and args.
func NewCtr(t testing.TB, rootfs string, args ...string) *Ctr {
	t.Helper()
	c := &Ctr{T: t, ID: fmt.Sprintf("runh-at-%d-%d", os.Getpid(), seq.Add(1)), Bundle: t.TempDir(), Root: t.TempDir()}
	c.Log = filepath.Join(c.Bundle, "log.json")
	out, err := exec.Command(Runc, "spec", "--bundle", c.Bundle).CombinedOutput()
	if err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	c.Edit(func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Process.Terminal = false
		s.Process.Args = args
	})
	t.Cleanup(func() {
		exec.Command(Runc, "--root", c.Root, "delete", "--force", c.ID).Run()
	})
	return c
}

// Config is the bundle's config.json.
func (c *Ctr) Config() string { return filepath.Join(c.Bundle, "config.json") }

// Edit rewrites the bundle's config.json through f.
func (c *Ctr) Edit(f func(*specs.Spec)) {
	c.T.Helper()
	data, err := os.ReadFile(c.Config())
	if err != nil {
		c.T.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		c.T.Fatal(err)
	}
	f(&s)
	data, _ = json.MarshalIndent(&s, "", "\t")
	if err := os.WriteFile(c.Config(), data, 0o644); err != nil {
		c.T.Fatal(err)
	}
}

// Result is what a bounded command did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Cmd builds a bounded command for bin with the container's global flags.
func (c *Ctr) Cmd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	full := append([]string{"--root", c.Root, "--log", c.Log, "--log-format", "json"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = c.Bundle
	cmd.WaitDelay = time.Second
	return cmd
}

// Exec runs bin with args (30 s at most) and collects its output.
func (c *Ctr) Exec(bin string, args ...string) Result {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Wait(c.Cmd(ctx, bin, args...))
}

// Wait runs cmd with file-backed stdout and stderr (a detached container
// keeps its stdio open, so a pipe would never reach EOF).
func (c *Ctr) Wait(cmd *exec.Cmd) Result {
	c.T.Helper()
	dir := c.T.TempDir()
	out, _ := os.CreateTemp(dir, "stdout")
	errf, _ := os.CreateTemp(dir, "stderr")
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	r := Result{Stdout: string(o), Stderr: string(e)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		c.T.Fatalf("%s %v: %v", cmd.Path, cmd.Args, err)
	}
	return r
}

// Runh and Runc run the two binaries on this container's root and log.
func (c *Ctr) Runh(args ...string) Result { c.T.Helper(); return c.Exec(Runh, args...) }
func (c *Ctr) Runc(args ...string) Result { c.T.Helper(); return c.Exec(Runc, args...) }

// StateEmpty reports whether the state root holds no container.
func (c *Ctr) StateEmpty() bool {
	entries, _ := os.ReadDir(c.Root)
	return len(entries) == 0
}

// LastLogLine decodes the last line of the JSON --log file.
func (c *Ctr) LastLogLine() map[string]string {
	c.T.Helper()
	data, err := os.ReadFile(c.Log)
	if err != nil {
		c.T.Fatalf("no log: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var m map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		c.T.Fatalf("log line %q: %v", lines[len(lines)-1], err)
	}
	return m
}

// Refused asserts that r is a runh refusal naming field and rule, that the
// bundle's config.json is still before, and that no state was left.
func (c *Ctr) Refused(r Result, before []byte, field, rule string) {
	c.T.Helper()
	if r.Code == 0 {
		c.T.Fatalf("runh accepted it:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}
	for _, w := range []string{field, rule} {
		if !strings.Contains(r.Stderr, w) {
			c.T.Errorf("refusal does not name %q:\n%s", w, r.Stderr)
		}
	}
	if after, _ := os.ReadFile(c.Config()); !bytes.Equal(before, after) {
		c.T.Error("config.json changed by a refused create")
	}
	if !c.StateEmpty() {
		c.T.Error("state left behind by a refused create")
	}
}

// Main runs a suite's tests with a shared busybox rootfs, built on first
// use in a temporary directory named after prefix and removed after.
func Main(m *testing.M, prefix string, rootfs *string, rootfsErr *error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		panic(err)
	}
	*rootfs, *rootfsErr = Rootfs(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
