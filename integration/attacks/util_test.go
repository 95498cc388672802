package attacks

// Helpers shared by the attack tests: what runh leaves under its private
// bundles, bounded loops, cgroup and process cleanup, reading a
// container's init from the host.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/integration/harness"
)

// bundlesTop is where runh keeps the private bundles it hands runc
// (runtime/create.go: stateDir()/bundles, stateDir fixed in release builds).
const bundlesTop = "/run/runh/bundles"

// rootKey is runh's name for a --root under bundlesTop: FNV-1a 64 of the
// absolute path, in hex (runtime/create.go rootKey).
func rootKey(root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	h := fnv.New64a()
	h.Write([]byte(root))
	return strconv.FormatUint(h.Sum64(), 16)
}

// keyDir is the directory of c's private bundles.
func keyDir(c *harness.Ctr) string { return filepath.Join(bundlesTop, rootKey(c.Root)) }

// mountPoints lists the mount points of this mount namespace (the test
// runs in the host's, as runh does) that are dir or below it.
func mountPoints(t testing.TB, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pinnedMounts are the mounts runh still has in c's private bundles.
func pinnedMounts(t testing.TB, c *harness.Ctr) []string {
	t.Helper()
	return mountPoints(t, keyDir(c))
}

// privateBundles lists c's private bundle directories (KEY/ID/NONCE).
func privateBundles(c *harness.Ctr) []string {
	dirs, _ := filepath.Glob(filepath.Join(keyDir(c), "*", "*"))
	return dirs
}

// noLeftovers fails t if c's state root holds a container or runh still
// has a mount in c's private bundles.
func noLeftovers(t testing.TB, c *harness.Ctr, what string) {
	t.Helper()
	if !c.StateEmpty() {
		entries, _ := os.ReadDir(c.Root)
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s: state left in %s: %v", what, c.Root, names)
	}
	if m := pinnedMounts(t, c); len(m) > 0 {
		t.Errorf("%s: mounts left under %s: %v", what, keyDir(c), m)
	}
}

// releasePins removes c's private bundles (detaching every pin, never
// recursing into one) once its containers are gone: runh's own sweep only
// runs on a later create with the same --root, a minute later, and each
// test container has a root of its own. Call it from t.Cleanup after the
// containers were deleted.
func releasePins(t testing.TB, c *harness.Ctr) {
	for _, d := range privateBundles(c) {
		if err := removePrivateBundle(d); err != nil {
			t.Logf("cleanup: %v", err)
		}
		os.Remove(filepath.Dir(d)) // the id directory, if empty
	}
	os.Remove(keyDir(c))
}

// removePrivateBundle is sandbox.RemovePrivateBundle, kept here so these
// tests build while sandbox/ is being edited: every entry is detached
// (if a mount) and removed one by one, never recursively, and only files
// on runh's tmpfs are unlinked.
func removePrivateBundle(dir string) error {
	var top syscall.Stat_t
	if err := syscall.Stat(bundlesTop, &top); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, ent := range entries {
		p := filepath.Join(dir, ent.Name())
		if ent.Name() == "rootfs" || strings.HasPrefix(ent.Name(), "m") {
			if err := unix.Unmount(p, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && err != unix.EINVAL && err != unix.ENOENT {
				errs = append(errs, fmt.Errorf("detach %s: %w", p, err))
				continue
			}
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil || st.Dev != top.Dev {
			errs = append(errs, fmt.Errorf("%s is not on runh's tmpfs: left", p))
			continue
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			err = syscall.Rmdir(p)
		} else {
			err = syscall.Unlink(p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	if err := syscall.Rmdir(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// cleanupCtr deletes ids (and c.ID) from c's root with plain runc and then
// releases runh's pins for c. It registers after newCtr's own cleanup, so
// it runs first: the containers go before their pins.
func cleanupCtr(t *testing.T, c *harness.Ctr, ids ...string) {
	t.Cleanup(func() {
		for _, id := range append(ids, c.ID) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			exec.CommandContext(ctx, harness.Runc, "--root", c.Root, "delete", "--force", id).Run()
			cancel()
		}
		releasePins(t, c)
	})
}

// readFile reads path, failing t.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeSpec writes s as config.json into dir.
func writeSpec(t testing.TB, path string, s *specs.Spec) []byte {
	t.Helper()
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// loadSpec reads c's config.json.
func loadSpec(t testing.TB, c *harness.Ctr) *specs.Spec {
	t.Helper()
	var s specs.Spec
	if err := json.Unmarshal(readFile(t, c.Config()), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// statusField is a field of /proc/<pid>/status ("Uid", "Seccomp").
func statusField(t testing.TB, pid int, field string) string {
	t.Helper()
	data := readFile(t, fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return ""
}

// statusOf parses the workload's `grep -E "CapEff|NoNewPrivs|Seccomp:"
// /proc/self/status` output (after `id -u`) into a map; "uid" is id -u.
func statusOf(out string) map[string]string {
	m := map[string]string{}
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		} else if i == 0 {
			m["uid"] = strings.TrimSpace(l)
		}
	}
	return m
}

// initPid is the pid of a created container's init, from bin/runc state.
func initPid(t testing.TB, c *harness.Ctr, id string) int {
	t.Helper()
	r := c.Runc("state", id)
	if r.Code != 0 {
		t.Fatalf("runc state %s: %s", id, r.Stderr)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Pid <= 0 {
		t.Fatalf("runc state %s: %v %q", id, err, r.Stdout)
	}
	return st.Pid
}

// mustOK fails t unless r succeeded.
func mustOK(t testing.TB, r harness.Result, what string) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s failed (%d):\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
	}
}

// cgroupHierarchies are the cgroup mounts under /sys/fs/cgroup (v1
// controllers, name=systemd and the unified hierarchy of a hybrid host).
func cgroupHierarchies() []string {
	var out []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		dir := filepath.Join("/sys/fs/cgroup", e.Name())
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
			out = append(out, dir)
		}
	}
	return out
}

// removeCgroups removes the cgroup rel (and its parents up to, not
// including, the hierarchy root) in every hierarchy, deepest first, once
// it is empty. It retries for a few seconds: a killed process leaves its
// cgroup a moment later.
func removeCgroups(t testing.TB, rels ...string) {
	deadline := time.Now().Add(5 * time.Second)
	for _, h := range cgroupHierarchies() {
		for _, rel := range rels {
			dir := filepath.Join(h, rel)
			for {
				err := syscall.Rmdir(dir)
				if err == nil || os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("cleanup: rmdir %s: %v", dir, err)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// startProcess starts a host process the test owns and stops it (by its
// pid, nothing else) at cleanup.
func startProcess(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// deadlineLoop runs try until n tries are done or d has passed, and
// returns how many ran.
func deadlineLoop(n int, d time.Duration, try func(i int) bool) int {
	end := time.Now().Add(d)
	i := 0
	for ; i < n && time.Now().Before(end); i++ {
		if !try(i) {
			return i + 1
		}
	}
	return i
}

// privateRootfs builds a busybox rootfs in a directory every user can
// traverse (the shared one sits in a 0700 temp dir, which a container's
// root mapped onto an unprivileged host id cannot reach).
func privateRootfs(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "runh-attacks-rootfs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rfs := filepath.Join(dir, "rootfs")
	if err := harness.BuildRootfs(rfs); err != nil {
		t.Fatal(err)
	}
	return rfs
}

// fileOwner is the host uid that owns path.
func fileOwner(path string) (uint32, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Uid, nil
}
