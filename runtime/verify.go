package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/sandbox"
)

// ErrVerifyFailed is wrapped when the kernel's view of a created container
// differs from the hardened spec.
var ErrVerifyFailed = errors.New("post-create verification failed")

type hardened struct {
	spec *specs.Spec
	host *sandbox.Host
	env  *sandbox.Env
	// ids is the user-namespace range this create took, if any.
	ids *idRanges
}

// verifyCreated reads what the kernel applied to the container's init,
// which runc leaves waiting on its exec fifo with user, capabilities,
// no_new_privs, seccomp, namespaces and cgroup limits all in place. The
// init's pid comes from runc's state in its (root-only) state root, never
// from a --pid-file the client names and could rewrite.
//
// nics, the host's hardware interfaces before runc ran, adds the checks
// of verifyCreatedKernel on the same pid; nil leaves them out (compat).
func (c *call) verifyCreated(id string, h *hardened, nics map[string]bool) error {
	check := "verify-process"
	pid, err := c.containerPid(id)
	if err == nil {
		err = VerifyProcess(pid, h.spec, h.host, true)
	}
	if err == nil {
		check = "verify-host-ids"
		err = verifyHostIDs(pid, c.profile.Policy.IDFloor(), userNS(h.spec))
	}
	if err == nil && c.profile.Policy.UserNS && nics != nil {
		check = "verify-user-namespace"
		err = verifyUserNS(pid, h.spec, h.host)
	}
	if err == nil && nics != nil {
		check = "verify-host-nics"
		err = verifyCreatedKernel(pid, nics)
	}
	if err != nil {
		return &verifyError{check: check, err: fmt.Errorf("%w: container %s: %w", ErrVerifyFailed, id, err)}
	}
	return nil
}

// verifyError names the verification step that failed, for the metrics.
type verifyError struct {
	check string
	err   error
}

func (e *verifyError) Error() string { return e.err.Error() }
func (e *verifyError) Unwrap() error { return e.err }

// verifyHostIDs judges the init's ids as the host sees them, read from the
// host's /proc, not as the spec's mappings say they should be: none may
// be root, and in a user namespace none may be below the id floor. A spec
// whose own mappings put the workload on host root would otherwise pass
// (runh issue 13: [{0,100000,65534},{65534,0,1}] after the uid rewrite).
func verifyHostIDs(pid int, floor uint64, inUserNS bool) error {
	st, err := readStatus(pid)
	if err != nil {
		return err
	}
	for _, key := range []string{"Uid", "Gid"} {
		ids := strings.Fields(st[key])
		if len(ids) != 4 {
			return fmt.Errorf("%s is %q, want four ids", key, st[key])
		}
		for _, v := range ids {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 || inUserNS && n < floor {
				return fmt.Errorf("host %s is %q: root or below the id floor %d", key, st[key], floor)
			}
		}
	}
	return nil
}

// VerifyProcess compares /proc/<pid> with the spec: ids, the five capability
// sets, no_new_privs, seccomp, private namespaces and, with limits, the
// cgroup memory and pids limits.
func VerifyProcess(pid int, s *specs.Spec, host *sandbox.Host, limits bool) error {
	st, err := readStatus(pid)
	if err != nil {
		return err
	}
	u := s.Process.User
	// /proc shows ids as runh's (the host's) user namespace sees them: in a
	// container with its own user namespace, through the spec's mappings.
	inUserNS := userNS(s)
	uid, err := hostID(u.UID, s.Linux.UIDMappings, inUserNS)
	if err != nil {
		return fmt.Errorf("uid: %w", err)
	}
	gid, err := hostID(u.GID, s.Linux.GIDMappings, inUserNS)
	if err != nil {
		return fmt.Errorf("gid: %w", err)
	}
	// (verifyHostIDs judges these host ids again without the mappings.)
	for _, f := range []struct {
		key  string
		want uint32
	}{{"Uid", uid}, {"Gid", gid}} {
		for _, v := range strings.Fields(st[f.key]) {
			if v != strconv.FormatUint(uint64(f.want), 10) {
				return fmt.Errorf("%s is %q, want %d", f.key, st[f.key], f.want)
			}
		}
	}
	var caps *specs.LinuxCapabilities
	if s.Process.Capabilities != nil {
		caps = s.Process.Capabilities
	} else {
		caps = &specs.LinuxCapabilities{}
	}
	for _, set := range []struct {
		key  string
		caps []string
	}{
		{"CapInh", caps.Inheritable}, {"CapPrm", caps.Permitted}, {"CapEff", caps.Effective},
		{"CapBnd", caps.Bounding}, {"CapAmb", caps.Ambient},
	} {
		got, err := strconv.ParseUint(st[set.key], 16, 64)
		if err != nil {
			return fmt.Errorf("%s: %q: %w", set.key, st[set.key], err)
		}
		allowed := sandbox.CapMask(set.caps)
		if got&^allowed != 0 {
			return fmt.Errorf("%s is %016x, more than the hardened %016x", set.key, got, allowed)
		}
	}
	if st["NoNewPrivs"] != "1" {
		return fmt.Errorf("NoNewPrivs is %q, want 1", st["NoNewPrivs"])
	}
	if err := verifySeccomp(pid, st, s); err != nil {
		return err
	}
	for _, t := range sandbox.PrivateNamespaces {
		name := sandbox.NSProcName(t)
		id, err := sandbox.StatNS(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
		if err != nil {
			return err
		}
		if id == host.Namespaces[t] {
			return fmt.Errorf("the %s namespace is the host's", name)
		}
	}
	if !limits {
		return nil
	}
	r := s.Linux.Resources
	cg, err := readProcCgroup(pid)
	if err != nil {
		return err
	}
	mem, err := cg.limit("memory")
	if err != nil {
		return err
	}
	if mem <= 0 || mem > *r.Memory.Limit {
		return fmt.Errorf("memory limit is %s, want at most %d", fmtCgroupLimit(mem), *r.Memory.Limit)
	}
	pids, err := cg.limit("pids")
	if err != nil {
		return err
	}
	if pids <= 0 || pids > *r.Pids.Limit {
		return fmt.Errorf("pids limit is %s, want at most %d", fmtCgroupLimit(pids), *r.Pids.Limit)
	}
	return nil
}

// verifySeccomp: a process that starts through runh-init has runh's init
// and filter in its root (the filter itself is installed only when the
// container starts, and runh-init proves that from inside). With a client
// profile kept beside it, runc has installed that profile already, so
// Seccomp must be 2 as well; Seccomp 2 alone is not enough, since the
// client's filter satisfies it without runh's. Without runh-init, runc
// installs the whole profile: Seccomp 2.
func verifySeccomp(pid int, st map[string]string, s *specs.Spec) error {
	if !sandbox.StartsWithInit(s.Process) {
		if st["Seccomp"] != "2" {
			return fmt.Errorf("Seccomp is %q, want 2 (filter)", st["Seccomp"])
		}
		return nil
	}
	if s.Linux != nil && s.Linux.Seccomp != nil && st["Seccomp"] != "2" {
		return fmt.Errorf("Seccomp is %q, want 2 (the client's filter, under runh's)", st["Seccomp"])
	}
	return verifyFastPath(pid, s)
}

func fmtCgroupLimit(v int64) string {
	if v < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(v, 10)
}

func readStatus(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st, sc.Err()
}

// procCgroup is a process's /proc/<pid>/cgroup: the path of each cgroup v1
// controller's cgroup, and of its cgroup v2 one.
type procCgroup struct {
	pid    int
	v1     map[string]string
	v2     string
	found2 bool
}

func readProcCgroup(pid int) (*procCgroup, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	cg := &procCgroup{pid: pid, v1: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" && parts[0] == "0" {
			cg.v2, cg.found2 = parts[2], true
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			cg.v1[ctl] = parts[2]
		}
	}
	return cg, nil
}

// limit reads the process's memory or pids limit: -1 for unlimited. It
// looks for a cgroup v1 hierarchy of the controller first, as on hybrid
// hosts, and falls back to the unified hierarchy.
func (cg *procCgroup) limit(controller string) (int64, error) {
	var file string
	switch v1Path := cg.v1[controller]; {
	case v1Path != "" && cgroupMode() != cgroupUnified:
		dir, err := cg.v1Dir(controller, v1Path)
		if err != nil {
			return 0, err
		}
		name := "pids.max"
		if controller == "memory" {
			name = "memory.limit_in_bytes"
		}
		file = filepath.Join(dir, name)
	case cg.found2:
		file = filepath.Join("/sys/fs/cgroup", cg.v2, controller+".max")
		if cgroupMode() == cgroupHybrid {
			file = filepath.Join("/sys/fs/cgroup/unified", cg.v2, controller+".max")
		}
	default:
		return 0, fmt.Errorf("no %s cgroup for pid %d", controller, cg.pid)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read %s limit: %w", controller, err)
	}
	s := strings.TrimSpace(string(raw))
	if s == "max" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %q: %w", file, s, err)
	}
	// cgroup v1 reports "unlimited" memory as a page-rounded LONG_MAX.
	if controller == "memory" && v >= 1<<62 {
		return -1, nil
	}
	return v, nil
}

// The host's cgroup layout, as runc and containerd's cgroups.Mode tell it:
// cgroup2 at /sys/fs/cgroup is unified; cgroup2 at /sys/fs/cgroup/unified
// (under v1 controllers) is hybrid, as on this project's test machines.
const (
	cgroupLegacy = iota
	cgroupHybrid
	cgroupUnified
)

// cgroupMode is two statfs calls; it replaces containerd's cgroups module,
// whose package init and dependencies cost every runh-core start.
var cgroupMode = sync.OnceValue(func() int {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return cgroupUnified
	}
	if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return cgroupHybrid
	}
	return cgroupLegacy
})

// v1Dir finds the process's cgroup directory in a v1 hierarchy. The usual
// mount point, /sys/fs/cgroup/<controller>, is taken when the process is in
// that directory's cgroup.procs: a process is in one cgroup per hierarchy,
// and only the controller's own hierarchy has the limit file read next, so
// that proves it is the right one. Otherwise the mount point comes from
// /proc/self/mountinfo, whose every read the kernel renders anew: ~0.13 ms
// here with 47 mounts, far more on a node with hundreds of containers.
func (cg *procCgroup) v1Dir(controller, v1Path string) (string, error) {
	dir := filepath.Join("/sys/fs/cgroup", controller, v1Path)
	if inCgroup(dir, cg.pid) {
		return dir, nil
	}
	mnt, ok := cgroupMounts()[controller]
	if !ok {
		return "", fmt.Errorf("no cgroup v1 mount for %s", controller)
	}
	return filepath.Join(mnt, v1Path), nil
}

func inCgroup(dir string, pid int) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return false
	}
	return slices.Contains(strings.Fields(string(data)), strconv.Itoa(pid))
}

// cgroupMounts maps each cgroup v1 controller to its mount point, from one
// read of /proc/self/mountinfo per process.
var cgroupMounts = sync.OnceValue(func() map[string]string {
	mounts := map[string]string{}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return mounts
	}
	for _, line := range strings.Split(string(data), "\n") {
		// mount ID, parent, dev, root, mount point, options, [optional...], -, fstype, source, super options
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if sep < 0 || sep+3 >= len(fields) || fields[sep+1] != "cgroup" {
			continue
		}
		for _, o := range strings.Split(fields[sep+3], ",") {
			if _, dup := mounts[o]; !dup {
				mounts[o] = fields[4]
			}
		}
	}
	return mounts
})

func userNS(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}

// hostID maps a container id to the host's through the mappings of a user
// namespace; without one, ids are the host's.
func hostID(id uint32, maps []specs.LinuxIDMapping, inUserNS bool) (uint32, error) {
	if !inUserNS {
		return id, nil
	}
	if h, ok := sandbox.HostID(id, maps); ok {
		return h, nil
	}
	return 0, fmt.Errorf("%d is not mapped in the user namespace", id)
}
