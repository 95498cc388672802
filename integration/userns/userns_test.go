// Package userns runs the userns profile on real containers with the
// pinned runc: root inside, a pool range outside, measured from the host.
// It needs root and the built binaries (make build).
package userns

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/integration/harness"
)

var (
	rootfs    string
	rootfsErr error
)

func TestMain(m *testing.M) { harness.Main(m, "runh-userns", &rootfs, &rootfsErr) }

// The suite's own pool (not the default one other suites and the e2e
// clients use, so their containers cannot take its ranges): 16 ranges
// from 0x70000000, range 0 the volume range.
const (
	poolBase   = 0x70000000
	poolRanges = 16
	rangeSize  = 65536
	volumeBase = poolBase
)

// config writes the suite's operator config.
func config(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	body := fmt.Sprintf("default_profile = \"userns\"\naudit_log = \"\"\nuserns_pool_base = %d\nuserns_pool_ranges = %d\n", poolBase, poolRanges)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runh(c *harness.Ctr, cfg string, args ...string) harness.Result {
	c.T.Helper()
	return c.Runh(append([]string{"--runh-config", cfg}, args...)...)
}

func newCtr(t *testing.T, args ...string) *harness.Ctr {
	t.Helper()
	harness.Prerequisites(t, rootfs, rootfsErr)
	return harness.NewCtr(t, rootfs, args...)
}

// started creates and starts c under userns and returns its init's pid.
func started(t *testing.T, c *harness.Ctr, cfg string) int {
	t.Helper()
	if r := runh(c, cfg, "create", "--bundle", c.Bundle, c.ID); r.Code != 0 {
		t.Fatalf("runh create: %s", r.Stderr)
	}
	if r := c.Runc("start", c.ID); r.Code != 0 {
		t.Fatalf("runc start: %s", r.Stderr)
	}
	return initPid(t, c)
}

func initPid(t *testing.T, c *harness.Ctr) int {
	t.Helper()
	r := c.Runc("state", c.ID)
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Pid == 0 {
		t.Fatalf("runc state: %v %s %s", err, r.Stdout, r.Stderr)
	}
	return st.Pid
}

// hostStatus reads fields of /proc/<pid>/status as the host sees them.
func hostStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// hostRange is the first host id of pid's uid_map, which must be one
// whole range of the suite's pool (not range 0).
func hostRange(t *testing.T, pid int) uint32 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	if len(f) != 3 || f[0] != "0" || f[2] != strconv.Itoa(rangeSize) {
		t.Fatalf("uid_map %q, want one range of %d from 0", data, rangeSize)
	}
	b, _ := strconv.ParseUint(f[1], 10, 32)
	if b < poolBase+rangeSize || b >= poolBase+poolRanges*rangeSize || (b-poolBase)%rangeSize != 0 {
		t.Fatalf("uid_map %q: host range %d is not a container range of the pool %#x", data, b, poolBase)
	}
	return uint32(b)
}

// TestStockSpecRunsAsRootInside: a stock `runc spec` bundle under userns
// is uid 0 inside and an unprivileged pool id on the host, in a user
// namespace that is not the host's, with the rest of the floor.
func TestStockSpecRunsAsRootInside(t *testing.T) {
	cfg := config(t)
	c := newCtr(t, "sleep", "60")
	pid := started(t, c, cfg)
	defer c.Runc("delete", "--force", c.ID)
	base := hostRange(t, pid)
	st := hostStatus(t, pid)
	for _, k := range []string{"Uid", "Gid"} {
		want := strings.Repeat(fmt.Sprint(base)+"\t", 4)
		if st[k] != strings.TrimSpace(want) {
			t.Errorf("host %s %q, want %d x4", k, st[k], base)
		}
	}
	if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("NoNewPrivs %q Seccomp %q", st["NoNewPrivs"], st["Seccomp"])
	}
	own, _ := os.Readlink("/proc/self/ns/user")
	theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if own == theirs || theirs == "" {
		t.Fatalf("the container's user namespace %q is the host's %q", theirs, own)
	}
	// Inside: root, through runh exec as well.
	r := runh(c, cfg, "exec", c.ID, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")
	got := strings.Fields(r.Stdout)
	want := []string{"0", "0", "0", fmt.Sprint(base), "65536", "CapEff:", "0000000020000420" /* runc spec's AUDIT_WRITE, KILL, NET_BIND_SERVICE */, "NoNewPrivs:", "1", "Seccomp:", "2"}
	if r.Code != 0 || !slices.Equal(got, want) {
		t.Fatalf("exec: code %d %q, want %q\n%s", r.Code, got, want, r.Stderr)
	}
	t.Logf("inside uid 0; host Uid %s (pid %d), uid_map 0 %d 65536", st["Uid"], pid, base)
}

// TestNoHostPower: root inside has no power over the host: a mount fails
// (seccomp and no CAP_SYS_ADMIN), a write to a host root's file on a
// volume fails (its owner is not mapped, so CAP_DAC_OVERRIDE does not
// apply), and so do unshare and keyctl.
func TestNoHostPower(t *testing.T) {
	cfg := config(t)
	vol := t.TempDir()
	os.Chmod(vol, 0o755)
	host := filepath.Join(vol, "host-owned")
	if err := os.WriteFile(host, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(vol, "secret")
	os.WriteFile(secret, []byte("s\n"), 0o600)
	c := newCtr(t, "sh", "-c", `
mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || echo mount-denied
echo x >> /vol/host-owned 2>/dev/null && echo write-ok || echo write-denied
cat /vol/secret >/dev/null 2>&1 && echo read-ok || echo read-denied
unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-denied
touch /vol/new 2>/dev/null && echo create-ok || echo create-denied
touch /tmp/scratch && stat -c %u /tmp/scratch
`)
	c.Edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind", "rw"}})
		// Docker's default set: the DAC and chown capabilities are there.
		caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN", "CAP_NET_RAW"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	})
	r := runh(c, cfg, "run", "--bundle", c.Bundle, c.ID)
	got := strings.Fields(r.Stdout)
	want := []string{"mount-denied", "write-denied", "read-denied", "unshare-denied", "create-denied", "0"}
	if r.Code != 0 || !slices.Equal(got, want) {
		t.Fatalf("code %d: %q, want %q\n%s", r.Code, got, want, r.Stderr)
	}
	if data, _ := os.ReadFile(host); string(data) != "host\n" {
		t.Fatalf("host file changed: %q", data)
	}
}

// TestDropToUserWritesVolume: an entrypoint that chowns a volume directory
// as root and drops to uid 101, as nginx's and postgres's do, works; the
// file it writes shows on the host as the volume range's 101, the same for
// every container, so the volume keeps working across containers.
func TestDropToUserWritesVolume(t *testing.T) {
	cfg := config(t)
	vol := t.TempDir()
	os.Chmod(vol, 0o755)
	// The volume directory belongs to the volume range's root, as a
	// previous userns container would have left it.
	os.Chown(vol, volumeBase, volumeBase)
	rfs := privateRootfs(t, "app:x:101:101:app:/:/bin/sh\n")
	run := func(id, script string) harness.Result {
		c := newCtr(t, "sh", "-c", script)
		c.Edit(func(s *specs.Spec) {
			s.Root.Path = rfs
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind", "rw"}})
			caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		})
		return runh(c, cfg, "run", "--bundle", c.Bundle, c.ID)
	}
	r := run("first", `mkdir -p /data/app && chown 101:101 /data/app && su -s /bin/sh app -c 'id -u; echo hi > /data/app/f; stat -c "%u %g" /data/app/f'`)
	if r.Code != 0 || strings.Join(strings.Fields(r.Stdout), " ") != "101 101 101" {
		t.Fatalf("code %d: %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(vol, "app", "f"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != volumeBase+101 || st.Gid != volumeBase+101 {
		t.Fatalf("host owner %d:%d, want the volume range's 101 (%d)", st.Uid, st.Gid, volumeBase+101)
	}
	// A second container (another range) is still uid 101 for that file.
	r = run("second", `su -s /bin/sh app -c 'echo more >> /data/app/f && cat /data/app/f'`)
	if r.Code != 0 || strings.Join(strings.Fields(r.Stdout), " ") != "hi more" {
		t.Fatalf("second container: code %d: %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("file written by uid 101 inside is host %d:%d", st.Uid, st.Gid)
}

// privateRootfs copies the shared busybox rootfs (links kept) with extra
// /etc/passwd lines and matching groups.
func privateRootfs(t *testing.T, passwd string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if out, err := runCmd("cp", "-a", rootfs, dir); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	p := filepath.Join(dir, "etc", "passwd")
	old, _ := os.ReadFile(p)
	os.WriteFile(p, append(old, passwd...), 0o644)
	var groups strings.Builder
	groups.WriteString("root:x:0:\nnobody:x:65534:\n")
	for _, l := range strings.Fields(passwd) {
		f := strings.Split(l, ":")
		fmt.Fprintf(&groups, "%s:x:%s:\n", f[0], f[3])
	}
	os.WriteFile(filepath.Join(dir, "etc", "group"), []byte(groups.String()), 0o644)
	return dir
}

// TestConcurrentRangesDisjointAndReused: 10 concurrent creates get 10
// disjoint ranges; after they are deleted, the next create gets the
// lowest range again.
func TestConcurrentRangesDisjointAndReused(t *testing.T) {
	cfg := config(t)
	const count = 10
	ctrs := make([]*harness.Ctr, count)
	for i := range ctrs {
		ctrs[i] = newCtr(t, "sleep", "60")
	}
	var wg sync.WaitGroup
	for i, c := range ctrs {
		wg.Go(func() {
			if r := runh(c, cfg, "create", "--bundle", c.Bundle, c.ID); r.Code != 0 {
				t.Errorf("create %d: %s", i, r.Stderr)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[uint32]string{}
	for _, c := range ctrs {
		b := hostRange(t, initPid(t, c))
		if other, dup := seen[b]; dup {
			t.Fatalf("%s and %s share range %d", c.ID, other, b)
		}
		seen[b] = c.ID
	}
	lowest := slices.Min(slices.Collect(func(yield func(uint32) bool) {
		for b := range seen {
			if !yield(b) {
				return
			}
		}
	}))
	for _, c := range ctrs {
		c.Runc("delete", "--force", c.ID)
	}
	c := newCtr(t, "sleep", "60")
	pid := started(t, c, cfg)
	defer c.Runc("delete", "--force", c.ID)
	if b := hostRange(t, pid); b != lowest || lowest != poolBase+rangeSize {
		t.Fatalf("after deleting all, a new container got %d, want the first range %d again", b, poolBase+rangeSize)
	}
	t.Logf("10 concurrent containers: ranges %v; reused %d after delete", slices.Sorted(func(yield func(uint32) bool) {
		for b := range seen {
			if !yield(b) {
				return
			}
		}
	}), lowest)
}

// TestRestrictedDenialsHold: under userns, what restricted refuses is
// still refused (host mounts, devices, joining the host's namespaces),
// and a privileged-like spec loses everything outside the userns ceiling.
func TestRestrictedDenialsHold(t *testing.T) {
	cfg := config(t)
	for _, tc := range []struct {
		name, field, rule string
		edit              func(*specs.Spec)
	}{
		{"host /etc bind", "mounts[", "host-mounts", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/h", Type: "bind", Source: "/etc", Options: []string{"rbind"}})
		}},
		{"block device", "linux.devices", "devices", func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0})
		}},
		{"host pid namespace", "linux.namespaces", "private-namespaces", func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.PIDNamespace {
					s.Linux.Namespaces[i].Path = "/proc/1/ns/pid"
				}
			}
		}},
		{"mapping onto host root", "linux.uidMappings", "id-mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}},
		{"mapping into runh's pool", "linux.uidMappings", "user-namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: poolBase + rangeSize, Size: 65536}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCtr(t, "true")
			c.Edit(tc.edit)
			before, _ := os.ReadFile(c.Config())
			inUse := poolSlots(t)
			r := runh(c, cfg, "create", "--bundle", c.Bundle, c.ID)
			c.Refused(r, before, tc.field, tc.rule)
			for _, b := range poolSlots(t) {
				if !slices.Contains(inUse, b) {
					t.Fatalf("a refused create left range %s taken (before: %v)", b, inUse)
				}
			}
		})
	}
	// privileged-like: every capability asked for; only the userns
	// ceiling (Docker's defaults without NET_RAW) is left, in the
	// container's namespace.
	c := newCtr(t, "sh", "-c", "grep CapBnd /proc/self/status")
	all := []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_NET_RAW", "CAP_CHOWN", "CAP_SETUID", "CAP_BPF", "CAP_SYS_RAWIO"}
	c.Edit(func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all}
	})
	r := runh(c, cfg, "run", "--bundle", c.Bundle, c.ID)
	// CAP_CHOWN (bit 0) and CAP_SETUID (bit 7) only.
	if r.Code != 0 || strings.Join(strings.Fields(r.Stdout), " ") != "CapBnd: 0000000000000081" {
		t.Fatalf("code %d: %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// poolSlots lists the slot files of the suite's pool.
func poolSlots(t *testing.T) []string {
	t.Helper()
	ents, _ := os.ReadDir("/run/runh/userns")
	var out []string
	for _, e := range ents {
		if b, err := strconv.ParseUint(e.Name(), 10, 32); err == nil && b >= poolBase && b < poolBase+poolRanges*rangeSize {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestInotifyNotShared measures per-user kernel accounting. Under
// restricted every container is uid 65534, so one container can take all
// of that uid's inotify instances (fs.inotify.max_user_instances, 128 by
// default) and the next gets none. Under userns each container has its
// own user namespace, whose instances the kernel also charges to the
// namespace's creator, host root; runh caps each namespace
// (user.max_inotify_instances), so one container takes neither the
// others' nor root's.
func TestInotifyNotShared(t *testing.T) {
	cfg := config(t)
	harness.Prerequisites(t, rootfs, rootfsErr)
	rfs := privateRootfs(t, "")
	build := exec.Command("go", "build", "-o", filepath.Join(rfs, "bin", "inot"), "./inot")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build inot: %v %s", err, out)
	}
	max, _ := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	limit, _ := strconv.Atoi(strings.TrimSpace(string(max)))
	for _, tc := range []struct {
		profile    string
		hogWant    func(int) bool
		secondWant int
	}{
		{"restricted", func(n int) bool { return n > 0 && n <= limit }, 0},
		{"userns", func(n int) bool { return n == 32 }, 5},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			hog := newCtr(t, "inot", strconv.Itoa(limit+10), "20")
			hog.Edit(func(s *specs.Spec) { s.Root.Path = rfs })
			if r := runh(hog, cfg, "--runh-profile", tc.profile, "create", "--bundle", hog.Bundle, hog.ID); r.Code != 0 {
				t.Fatalf("create: %s", r.Stderr)
			}
			defer hog.Runc("delete", "--force", hog.ID)
			if r := hog.Runc("start", hog.ID); r.Code != 0 {
				t.Fatalf("start: %s", r.Stderr)
			}
			// The count, from the host: the hog's fds that are inotify
			// instances, once it has opened them.
			var got int
			for i := 0; i < 50 && (got == 0 || got != inotifyFds(initPid(t, hog))); i++ {
				got = inotifyFds(initPid(t, hog))
				runCmd("sleep", "0.1")
			}
			if !tc.hogWant(got) {
				t.Fatalf("the first container holds %d inotify instances", got)
			}
			second := newCtr(t, "inot", "5", "0")
			second.Edit(func(s *specs.Spec) { s.Root.Path = rfs })
			r := runh(second, cfg, "--runh-profile", tc.profile, "run", "--bundle", second.Bundle, second.ID)
			var n int
			fmt.Sscanf(r.Stdout, "inotify instances: %d", &n)
			if n != tc.secondWant {
				t.Fatalf("the second container got %d inotify instances, want %d (%q %s)", n, tc.secondWant, r.Stdout, r.Stderr)
			}
			t.Logf("%s: one container holds %d of %d, the next gets %d", tc.profile, got, limit, n)
		})
	}
}

// inotifyFds counts pid's open inotify instances.
func inotifyFds(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// The attack pass on this profile (issue 15) found the bypasses below;
// each test is one of them, fixed.

// TestRootfsOutsideBundleNotIdmapped: a rootfs that is a host directory
// outside the bundle is not idmapped, so root's 0600 files in it stay
// unreadable to the container's root; the bundle's own rootfs is
// idmapped (its files keep their owners inside).
func TestRootfsOutsideBundleNotIdmapped(t *testing.T) {
	cfg := config(t)
	host := privateRootfs(t, "")
	os.WriteFile(filepath.Join(host, "secret"), []byte("TOPSECRET\n"), 0o600)
	c := newCtr(t, "sh", "-c", "cat /secret 2>/dev/null || echo denied; stat -c %u /bin/busybox")
	c.Edit(func(s *specs.Spec) {
		s.Root.Path = host
		caps := []string{"CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	})
	r := runh(c, cfg, "run", "--bundle", c.Bundle, c.ID)
	if got := strings.Fields(r.Stdout); r.Code != 0 || !slices.Equal(got, []string{"denied", "65534"}) {
		t.Fatalf("host-directory rootfs: code %d %q, want denied and files owned by nobody\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// The same tree as the bundle's own rootfs is idmapped.
	own := newCtr(t, "sh", "-c", "stat -c %u /bin/busybox; cat /secret")
	if out, err := runCmd("cp", "-a", host, filepath.Join(own.Bundle, "rootfs")); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	own.Edit(func(s *specs.Spec) {
		s.Root.Path = "rootfs"
		caps := []string{"CAP_DAC_OVERRIDE"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	})
	os.Chmod(own.Bundle, 0o755)
	r = runh(own, cfg, "run", "--bundle", own.Bundle, own.ID)
	if got := strings.Fields(r.Stdout); r.Code != 0 || !slices.Equal(got, []string{"0", "TOPSECRET"}) {
		t.Fatalf("the bundle's own rootfs: code %d %q, want idmapped (owner 0, root reads its own image)\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestOtherProfilesStayOutOfThePool: restricted may not map a container
// id onto the volume range or a live container's range.
func TestOtherProfilesStayOutOfThePool(t *testing.T) {
	cfg := config(t)
	for _, host := range []uint32{volumeBase, poolBase + rangeSize} {
		c := newCtr(t, "true")
		c.Edit(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1}, {ContainerID: 1, HostID: host, Size: 65535}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
			s.Process.User = specs.User{UID: 1, GID: 1}
		})
		before, _ := os.ReadFile(c.Config())
		r := runh(c, cfg, "--runh-profile", "restricted", "create", "--bundle", c.Bundle, c.ID)
		c.Refused(r, before, "linux.uidMappings[1]", "id-mappings")
	}
}

// TestJoinerKeepsItsRange: a container that joined its pod sandbox's user
// namespace keeps the range taken after the sandbox is deleted; a new
// container gets another range.
func TestJoinerKeepsItsRange(t *testing.T) {
	cfg := config(t)
	sb := newCtr(t, "sleep", "60")
	sbPid := started(t, sb, cfg)
	defer sb.Runc("delete", "--force", sb.ID)
	base := hostRange(t, sbPid)
	app := newCtr(t, "sleep", "60")
	app.Root = sb.Root // one engine, one runc root
	app.Edit(func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.IPCNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/ipc", sbPid)
			}
		}
	})
	appPid := started(t, app, cfg)
	defer app.Runc("delete", "--force", app.ID)
	if b := hostRange(t, appPid); b != base {
		t.Fatalf("the joiner got range %d, not the sandbox's %d", b, base)
	}
	sb.Runc("delete", "--force", sb.ID)
	other := newCtr(t, "sleep", "60")
	otherPid := started(t, other, cfg)
	defer other.Runc("delete", "--force", other.ID)
	if b := hostRange(t, otherPid); b == base {
		t.Fatalf("range %d handed to a new container while the pod's container still runs in it", b)
	}
}

// TestDuplicateIDTakesNoRange: `run` of an id runc already has is refused
// before a range is taken (runh is runc by the time runc refuses it, and
// could not give the range back).
func TestDuplicateIDTakesNoRange(t *testing.T) {
	cfg := config(t)
	c := newCtr(t, "sleep", "60")
	started(t, c, cfg)
	defer c.Runc("delete", "--force", c.ID)
	before := poolSlots(t)
	for i := 0; i < 3; i++ {
		r := runh(c, cfg, "run", "--bundle", c.Bundle, c.ID)
		if r.Code == 0 || !strings.Contains(r.Stderr, "already exists") {
			t.Fatalf("run of an existing id: code %d %s", r.Code, r.Stderr)
		}
	}
	if after := poolSlots(t); len(after) > len(before) {
		t.Fatalf("ranges taken by refused runs: %v -> %v", before, after)
	}
}

// TestRootfsSubmountsReadOnly: runc's read-only remount covers only the
// rootfs's top mount; runh makes the mounts below it read-only, nosuid
// and nodev too, under every profile.
func TestRootfsSubmountsReadOnly(t *testing.T) {
	cfg := config(t)
	rfs := privateRootfs(t, "")
	sub := filepath.Join(rfs, "mnt")
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "runh-test", sub); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer runCmd("umount", "-l", sub)
	for _, profile := range []string{"restricted", "userns"} {
		c := newCtr(t, "sh", "-c", "touch /mnt/x 2>/dev/null && echo written || echo refused")
		c.Edit(func(s *specs.Spec) { s.Root.Path = rfs })
		r := runh(c, cfg, "--runh-profile", profile, "run", "--bundle", c.Bundle, c.ID)
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "refused" {
			t.Fatalf("%s: code %d %q\n%s", profile, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestHostOwnedNetns: a container that joins a network namespace the
// host's user namespace owns (as a CRI pod's) gets runh's sysfs of it and
// its net sysctls written by runh, group ids translated to its own
// range; after `run`, nothing of it stays mounted.
func TestHostOwnedNetns(t *testing.T) {
	cfg := config(t)
	harness.Prerequisites(t, rootfs, rootfsErr)
	name := fmt.Sprintf("runh-userns-%d", os.Getpid())
	if out, err := runCmd("ip", "netns", "add", name); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	defer runCmd("ip", "netns", "del", name)
	c := newCtr(t, "sh", "-c", "cat /proc/sys/net/ipv4/ping_group_range; ls /sys/class/net")
	c.Edit(func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = "/var/run/netns/" + name
			}
		}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}
	})
	r := runh(c, cfg, "run", "--bundle", c.Bundle, c.ID)
	if got := strings.Fields(r.Stdout); r.Code != 0 || !slices.Equal(got, []string{"0", "65535", "lo"}) {
		t.Fatalf("code %d %q, want the container's gids 0 65535 and the namespace's lo\n%s", r.Code, r.Stdout, r.Stderr)
	}
	host, _ := runCmd("ip", "netns", "exec", name, "cat", "/proc/sys/net/ipv4/ping_group_range", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
	f := strings.Fields(string(host))
	lo, _ := strconv.ParseUint(f[0], 10, 32)
	hi, _ := strconv.ParseUint(f[1], 10, 32)
	if len(f) != 3 || lo < poolBase+rangeSize || hi != lo+rangeSize-1 || f[2] != "0" {
		t.Fatalf("in the namespace, as the host sees it: %q; want one container range and 0", host)
	}
	// run's pin releaser detaches runh's sysfs with the other pins.
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile("/proc/self/mountinfo")
		if !strings.Contains(string(data), "/"+c.ID+"/") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pins of %s still mounted after run", c.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMountPointBelowSubmount: a mount point that runc would have to make
// below a rootfs submount (now read-only) is made by runh first.
func TestMountPointBelowSubmount(t *testing.T) {
	cfg := config(t)
	rfs := privateRootfs(t, "")
	sub := filepath.Join(rfs, "mnt")
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=1m", "runh-test", sub); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer runCmd("umount", "-l", sub)
	for _, profile := range []string{"restricted", "userns"} {
		c := newCtr(t, "sh", "-c", "grep -c ' /mnt/newdir ' /proc/self/mountinfo")
		c.Edit(func(s *specs.Spec) {
			s.Root.Path = rfs
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/newdir", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}})
		})
		r := runh(c, cfg, "--runh-profile", profile, "run", "--bundle", c.Bundle, c.ID)
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "1" {
			t.Fatalf("%s: code %d %q\n%s", profile, r.Code, r.Stdout, r.Stderr)
		}
	}
}
