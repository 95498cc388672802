// Package integration runs runh against the real, pinned runc (bin/runc) on
// a busybox-static rootfs built here. It needs root. On a developer's
// machine a missing prerequisite skips loudly; under CI=true it fails.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/testenv"
)

var (
	repo, _  = filepath.Abs("..")
	runhBin  = filepath.Join(repo, "bin", "runh")
	runcBin  = filepath.Join(repo, "bin", "runc")
	rootfs   string
	seq      atomic.Int64
	setupErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runh-integration")
	if err != nil {
		panic(err)
	}
	rootfs = filepath.Join(dir, "rootfs")
	setupErr = buildRootfs(rootfs)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildRootfs makes a busybox-static rootfs: /bin/busybox and its applets.
func buildRootfs(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found (apt-get install busybox-static): %w", err)
	}
	if out, _ := exec.Command("file", "-L", bb).Output(); len(out) > 0 && !bytes.Contains(out, []byte("statically linked")) && !bytes.Contains(out, []byte("static-pie")) {
		return fmt.Errorf("%s is not static (apt-get install busybox-static)", bb)
	}
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp", "run", "var/tmp", "root"} {
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

// require fails under CI and skips loudly elsewhere.
func require(t *testing.T, ok bool, what string) {
	t.Helper()
	testenv.Require(t, ok, what, "run `make test` as root")
}

func prerequisites(t *testing.T) {
	t.Helper()
	require(t, os.Geteuid() == 0, "root")
	_, err1 := os.Stat(runhBin)
	_, err2 := os.Stat(runcBin)
	_, err3 := os.Stat(runhBin + "-core")
	require(t, err1 == nil && err2 == nil && err3 == nil, "bin/runh, bin/runh-core and bin/runc (make build)")
	require(t, setupErr == nil, fmt.Sprint("busybox rootfs: ", setupErr))
}

// ctr is one container under test, with its own bundle and state root.
type ctr struct {
	t      *testing.T
	id     string
	bundle string
	root   string
	log    string
}

func newCtr(t *testing.T, args ...string) *ctr {
	t.Helper()
	prerequisites(t)
	c := &ctr{t: t, id: fmt.Sprintf("runh-it-%d-%d", os.Getpid(), seq.Add(1)), bundle: t.TempDir(), root: t.TempDir()}
	c.log = filepath.Join(c.bundle, "log.json")
	out, err := exec.Command(runcBin, "spec", "--bundle", c.bundle).CombinedOutput()
	if err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	c.edit(func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Process.Terminal = false
		s.Process.Args = args
	})
	t.Cleanup(func() {
		exec.Command(runcBin, "--root", c.root, "delete", "--force", c.id).Run()
	})
	return c
}

func (c *ctr) config() string { return filepath.Join(c.bundle, "config.json") }

func (c *ctr) edit(f func(*specs.Spec)) {
	c.t.Helper()
	data, err := os.ReadFile(c.config())
	if err != nil {
		c.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		c.t.Fatal(err)
	}
	f(&s)
	data, _ = json.MarshalIndent(&s, "", "\t")
	if err := os.WriteFile(c.config(), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// cmd builds a bounded command for bin with the container's global flags.
func (c *ctr) cmd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	full := append([]string{"--root", c.root, "--log", c.log, "--log-format", "json"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "RUNH_RUNC="+runcBin)
	cmd.Dir = c.bundle
	cmd.WaitDelay = time.Second
	return cmd
}

func (c *ctr) exec(bin string, stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := c.cmd(ctx, bin, args...)
	// Files, not pipes: a detached or created container keeps the stdio it
	// inherited open, so a pipe would never reach EOF.
	out, _ := os.CreateTemp(c.t.TempDir(), "stdout")
	errf, _ := os.CreateTemp(c.t.TempDir(), "stderr")
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	r := result{stdout: string(o), stderr: string(e)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

func (c *ctr) runh(args ...string) result { c.t.Helper(); return c.exec(runhBin, "", args...) }
func (c *ctr) runc(args ...string) result { c.t.Helper(); return c.exec(runcBin, "", args...) }

func (c *ctr) mustRunh(args ...string) result {
	c.t.Helper()
	r := c.runh(args...)
	if r.code != 0 {
		c.t.Fatalf("runh %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// stateEmpty reports whether runc's state root holds no container.
func (c *ctr) stateEmpty() bool {
	entries, _ := os.ReadDir(c.root)
	return len(entries) == 0
}

// lastLogLine decodes the last line of the JSON --log file.
func (c *ctr) lastLogLine() map[string]string {
	c.t.Helper()
	data, err := os.ReadFile(c.log)
	if err != nil {
		c.t.Fatalf("no log: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var m map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		c.t.Fatalf("log line %q: %v", lines[len(lines)-1], err)
	}
	return m
}
