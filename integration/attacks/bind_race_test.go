package attacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bindMount is a read-only recursive bind of src at /mnt, as engines write
// volumes.
func bindMount(src string) specs.Mount {
	return specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "ro"}}
}

// listsHostRoot reports whether `ls /mnt` output is the host's root
// directory rather than the bind source (which holds marker).
func listsHostRoot(out, marker string) bool {
	names := map[string]bool{}
	for _, n := range strings.Fields(out) {
		names[n] = true
	}
	return !names[marker] && names["etc"] && names["usr"] && names["proc"]
}

// TestBindSourceSwappedAfterCheck: "bind source swapped after the check"
// (runh issue 13, the CVE-2021-25741 class). The bind source D is a plain
// directory when runh judges it; a racer swaps it with a symlink to the
// host's / (renameat2 RENAME_EXCHANGE, atomically, over and over) so that
// runc, which opened the source by path again later, would mount the
// host's root. runh pins what it checked (openat2 RESOLVE_NO_SYMLINKS,
// open_tree) and hands runc only the pin: every try must either show D or
// be refused (rule host-mounts); the host's root must never appear.
func TestBindSourceSwappedAfterCheck(t *testing.T) {
	c := newCtr(t, "sh", "-c", "ls /mnt")
	cleanupCtr(t, c)
	base := t.TempDir()
	marker := fmt.Sprintf("runh-bind-marker-%d", os.Getpid())
	src := filepath.Join(base, "src")
	link := filepath.Join(base, "link")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// Plain runc: a source that is a symlink to / when runc opens it gives
	// the container the host's root.
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	c.Edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount(link)) })
	r := c.Runc("run", c.ID+"-runc")
	mustOK(t, r, "runc run")
	if !listsHostRoot(r.Stdout, marker) {
		t.Fatalf("plain runc did not mount the host's root through the symlink:\n%s", r.Stdout)
	}
	t.Logf("plain runc: the source, a symlink to /, gave /mnt = the host's root: %q", strings.Join(strings.Fields(r.Stdout), " "))

	// runh: the source is D; the racer exchanges D and the symlink.
	c.Edit(func(s *specs.Spec) { s.Mounts[len(s.Mounts)-1] = bindMount(src) })
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
			if unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE) == nil {
				swaps.Add(1)
			}
		}
	}()
	stopRacer := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
		// Leave src the directory (an even number of exchanges).
		if fi, err := os.Lstat(src); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE)
		}
	})
	t.Cleanup(stopRacer)

	var shown, refused, other, wins int
	start := time.Now()
	n := deadlineLoop(200, 60*time.Second, func(i int) bool {
		id := fmt.Sprintf("%s-%d", c.ID, i)
		r := c.Runh("run", id)
		switch {
		case listsHostRoot(r.Stdout, marker):
			wins++
			t.Errorf("try %d: runh gave the container the host's root at /mnt (exit %d):\nstdout: %s\nstderr: %s", i, r.Code, r.Stdout, r.Stderr)
		case r.Code == 0 && strings.Contains(r.Stdout, marker):
			shown++
		case r.Code != 0 && strings.Contains(r.Stderr, "mounts[") && strings.Contains(r.Stderr, "host-mounts"):
			refused++
		default:
			other++
			t.Logf("try %d: neither D nor a refusal (exit %d):\nstdout: %s\nstderr: %s", i, r.Code, r.Stdout, r.Stderr)
		}
		if r.Code != 0 {
			// A refused create leaves nothing; check before the next try.
			if m := pinnedMounts(t, c); len(m) > 0 {
				leftover := false
				for _, p := range m {
					if strings.Contains(p, "/"+id+"/") {
						leftover = true
					}
				}
				if leftover {
					t.Errorf("try %d: refused run left mounts: %v", i, m)
				}
			}
		}
		return wins == 0
	})
	stopRacer()
	t.Logf("runh: %d tries in %v, %d exchanges: %d showed D, %d refused (host-mounts), %d other, %d showed the host's root",
		n, time.Since(start).Round(time.Millisecond), swaps.Load(), shown, refused, other, wins)
	if n < 50 && wins == 0 {
		t.Errorf("only %d tries in the time bound (want >= 50)", n)
	}
	if refused == 0 {
		t.Log("note: the racer never made runh refuse; the race window was not hit")
	}
	if other > n/10 {
		t.Errorf("%d of %d tries failed in some other way", other, n)
	}
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
	if !c.StateEmpty() {
		t.Errorf("state left in %s", c.Root)
	}
}
