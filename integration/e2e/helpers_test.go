//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls ready until it holds, or fails the test after deadline
// with the daemon's log.
func waitFor(t testing.TB, what string, deadline time.Time, logPath string, ready func() bool) {
	t.Helper()
	for !ready() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not start:\n%s", what, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runBounded runs name with args (and env, if not nil) for at most a
// minute and returns stdout, stderr and the exit code (-1 if it did not
// run or timed out).
func runBounded(env []string, name string, args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}

// stopDaemon interrupts a daemon the test started, waits, and kills it if
// it does not stop.
func stopDaemon(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// unmountUnder lazily unmounts, deepest first, every mount an engine left
// under dir, then removes dir.
func unmountUnder(dir string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		exec.Command("umount", "-l", mounts[i]).Run()
	}
	os.RemoveAll(dir)
}

// removeEmptyCgroups removes, deepest first, the empty cgroups an engine
// left under its parent (docker, default, k8s.io, libpod_parent) in every
// hierarchy. rmdir fails on a cgroup that still has tasks, so nothing in
// use is touched.
func removeEmptyCgroups(parents ...string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		for _, p := range parents {
			var dirs []string
			filepath.WalkDir(filepath.Join(root, p), func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				// conmon also writes "tasks" files into directories it
				// makes under /sys/fs/cgroup for controllers this host does
				// not mount (hugetlb, net_cls, ...): plain tmpfs, not cgroups.
				var fs syscall.Statfs_t
				if syscall.Statfs(dirs[i], &fs) == nil && fs.Type != 0x27e0eb && fs.Type != 0x63677270 {
					os.Remove(filepath.Join(dirs[i], "tasks"))
				}
				os.Remove(dirs[i])
			}
		}
	}
}
