package attacks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/integration/harness"
)

// withFd3 runs bin with args and f as fd 3 (30 s at most).
func withFd3(c *harness.Ctr, f *os.File, bin string, args ...string) harness.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := c.Cmd(ctx, bin, args...)
	cmd.ExtraFiles = []*os.File{f}
	return c.Wait(cmd)
}

// hostDir is an open directory of the host's holding a marker file.
func hostDir(t *testing.T) (*os.File, string) {
	t.Helper()
	dir := t.TempDir()
	marker := "runh-fd-marker"
	if err := os.WriteFile(filepath.Join(dir, marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, marker
}

// TestInheritedDirectoryFd: a host directory handed to the container as
// an inherited fd (runh issue 13, the CVE-2024-21626 class by another
// door): `run --preserve-fds 1` with fd 3 open on a host directory lets
// the workload walk the host's tree from /proc/self/fd/3. runh refuses it
// (fd 3, rule inherited-fds), for run and for exec into a runh container;
// a pipe as fd 3 still works.
func TestInheritedDirectoryFd(t *testing.T) {
	dir, marker := hostDir(t)
	c := newCtr(t, "sh", "-c", "ls /proc/self/fd/3/")
	cleanupCtr(t, c, c.ID+"-sleep", c.ID+"-runc", c.ID+"-rsleep")

	// Plain runc: the workload lists the host directory.
	r := withFd3(c, dir, harness.Runc, "run", "--preserve-fds", "1", c.ID+"-runc")
	mustOK(t, r, "runc run --preserve-fds 1")
	if !strings.Contains(r.Stdout, marker) {
		t.Fatalf("plain runc: the workload did not list the host directory:\n%s%s", r.Stdout, r.Stderr)
	}
	t.Logf("plain runc run: fd 3 lists the host directory: %q", strings.TrimSpace(r.Stdout))

	before := readFile(t, c.Config())
	r = withFd3(c, dir, harness.Runh, "run", "--preserve-fds", "1", c.ID)
	c.Refused(r, before, "fd 3", "inherited-fds")
	noLeftovers(t, c, "refused run")
	if strings.Contains(r.Stdout, marker) {
		t.Error("runh: the workload listed the host directory")
	}
	r = withFd3(c, dir, harness.Runh, "create", "--preserve-fds", "1", c.ID)
	c.Refused(r, before, "fd 3", "inherited-fds")
	noLeftovers(t, c, "refused create")

	// exec --preserve-fds 1: plain runc into a runc container, runh into a
	// runh container (both sleeping).
	sleeping := func(bin, id string) {
		c.Edit(func(s *specs.Spec) { s.Process.Args = []string{"sleep", "30"} })
		mustOK(t, c.Exec(bin, "create", id), filepath.Base(bin)+" create")
		mustOK(t, c.Exec(bin, "start", id), filepath.Base(bin)+" start")
	}
	sleeping(harness.Runc, c.ID+"-rsleep")
	r = withFd3(c, dir, harness.Runc, "exec", "--preserve-fds", "1", c.ID+"-rsleep", "ls", "/proc/self/fd/3/")
	mustOK(t, r, "runc exec --preserve-fds 1")
	if !strings.Contains(r.Stdout, marker) {
		t.Fatalf("plain runc exec: fd 3 did not list the host directory:\n%s%s", r.Stdout, r.Stderr)
	}
	t.Logf("plain runc exec: fd 3 lists the host directory: %q", strings.TrimSpace(r.Stdout))

	sleeping(harness.Runh, c.ID+"-sleep")
	r = withFd3(c, dir, harness.Runh, "exec", "--preserve-fds", "1", c.ID+"-sleep", "ls", "/proc/self/fd/3/")
	if r.Code == 0 || !strings.Contains(r.Stderr, "fd 3") || !strings.Contains(r.Stderr, "inherited-fds") {
		t.Errorf("runh exec with a directory as fd 3: want a refusal naming fd 3 and inherited-fds, got exit %d:\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout, marker) {
		t.Error("runh exec: the process listed the host directory")
	}
	// An O_PATH fd on the same directory: the same.
	opath, err := os.OpenFile(dir.Name(), os.O_RDONLY|unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer opath.Close()
	r = withFd3(c, opath, harness.Runh, "exec", "--preserve-fds", "1", c.ID+"-sleep", "ls", "/proc/self/fd/3/")
	if r.Code == 0 || !strings.Contains(r.Stderr, "fd 3") || !strings.Contains(r.Stderr, "inherited-fds") {
		t.Errorf("runh exec with an O_PATH fd 3: want a refusal, got exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	mustOK(t, c.Runh("delete", "--force", c.ID+"-sleep"), "runh delete")
	mustOK(t, c.Runc("delete", "--force", c.ID+"-rsleep"), "runc delete")
	noLeftovers(t, c, "after delete")
}

// TestInheritedPipeFd: a pipe as fd 3 is what clients really pass; runh
// lets it through (runh issue 13, rule inherited-fds allows it).
func TestInheritedPipeFd(t *testing.T) {
	c := newCtr(t, "sh", "-c", "cat <&3")
	cleanupCtr(t, c)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := pw.WriteString("through-the-pipe\n"); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := withFd3(c, pr, harness.Runh, "run", "--preserve-fds", "1", c.ID)
	mustOK(t, r, "runh run --preserve-fds 1 with a pipe")
	if strings.TrimSpace(r.Stdout) != "through-the-pipe" {
		t.Errorf("runh: the workload read %q from the pipe", r.Stdout)
	}
	if !c.StateEmpty() {
		t.Errorf("state left in %s", c.Root)
	}
}
