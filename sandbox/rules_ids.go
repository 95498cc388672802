package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultHostIDFloor is the lowest host uid or gid a user-namespace or
// idmapped-mount mapping may reach unless the profile says otherwise.
// Ids below it belong to the host: root, system accounts, login users,
// nobody (65534). Kubernetes' hostUsers: false pods map onto blocks of
// 65536 from 65536 up, and Docker's userns-remap onto /etc/subuid ranges
// from 100000, so both stay allowed.
const DefaultHostIDFloor = 65536

// IDFloor is the policy's host id floor, or the default.
func (p *Policy) IDFloor() uint64 {
	if p.HostIDFloor > 0 {
		return uint64(p.HostIDFloor)
	}
	return DefaultHostIDFloor
}

// RuleIDMappings refuses any uid or gid mapping, of the container's user
// namespace or of an idmapped mount, that reaches a host id below the
// floor. A mapping onto host 0 makes whoever holds the mapped id host
// root: with [{0,100000,65534},{65534,0,1}] runh's own rewrite of uid 0 to
// 65534 would land the workload on host uid 0, able to write setuid-root
// files into root's directories (runh issue 13). It judges the final
// mappings, after the non-root rule has settled the process's ids.
var RuleIDMappings = Rule{
	Name: "id-mappings",
	Doc:  "user-namespace and idmapped-mount mappings may reach only host ids at or above the profile's floor (default 65536), never host root",
	Hint: "map the container's ids onto a dedicated host range (e.g. /etc/subuid's, from 100000), never onto host root or system ids",
	Apply: func(e *Env, s *specs.Spec) error {
		floor := e.Policy.IDFloor()
		if s.Linux != nil {
			for _, m := range []struct {
				field string
				maps  []specs.LinuxIDMapping
			}{{"linux.uidMappings", s.Linux.UIDMappings}, {"linux.gidMappings", s.Linux.GIDMappings}} {
				if err := checkMappings(m.field, m.maps, floor); err != nil {
					return err
				}
				// The userns profile's own rule judged (or made) these.
				if !e.Policy.UserNS {
					if err := outsidePool(e, m.field, m.maps); err != nil {
						return err
					}
				}
			}
		}
		// An idmapped mount's mapping is written as "containerID hostID
		// size": files owned on disk by containerID show as hostID. So
		// both columns count: on-disk ids below the floor (host root's
		// files) must not be handed to the container's ids, as
		// {containerID 0, hostID 165534} would make a workload at 65534
		// (host 165534) the owner of root's files on that mount.
		for i, mnt := range s.Mounts {
			for _, m := range []struct {
				field string
				maps  []specs.LinuxIDMapping
			}{{fmt.Sprintf("mounts[%d].uidMappings", i), mnt.UIDMappings}, {fmt.Sprintf("mounts[%d].gidMappings", i), mnt.GIDMappings}} {
				if err := checkMappings(m.field, m.maps, floor); err != nil {
					return err
				}
				onDisk := make([]specs.LinuxIDMapping, len(m.maps))
				for j, x := range m.maps {
					onDisk[j] = specs.LinuxIDMapping{ContainerID: x.HostID, HostID: x.ContainerID, Size: x.Size}
				}
				if err := checkMappings(m.field, onDisk, floor); err != nil {
					return deny(err.(*Denial).Field, "maps on-disk ids %d-%d (host files) onto container-visible ids: on-disk ids below the floor %d may not be remapped",
						onDisk[0].HostID, uint64(onDisk[0].HostID)+uint64(onDisk[0].Size)-1, floor)
				}
				// Only runh's own volume idmapping may touch the pool
				// (either column: on disk the volume range, in the
				// kernel the container's range).
				if !runhVolumeIDMap(e, m.maps) {
					if err := outsidePool(e, m.field, m.maps); err != nil {
						return err
					}
					if err := outsidePool(e, m.field, onDisk); err != nil {
						return err
					}
				}
			}
		}
		return nil
	},
}

// outsidePool refuses a mapping onto host ids of the node's userns pool:
// those are the userns profile's containers' ids and, in range 0, the
// owners of their volume files. A restricted container mapping its uid 1
// onto range 0 would own every userns container's volume data (runh's
// attack pass on issue 15); onto a live range, it would share that
// container's kernel ids.
func outsidePool(e *Env, field string, maps []specs.LinuxIDMapping) error {
	if e.Host == nil || e.Host.IDs == nil {
		return nil
	}
	for j, m := range maps {
		if e.Host.IDs.Contains(uint64(m.HostID), uint64(m.Size)) {
			return deny(fmt.Sprintf("%s[%d]", field, j), "host ids %d-%d are in runh's user-namespace pool, which only the userns profile gives out, one range per container",
				m.HostID, uint64(m.HostID)+uint64(m.Size)-1)
		}
	}
	return nil
}

// runhVolumeIDMap: maps is the idmapping RuleUserNamespace gave a bind
// mount of this container.
func runhVolumeIDMap(e *Env, maps []specs.LinuxIDMapping) bool {
	return e.Policy.UserNS && e.UserNSBase != 0 && e.Host != nil && e.Host.IDs != nil &&
		slices.Equal(maps, []specs.LinuxIDMapping{{ContainerID: e.Host.IDs.VolumeBase(), HostID: e.UserNSBase, Size: IDRangeSize}})
}

func checkMappings(field string, maps []specs.LinuxIDMapping, floor uint64) error {
	for j, m := range maps {
		if m.Size == 0 {
			return deny(fmt.Sprintf("%s[%d]", field, j), "empty mapping")
		}
		if uint64(m.HostID) < floor {
			return deny(fmt.Sprintf("%s[%d]", field, j), "maps container ids %d-%d onto host ids %d-%d, below the floor %d (host root and system ids)",
				m.ContainerID, uint64(m.ContainerID)+uint64(m.Size)-1, m.HostID, uint64(m.HostID)+uint64(m.Size)-1, floor)
		}
		if uint64(m.HostID)+uint64(m.Size) > 1<<32-1 {
			return deny(fmt.Sprintf("%s[%d]", field, j), "host range %d+%d runs past the last id", m.HostID, m.Size)
		}
	}
	return nil
}

// CheckHostIDs: the process's uid and gid, as the host sees them, are not
// root and, in a user namespace, at or above the floor. It maps through
// the final spec's mappings, independently of the rules.
var CheckHostIDs = Check{
	Name: "check-host-ids",
	Doc:  "the process's host uid and gid are not 0, and in a user namespace not below the id floor",
	Verify: func(e *Env, s *specs.Spec) error {
		if s.Process == nil {
			return deny("process", "no process")
		}
		if s.Linux == nil || !hasNamespace(s.Linux, specs.UserNamespace) {
			return nil // check-non-root covers the ids as they are
		}
		floor := e.Policy.IDFloor()
		for _, id := range []struct {
			field string
			id    uint32
			maps  []specs.LinuxIDMapping
		}{{"process.user.uid", s.Process.User.UID, s.Linux.UIDMappings}, {"process.user.gid", s.Process.User.GID, s.Linux.GIDMappings}} {
			host, ok := HostID(id.id, id.maps)
			if !ok || uint64(host) < floor {
				return deny(id.field, "id %d is host id %d (mapped: %v), below the floor %d", id.id, host, ok, floor)
			}
		}
		return nil
	},
}

// HostID maps a container id to the host's through a user namespace's
// mappings.
func HostID(id uint32, maps []specs.LinuxIDMapping) (uint32, bool) {
	for _, m := range maps {
		if uint64(id) >= uint64(m.ContainerID) && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

// MemoryCeiling is the most memory a container may be given: the
// profile's maximum or the host's RAM, whichever is lower. A limit above it is no limit: a
// 4 EiB limit lets one container take a small node down (runh issue 13).
func (p *Policy) MemoryCeiling() int64 {
	host := hostMemory()
	if p.MemoryMax > 0 && (host <= 0 || p.MemoryMax < host) {
		return p.MemoryMax
	}
	return host
}

// hostMemory is MemTotal from /proc/meminfo, once per process; 0 if it
// cannot be read (then the rules refuse, see RuleCgroupLimits).
var hostMemory = sync.OnceValue(func() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
})

// cgroupRoots are the host's mounted cgroup hierarchies: the unified one,
// or every v1 hierarchy (and cgroup2 at /sys/fs/cgroup/unified on hybrid
// hosts). Symlinked controller names (cpu -> cpu,cpuacct) are visited
// twice, which costs a stat.
var cgroupRoots = sync.OnceValue(func() []string {
	var roots []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.procs"); err == nil {
		return []string{"/sys/fs/cgroup"} // unified
	}
	// Every mounted hierarchy: runc joins the path in each, so a cgroup
	// with processes in any one of them (cpu only, say) is someone's.
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, ent := range ents {
		d := filepath.Join("/sys/fs/cgroup", ent.Name())
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			roots = append(roots, d)
		}
	}
	return roots
})

// RuleCgroupsPath refuses a cgroup that is not the container's own. runc
// joins an existing cgroup and writes the spec's limits into it, so
// naming another container's cgroup rewrites that container's limits
// (256 MiB -> 16 MiB was seen), and naming a parent (/, a slice) puts
// limits on everything below it (runh issue 13). A path that does not
// exist yet, or an empty leaf, is the container's own; one that holds
// processes or has child cgroups is not. The engines' patterns
// (/docker/<id>, /kubepods/.../pod<uid>/<id>, /libpod_parent/libpod-<id>,
// slice:prefix:name) all name a new leaf.
var RuleCgroupsPath = Rule{
	Name: "cgroups-path",
	Doc:  "linux.cgroupsPath must name a new (or empty leaf) cgroup: not the root, not a parent of other cgroups, not one that holds processes",
	Hint: "leave linux.cgroupsPath empty or name a new cgroup for this container",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Linux == nil || s.Linux.CgroupsPath == "" {
			return nil
		}
		rel, err := cgroupRelPath(s.Linux.CgroupsPath)
		if err != nil {
			return deny("linux.cgroupsPath", "%v", err)
		}
		for _, root := range cgroupRoots() {
			if why := cgroupInUse(filepath.Join(root, rel)); why != "" {
				return deny("linux.cgroupsPath", "cgroup %s (%s) %s: it is not this container's own", s.Linux.CgroupsPath, filepath.Join(root, rel), why)
			}
		}
		return nil
	},
}

// cgroupRelPath turns a cgroupsPath into a path below a hierarchy's root.
// The systemd form slice:prefix:name names the scope prefix-name.scope in
// the slice, whose dashes nest ("a-b.slice" is a.slice/a-b.slice).
// Relative cgroupfs paths are below runh's own cgroup; they are judged
// from the root, which is stricter.
func cgroupRelPath(p string) (string, error) {
	if parts := strings.Split(p, ":"); len(parts) == 3 {
		slice, prefix, name := parts[0], parts[1], parts[2]
		if name == "" || strings.Contains(slice+prefix+name, "/") {
			return "", fmt.Errorf("systemd cgroup %q is not slice:prefix:name", p)
		}
		var dirs []string
		if slice != "" && slice != "-.slice" {
			base := strings.TrimSuffix(slice, ".slice")
			for i := range base {
				if base[i] == '-' {
					dirs = append(dirs, base[:i]+".slice")
				}
			}
			dirs = append(dirs, slice)
		}
		unit := name
		if !strings.HasSuffix(name, ".slice") {
			if prefix != "" {
				unit = prefix + "-" + name
			}
			unit += ".scope"
		}
		return filepath.Join(append(dirs, unit)...), nil
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", fmt.Errorf("%q has a .. component", p)
		}
	}
	rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
	if rel == "" {
		return "", fmt.Errorf("%q is the root cgroup", p)
	}
	return rel, nil
}

// cgroupInUse says why an existing cgroup directory is not a new leaf.
func cgroupInUse(dir string) string {
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return "" // does not exist (or is no cgroup): runc makes it
	}
	if len(strings.TrimSpace(string(procs))) > 0 {
		return "already holds processes"
	}
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		if ent.IsDir() {
			return "is the parent of other cgroups (" + ent.Name() + ")"
		}
	}
	return ""
}
