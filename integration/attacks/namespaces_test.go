package attacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// privatePidNS starts a sleep as pid 1 of a new pid namespace (the test's
// own, stopped by its pid at cleanup) and returns its ns file.
func privatePidNS(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return fmt.Sprintf("/proc/%d/ns/pid", cmd.Process.Pid)
}

// hostPidNS is the host's pid namespace as readlink shows it.
func hostPidNS(t *testing.T) string {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// joinPidNS sets the container's pid namespace path.
func joinPidNS(path string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = path
				return
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: path})
	}
}

// TestNamespacePathRelative: a relative linux.namespaces[].path
// (runh issue 13, rule private-namespaces). runh stats the path from its own
// working directory (the client's bundle, where engines run it); runc
// opens it in runc init, whose working directory is the private bundle's
// rootfs, /run/runh/bundles/KEY/ID/NONCE/rootfs, seven levels deep.
// "../../../../../../../proc/P/ns/pid" from a bundle seven levels below a
// directory A of the author's is A/proc/P/ns/pid, a symlink to a private
// pid namespace (allowed); from runc init's cwd it is the host's
// /proc/P/ns/pid (P any host process), and the container joins the
// host's pid namespace. The same goes for net, ipc, uts and cgroup.
func TestNamespacePathRelative(t *testing.T) {
	c := newCtr(t, "readlink", "/proc/self/ns/pid")
	cleanupCtr(t, c)
	host := hostPidNS(t)
	hostPath := fmt.Sprintf("/proc/%d/ns/pid", os.Getpid())

	// Plain runc: a path to the host's pid namespace joins it.
	c.Edit(joinPidNS(hostPath))
	r := c.Runc("run", c.ID+"-runc")
	mustOK(t, r, "runc run")
	if strings.TrimSpace(r.Stdout) != host {
		t.Fatalf("plain runc: the container is in %q, not the host's %q", r.Stdout, host)
	}
	t.Logf("plain runc: namespaces path %s puts the container in the host's pid namespace %s", hostPath, host)
	// runh refuses that one, as it is.
	before := readFile(t, c.Config())
	c.Refused(c.Runh("run", c.ID), before, "linux.namespaces", "private-namespaces")
	noLeftovers(t, c, "refused run (absolute path)")

	// The relative path.
	a := t.TempDir()
	priv := privatePidNS(t)
	fake := filepath.Join(a, "proc", fmt.Sprint(os.Getpid()), "ns")
	if err := os.MkdirAll(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(priv, filepath.Join(fake, "pid")); err != nil {
		t.Fatal(err)
	}
	rel := fmt.Sprintf("../../../../../../../proc/%d/ns/pid", os.Getpid())
	deep := filepath.Join(a, "1", "2", "3", "4", "5", "6", "bundle")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	c.Edit(joinPidNS(rel))
	if err := os.WriteFile(filepath.Join(deep, "config.json"), readFile(t, c.Config()), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Bundle = deep
	if got, _ := os.Readlink(filepath.Join(deep, rel)); got != priv {
		t.Fatalf("setup: %s from the bundle is %q, want %s", rel, got, priv)
	}
	before = readFile(t, c.Config())
	// create: runh checks the created init's namespaces afterwards.
	r = c.Runh("create", c.ID+"-create")
	if r.Code == 0 {
		pid := initPid(t, c, c.ID+"-create")
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); got == host {
			t.Errorf("ATTACK SUCCEEDED against runh create: the created init is in the host's pid namespace %s", host)
		}
		c.Runh("delete", "--force", c.ID+"-create")
	} else {
		t.Logf("runh create: refused (exit %d): %s", r.Code, strings.TrimSpace(r.Stderr))
		noLeftovers(t, c, "refused create (relative path)")
	}
	r = c.Runh("run", c.ID)
	switch {
	case r.Code == 0 && strings.TrimSpace(r.Stdout) == host:
		t.Errorf("ATTACK SUCCEEDED against runh: the container joined the host's pid namespace %s\n"+
			"reproduce: mkdir -p A/proc/P/ns; ln -s /proc/Q/ns/pid A/proc/P/ns/pid (Q: pid 1 of a private pid ns; P: any host pid); bundle A/1/2/3/4/5/6/bundle with linux.namespaces pid path %q; cd there; runh run ID", host, rel)
	case r.Code == 0:
		t.Logf("runh: the container is in %s (not the host's)", strings.TrimSpace(r.Stdout))
	default:
		c.Refused(r, before, "linux.namespaces", "private-namespaces")
		noLeftovers(t, c, "refused run (relative path)")
	}
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
}

// TestNamespacePathSwapped: linux.namespaces[].path through a symlink the
// author swaps between a private namespace and the host's (runh issue 13,
// rule private-namespaces): runh stats the path, runc init opens it again
// later. A racer exchanges two symlinks (renameat2 RENAME_EXCHANGE) in a
// loop; no try may put the container in the host's pid namespace.
func TestNamespacePathSwapped(t *testing.T) {
	c := newCtr(t, "readlink", "/proc/self/ns/pid")
	cleanupCtr(t, c)
	host := hostPidNS(t)
	base := t.TempDir()
	ns, other := filepath.Join(base, "ns"), filepath.Join(base, "other")
	if err := os.Symlink(privatePidNS(t), ns); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fmt.Sprintf("/proc/%d/ns/pid", os.Getpid()), other); err != nil {
		t.Fatal(err)
	}
	c.Edit(joinPidNS(ns))
	before := readFile(t, c.Config())

	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, ns, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE) == nil {
				swaps.Add(1)
			}
		}
	}()
	stopRacer := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopRacer)

	var private, refused, other2, wins int
	start := time.Now()
	n := deadlineLoop(200, 30*time.Second, func(i int) bool {
		r := c.Runh("run", fmt.Sprintf("%s-%d", c.ID, i))
		got := strings.TrimSpace(r.Stdout)
		switch {
		case r.Code == 0 && got == host:
			wins++
			if wins == 1 {
				t.Errorf("ATTACK SUCCEEDED against runh on try %d: the container joined the host's pid namespace %s\n"+
					"reproduce: linux.namespaces pid path = a symlink swapped (RENAME_EXCHANGE, in a loop) between /proc/Q/ns/pid (private) and /proc/P/ns/pid (host); runh run in a loop", i, host)
			}
		case r.Code == 0 && strings.HasPrefix(got, "pid:["):
			private++
		case r.Code != 0 && strings.Contains(r.Stderr, "private-namespaces"):
			refused++
		default:
			other2++
		}
		return wins < 5
	})
	stopRacer()
	t.Logf("runh: %d tries in %v, %d exchanges: %d private, %d refused, %d other (runc errors), %d in the host's pid namespace",
		n, time.Since(start).Round(time.Millisecond), swaps.Load(), private, refused, other2, wins)
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
	if !c.StateEmpty() {
		t.Errorf("state left in %s", c.Root)
	}
}
