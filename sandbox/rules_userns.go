package sandbox

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UserNSLimits are the per-user-namespace kernel limits runh sets for a
// container in its own user namespace (runc writes them, as the
// namespace's root, before the workload starts; the workload then has a
// read-only /proc/sys and no CAP_SYS_RESOURCE to raise them). The kernel
// charges a user namespace's inotify instances to its creator too, host
// root: measured on Linux 6.18, one userns container opening inotify
// instances took 126 of root's 128 (fs.inotify.max_user_instances), and
// inotify_init then failed for every root process on the host. Capped per
// container, one container cannot take root's budget alone.
var UserNSLimits = map[string]uint64{
	"user.max_inotify_instances": 32,
	"user.max_inotify_watches":   16384,
}

// IDRangeSize is the ids of one container's user namespace: the whole
// 16-bit space an image may use (nobody is 65534).
const IDRangeSize = 65536

// IDPool is the node's pool of user-namespace ranges (internal/idpool).
type IDPool interface {
	// Allocate gives this create a fresh range and returns its first
	// host id.
	Allocate() (uint32, error)
	// Join makes this create a co-owner of the range at base, which must
	// belong to a live runh container (a pod's sandbox): the range stays
	// taken while any of its containers lives.
	Join(base uint32) error
	// Mine reports whether this create allocated or joined the range at
	// base (a second pass over runh's own output).
	Mine(base uint32) bool
	// Contains reports whether any of [start, start+size) is in the pool.
	Contains(start, size uint64) bool
	// VolumeBase is the on-disk owner of volume files written by
	// container uid 0: a volume file of container uid u is VolumeBase+u
	// on the host, whatever range the container has.
	VolumeBase() uint32
}

// ProcUserNS is what the rules read of a process's user namespace.
type ProcUserNS struct {
	NS       NSID
	UID, GID []specs.LinuxIDMapping
}

// ReadUserNS reads /proc/<pid>/ns/user and its uid_map and gid_map: the
// rules judge a pod sandbox by it, and the post-create verification the
// container's init.
func ReadUserNS(pid int) (ProcUserNS, error) {
	var out ProcUserNS
	dir := "/proc/" + strconv.Itoa(pid)
	ns, err := StatNS(dir + "/ns/user")
	if err != nil {
		return out, err
	}
	out.NS = ns
	for _, m := range []struct {
		file string
		to   *[]specs.LinuxIDMapping
	}{{"uid_map", &out.UID}, {"gid_map", &out.GID}} {
		data, err := os.ReadFile(dir + "/" + m.file)
		if err != nil {
			return out, err
		}
		if *m.to, err = ParseIDMap(string(data)); err != nil {
			return out, fmt.Errorf("%s/%s: %w", dir, m.file, err)
		}
	}
	return out, nil
}

// ParseIDMap parses a /proc/<pid>/uid_map ("inside outside count" lines).
func ParseIDMap(s string) ([]specs.LinuxIDMapping, error) {
	var out []specs.LinuxIDMapping
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %q", line)
		}
		var v [3]uint32
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", line, err)
			}
			v[i] = uint32(n)
		}
		out = append(out, specs.LinuxIDMapping{ContainerID: v[0], HostID: v[1], Size: v[2]})
	}
	return out, nil
}

// rangeMapping is a container's whole range: ids 0-65535 inside on
// base-base+65535 outside.
func rangeMapping(base uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: IDRangeSize}}
}

// poolRange is the first host id of maps if maps is exactly one whole
// range (0-65535 on base...) for both uids and gids.
func poolRange(uid, gid []specs.LinuxIDMapping) (uint32, bool) {
	if len(uid) != 1 || !slices.Equal(uid, gid) || uid[0].ContainerID != 0 || uid[0].Size != IDRangeSize {
		return 0, false
	}
	return uid[0].HostID, true
}

// podSandboxPid is the process whose ipc, uts or pid namespace the spec
// joins by /proc/<pid>/ns/ path: under CRI, the pod's sandbox (pause).
func podSandboxPid(l *specs.Linux) (int, bool) {
	for _, ns := range l.Namespaces {
		if ns.Type != specs.IPCNamespace && ns.Type != specs.UTSNamespace && ns.Type != specs.PIDNamespace {
			continue
		}
		rest, ok := strings.CutPrefix(ns.Path, "/proc/")
		if !ok {
			continue
		}
		pid, tail, ok := strings.Cut(rest, "/")
		if n, err := strconv.Atoi(pid); ok && err == nil && n > 0 && tail == "ns/"+NSProcName(ns.Type) {
			return n, true
		}
	}
	return 0, false
}

// RuleUserNamespace puts the container in a user namespace of its own
// kind (profile userns): root inside, a range of 65536 host ids outside
// that no host user and no other container has. So a process that breaks
// out of the other namespaces is an unprivileged stranger on the host, and
// per-user kernel accounting (RLIMIT_NPROC, inotify instances, keyrings)
// is no longer shared by every container as it is at uid 65534. The
// mapping is, in order:
//
//   - the client's, if it set one (the kubelet's for a hostUsers: false
//     pod, Podman's --userns): judged by id-mappings against the floor,
//     and never inside runh's pool, whose ranges are runh's to give;
//   - the pod sandbox's, for a container that joins the ipc, uts or pid
//     namespace of a runh userns container by /proc/<pid>/ns/ path (CRI):
//     it joins that user namespace too, with the same mapping, so the
//     pod's containers share ids as they share the rest;
//   - otherwise a fresh range from the pool.
//
// With runh's mapping, bind mounts are idmapped so that a volume file of
// container uid u is VolumeBase+u on disk: a volume keeps its owners across
// containers and restarts, and no on-disk id below the floor is handed to
// the container (id-mappings judges these mappings too). The root
// filesystem's idmapping is made when it is pinned (PinHostPaths).
var RuleUserNamespace = Rule{
	Name: "user-namespace",
	Doc:  "the container gets its own user namespace: a fresh 65536-id host range from the node's pool, or its pod sandbox's, or the kubelet's mapping checked against the floor",
	Hint: "leave linux.uidMappings/gidMappings unset (runh allocates a range), or map onto host ids at or above the floor and outside runh's pool",
	Apply: func(e *Env, s *specs.Spec) error {
		if !e.Policy.UserNS {
			return nil
		}
		pool := e.Host.IDs
		if pool == nil {
			return deny("linux.namespaces", "the profile gives every container its own user namespace, and this node has no id pool")
		}
		l := ensureLinux(s)
		if i := slices.IndexFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace }); i >= 0 {
			if err := clientUserNS(pool, l, i); err != nil {
				return err
			}
			setUserNSLimits(e, l)
			return nil
		}
		if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
			return deny("linux.uidMappings", "mappings without a user namespace")
		}
		var base uint32
		path := ""
		if pid, ok := podSandboxPid(l); ok {
			read := e.Host.ReadProcUserNS
			if read == nil {
				read = ReadUserNS
			}
			// A process whose user namespace cannot be read is no runh
			// sandbox to join: the container gets a range of its own, and
			// private-namespaces judges the path it joins.
			sb, err := read(pid)
			if b, ok := poolRange(sb.UID, sb.GID); err == nil && ok && sb.NS != e.Host.Namespaces[specs.UserNamespace] && (pool.Mine(b) || pool.Join(b) == nil) {
				base, path = b, fmt.Sprintf("/proc/%d/ns/user", pid)
			}
		}
		if path == "" {
			b, err := pool.Allocate()
			if err != nil {
				return deny("linux.uidMappings", "no user-namespace range for this container: %v", err)
			}
			base = b
		}
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: path})
		l.UIDMappings, l.GIDMappings = rangeMapping(base), rangeMapping(base)
		e.UserNSBase = base
		if path != "" {
			e.changed("linux.namespaces", "joins the pod sandbox's user namespace %s (host ids %d-%d)", path, base, base+IDRangeSize-1)
		} else {
			e.changed("linux.uidMappings", "own user namespace: container ids 0-65535 are host ids %d-%d", base, base+IDRangeSize-1)
		}
		clampPingGroupRange(e, l)
		setUserNSLimits(e, l)
		vol := pool.VolumeBase()
		for i := range s.Mounts {
			m := &s.Mounts[i]
			if !isBind(m) || isRunhMount(*m, e.Host) {
				continue
			}
			idm := []specs.LinuxIDMapping{{ContainerID: vol, HostID: base, Size: IDRangeSize}}
			if slices.Equal(m.UIDMappings, idm) && slices.Equal(m.GIDMappings, idm) {
				continue
			}
			if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
				return deny(fmt.Sprintf("mounts[%d].uidMappings", i), "runh idmaps bind mounts in its own user namespaces; a client idmapping is refused")
			}
			m.UIDMappings, m.GIDMappings = idm, slices.Clone(idm)
			e.changed(fmt.Sprintf("mounts[%d]", i), "idmapped: files of container uid u are host uid %d+u on %s", vol, m.Source)
		}
		return nil
	},
}

// clientUserNS judges a user namespace the client asked for (the i-th
// namespace): it must come with both mappings, and may not claim ids of
// runh's pool, unless it joins, by path, a live runh container's whole
// range (runc then checks the path's mapping is the one given).
func clientUserNS(pool IDPool, l *specs.Linux, i int) error {
	field := fmt.Sprintf("linux.namespaces[%d]", i)
	if len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0 {
		return deny(field, "a user namespace needs linux.uidMappings and linux.gidMappings (runh judges them)")
	}
	inPool := false
	for _, m := range slices.Concat(l.UIDMappings, l.GIDMappings) {
		inPool = inPool || pool.Contains(uint64(m.HostID), uint64(m.Size))
	}
	if !inPool {
		return nil
	}
	if b, ok := poolRange(l.UIDMappings, l.GIDMappings); ok {
		if pool.Mine(b) || l.Namespaces[i].Path != "" && pool.Join(b) == nil {
			return nil
		}
	}
	return deny("linux.uidMappings", "maps onto runh's user-namespace pool, whose ranges runh gives out one per container")
}

// CheckUserNamespace (userns profile): the process is in a user namespace
// with mappings and UserNSLimits, and its uid, gid and groups are mapped
// onto host ids that are not root and not below the floor. Root inside is allowed only here,
// where the capabilities it holds are the user namespace's, not the host's.
var CheckUserNamespace = Check{
	Name:    "check-user-namespace",
	Doc:     "the process runs in a user namespace whose mappings put its uid, gid and groups on host ids at or above the floor",
	Process: true,
	Verify: func(e *Env, s *specs.Spec) error {
		if s.Process == nil {
			return deny("process", "no process")
		}
		if s.Linux == nil || !hasNamespace(s.Linux, specs.UserNamespace) || len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
			return deny("linux.namespaces", "no user namespace with mappings: root and capabilities would be the host's")
		}
		for k, limit := range UserNSLimits {
			if !withinUserNSLimit(k, s.Linux.Sysctl[k]) {
				return deny("linux.sysctl."+k, "%q: want at most %d (the container's user-namespace limit)", s.Linux.Sysctl[k], limit)
			}
		}
		floor := e.Policy.IDFloor()
		u := s.Process.User
		ids := []struct {
			field string
			id    uint32
			maps  []specs.LinuxIDMapping
		}{{"process.user.uid", u.UID, s.Linux.UIDMappings}, {"process.user.gid", u.GID, s.Linux.GIDMappings}}
		for _, g := range u.AdditionalGids {
			ids = append(ids, struct {
				field string
				id    uint32
				maps  []specs.LinuxIDMapping
			}{"process.user.additionalGids", g, s.Linux.GIDMappings})
		}
		for _, id := range ids {
			host, ok := HostID(id.id, id.maps)
			if !ok {
				return deny(id.field, "id %d is not mapped by the user namespace", id.id)
			}
			if uint64(host) < floor {
				return deny(id.field, "id %d is host id %d, below the floor %d", id.id, host, floor)
			}
		}
		return nil
	},
}

// clampPingGroupRange keeps net.ipv4.ping_group_range inside the
// container's 65536 ids: the kernel refuses (EINVAL) a range with gids
// its user namespace does not map, and Docker sets "0 2147483647" on
// every container.
func clampPingGroupRange(e *Env, l *specs.Linux) {
	const key = "net.ipv4.ping_group_range"
	v, ok := l.Sysctl[key]
	if !ok {
		return
	}
	f := strings.Fields(v)
	if len(f) != 2 {
		return // the sysctls rule judges the value
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 32)
	hi, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil || hi < IDRangeSize {
		return
	}
	if lo >= IDRangeSize {
		delete(l.Sysctl, key)
		e.changed("linux.sysctl."+key, "removed: %q names no gid of the container's user namespace", v)
		return
	}
	l.Sysctl[key] = fmt.Sprintf("%d %d", lo, IDRangeSize-1)
	e.changed("linux.sysctl."+key, "%q -> %q: the user namespace maps gids 0-%d", v, l.Sysctl[key], IDRangeSize-1)
}

// withinUserNSLimit reports whether v is a plain decimal no higher than
// the UserNSLimits value of k (false for a key with no limit).
func withinUserNSLimit(k, v string) bool {
	limit, ok := UserNSLimits[k]
	n, err := strconv.ParseUint(v, 10, 32)
	return ok && err == nil && n <= limit
}

// setUserNSLimits sets UserNSLimits, keeping a client's lower value.
func setUserNSLimits(e *Env, l *specs.Linux) {
	for _, k := range slices.Sorted(maps.Keys(UserNSLimits)) {
		limit := UserNSLimits[k]
		if v, ok := l.Sysctl[k]; ok && withinUserNSLimit(k, v) {
			continue
		}
		if l.Sysctl == nil {
			l.Sysctl = map[string]string{}
		}
		l.Sysctl[k] = strconv.FormatUint(limit, 10)
		e.changed("linux.sysctl."+k, "%d: the container's own user-namespace limit", limit)
	}
}
