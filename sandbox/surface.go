package sandbox

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Class says how runh treats one field of config.json.
type Class uint8

const (
	// Unclassified is a field the table does not name: refused when set,
	// so that a field a runtime-spec bump brings in reaches runc only
	// after someone has judged it.
	Unclassified Class = iota
	// Hardened: a rule sets the field (Rule names it).
	Hardened
	// Checked: allowed within limits that a rule enforces (Rule names it).
	Checked
	// Allowed: harmless as written (Reason says why).
	Allowed
	// Refused: refused when set (Reason says why). It covers the field's
	// whole subtree: nothing below it can reach runc.
	Refused
)

var classNames = [...]string{"unclassified", "hardened", "checked", "allowed", "refused"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// SurfaceEntry classifies one field of specs.Spec, named by its JSON path:
// "." between fields, "[]" for the elements of a slice, "{}" for the
// values of a map ("mounts[].options", "linux.resources.rdma{}.hcaHandles").
type SurfaceEntry struct {
	Path   string
	Class  Class
	Rule   string // the rule that sets or checks it (Hardened, Checked)
	Reason string
}

// surface is the one table: every field of runtime-spec v1.3.0's Spec,
// recursively, except below a Refused field. runc 1.5 honours far more of
// config.json than runh's rules harden; whatever is not in this table is
// refused when set (RuleSpecSurface), and TestSurfaceClassifiesEverySpecField
// fails when a runtime-spec bump adds a field, so a bump forces a decision.
// It is a plain literal: no init code on runh's pass-through path.
var surface = []SurfaceEntry{
	{"ociVersion", Allowed, "", "the spec version; runh loads only 1.0 to 1.3"},

	// process: also what `runc exec` runs (process.json), so every rule
	// named here is a process rule.
	{"process", Hardened, "non-root-user", "required; the process rules harden it"},
	{"process.terminal", Allowed, "", "a pty from the container's own devpts instance"},
	{"process.consoleSize", Allowed, "", "the initial size of that pty"},
	{"process.consoleSize.height", Allowed, "", "pty rows"},
	{"process.consoleSize.width", Allowed, "", "pty columns"},
	{"process.user", Hardened, "non-root-user", "root is replaced by the profile's user"},
	{"process.user.uid", Hardened, "non-root-user", "0 becomes the profile's uid"},
	{"process.user.gid", Hardened, "non-root-user", "0 becomes the profile's gid"},
	{"process.user.umask", Allowed, "", "the container's own file creation mask"},
	{"process.user.additionalGids", Hardened, "non-root-user", "gid 0 is removed"},
	{"process.user.username", Refused, "", "Windows only: runh passes nothing runc would ignore today and might honour tomorrow"},
	{"process.args", Allowed, "", "what the container runs, inside its sandbox (the seccomp rule may prefix runh-init)"},
	{"process.commandLine", Refused, "", "Windows only: runh passes nothing runc would ignore today and might honour tomorrow"},
	{"process.env", Allowed, "", "the environment of the container's own process"},
	{"process.cwd", Checked, "cwd-fd", "a directory under /proc/<pid>/fd is refused (CVE-2024-21626)"},
	{"process.capabilities", Hardened, "capabilities", "every set is intersected with the allowlist"},
	{"process.capabilities.bounding", Hardened, "capabilities", "intersected with the allowlist"},
	{"process.capabilities.effective", Hardened, "capabilities", "intersected with the allowlist"},
	{"process.capabilities.inheritable", Hardened, "capabilities", "intersected with the allowlist"},
	{"process.capabilities.permitted", Hardened, "capabilities", "intersected with the allowlist"},
	{"process.capabilities.ambient", Hardened, "capabilities", "intersected with the allowlist"},
	{"process.rlimits", Hardened, "core-dumps", "RLIMIT_CORE is forced to 0 (added if absent)"},
	{"process.rlimits[].type", Checked, "rlimits", "an unknown type is refused; RLIMIT_RTPRIO and RLIMIT_NICE are judged by the scheduler rule"},
	{"process.rlimits[].hard", Hardened, "rlimits", "clamped to runh's own hard limit"},
	{"process.rlimits[].soft", Hardened, "rlimits", "clamped to the hard limit"},
	{"process.noNewPrivileges", Hardened, "no-new-privileges", "always true"},
	{"process.apparmorProfile", Allowed, "", "can only add confinement: without a profile runc applies none"},
	{"process.oomScoreAdj", Hardened, "oom-score-adj", "a negative value is raised to 0"},
	{"process.scheduler", Checked, "scheduler", "SCHED_OTHER, SCHED_BATCH or SCHED_IDLE only"},
	{"process.scheduler.policy", Checked, "scheduler", "SCHED_OTHER, SCHED_BATCH or SCHED_IDLE; realtime and deadline policies are refused"},
	{"process.scheduler.nice", Checked, "scheduler", "0 to 19: a container may lower its priority, never raise it"},
	{"process.scheduler.priority", Checked, "scheduler", "must be 0 (a realtime priority)"},
	{"process.scheduler.flags", Checked, "scheduler", "SCHED_FLAG_RESET_ON_FORK only"},
	{"process.scheduler.runtime", Checked, "scheduler", "must be 0 (SCHED_DEADLINE)"},
	{"process.scheduler.deadline", Checked, "scheduler", "must be 0 (SCHED_DEADLINE)"},
	{"process.scheduler.period", Checked, "scheduler", "must be 0 (SCHED_DEADLINE)"},
	{"process.selinuxLabel", Allowed, "", "the host's SELinux policy decides which domains runc may enter; without a label the process keeps runc's"},
	{"process.ioPriority", Checked, "io-priority", "IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE only"},
	{"process.ioPriority.class", Checked, "io-priority", "IOPRIO_CLASS_RT is refused: it starves every other I/O on the disk"},
	{"process.ioPriority.priority", Checked, "io-priority", "0 to 7"},
	{"process.execCPUAffinity", Allowed, "", "CPU pinning of exec processes; the container's cpuset bounds it once the process joins the cgroup"},
	{"process.execCPUAffinity.initial", Allowed, "", "pinning while runc joins the process to the cgroup (runc's own code)"},
	{"process.execCPUAffinity.final", Allowed, "", "pinning within the container's cpuset"},

	{"root", Hardened, "readonly-rootfs", "required, made read-only"},
	{"root.path", Checked, "host-mounts", "a host system path as the root filesystem is refused"},
	{"root.readonly", Hardened, "readonly-rootfs", "always true"},
	{"hostname", Allowed, "", "set in the container's private UTS namespace"},
	{"domainname", Allowed, "", "set in the container's private UTS namespace"},

	{"mounts", Checked, "host-mounts", "bind sources and filesystem types are judged"},
	{"mounts[].destination", Checked, "pseudo-mounts", "proc, sysfs, cgroup, mqueue and devpts only at their standard places; /dev/.runh is reserved (seccomp)"},
	{"mounts[].type", Checked, "host-mounts", "only bind, tmpfs and the pseudo filesystems"},
	{"mounts[].source", Checked, "host-mounts", "host system paths, engine sockets and state are refused"},
	{"mounts[].options", Hardened, "bind-nosuid-nodev", "bind mounts get nosuid,nodev; shared propagation is refused (mount-propagation)"},
	{"mounts[].uidMappings", Checked, "id-mappings", "an idmapped mount may not reach host root or system ids"},
	{"mounts[].uidMappings[].containerID", Checked, "id-mappings", "start of the range in the container"},
	{"mounts[].uidMappings[].hostID", Checked, "id-mappings", "at or above the profile's host id floor"},
	{"mounts[].uidMappings[].size", Checked, "id-mappings", "not empty, not past the last id"},
	{"mounts[].gidMappings", Checked, "id-mappings", "an idmapped mount may not reach host root or system ids"},
	{"mounts[].gidMappings[].containerID", Checked, "id-mappings", "start of the range in the container"},
	{"mounts[].gidMappings[].hostID", Checked, "id-mappings", "at or above the profile's host id floor"},
	{"mounts[].gidMappings[].size", Checked, "id-mappings", "not empty, not past the last id"},

	// hooks run as root on the host, outside every namespace.
	{"hooks", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.prestart", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.prestart[].path", Checked, "hooks", "the resolved executable must be allowlisted"},
	{"hooks.prestart[].args", Checked, "hooks", "must match the allowlist's arguments"},
	{"hooks.prestart[].env", Checked, "hooks", "must be empty"},
	{"hooks.prestart[].timeout", Allowed, "", "only how long runc waits for an allowed hook"},
	{"hooks.createRuntime", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.createRuntime[].path", Checked, "hooks", "the resolved executable must be allowlisted"},
	{"hooks.createRuntime[].args", Checked, "hooks", "must match the allowlist's arguments"},
	{"hooks.createRuntime[].env", Checked, "hooks", "must be empty"},
	{"hooks.createRuntime[].timeout", Allowed, "", "only how long runc waits for an allowed hook"},
	{"hooks.createContainer", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.createContainer[].path", Checked, "hooks", "the resolved executable must be allowlisted"},
	{"hooks.createContainer[].args", Checked, "hooks", "must match the allowlist's arguments"},
	{"hooks.createContainer[].env", Checked, "hooks", "must be empty"},
	{"hooks.createContainer[].timeout", Allowed, "", "only how long runc waits for an allowed hook"},
	{"hooks.startContainer", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.startContainer[].path", Checked, "hooks", "the resolved executable must be allowlisted"},
	{"hooks.startContainer[].args", Checked, "hooks", "must match the allowlist's arguments"},
	{"hooks.startContainer[].env", Checked, "hooks", "must be empty"},
	{"hooks.startContainer[].timeout", Allowed, "", "only how long runc waits for an allowed hook"},
	{"hooks.poststart", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.poststart[].path", Checked, "hooks", "the resolved executable must be allowlisted"},
	{"hooks.poststart[].args", Checked, "hooks", "must match the allowlist's arguments"},
	{"hooks.poststart[].env", Checked, "hooks", "must be empty"},
	{"hooks.poststart[].timeout", Allowed, "", "only how long runc waits for an allowed hook"},
	{"hooks.poststop", Checked, "hooks", "only allowlisted hooks run"},
	{"hooks.poststop[].path", Checked, "hooks", "the resolved executable must be allowlisted"},
	{"hooks.poststop[].args", Checked, "hooks", "must match the allowlist's arguments"},
	{"hooks.poststop[].env", Checked, "hooks", "must be empty"},
	{"hooks.poststop[].timeout", Allowed, "", "only how long runc waits for an allowed hook"},

	{"annotations", Checked, "annotations", "runc acts on bundle, org.criu.config and org.systemd.property.*: those are refused"},

	{"linux", Hardened, "private-namespaces", "created if absent: namespaces, masks and limits live here"},
	{"linux.uidMappings", Checked, "id-mappings", "the user namespace may not reach host root or system ids"},
	{"linux.uidMappings[].containerID", Checked, "id-mappings", "start of the range in the container"},
	{"linux.uidMappings[].hostID", Checked, "id-mappings", "at or above the profile's host id floor"},
	{"linux.uidMappings[].size", Checked, "id-mappings", "not empty, not past the last id"},
	{"linux.gidMappings", Checked, "id-mappings", "the user namespace may not reach host root or system ids"},
	{"linux.gidMappings[].containerID", Checked, "id-mappings", "start of the range in the container"},
	{"linux.gidMappings[].hostID", Checked, "id-mappings", "at or above the profile's host id floor"},
	{"linux.gidMappings[].size", Checked, "id-mappings", "not empty, not past the last id"},
	{"linux.sysctl", Checked, "sysctls", "only the safe set, and net.* with a private network namespace"},
	{"linux.resources", Hardened, "cgroup-limits", "created if absent: memory and pids limits are always set"},
	{"linux.resources.devices", Hardened, "devices", "replaced by deny-all plus the safe devices"},
	{"linux.resources.devices[].allow", Hardened, "devices", "replaced by the safe set"},
	{"linux.resources.devices[].type", Hardened, "devices", "replaced by the safe set"},
	{"linux.resources.devices[].major", Hardened, "devices", "replaced by the safe set"},
	{"linux.resources.devices[].minor", Hardened, "devices", "replaced by the safe set"},
	{"linux.resources.devices[].access", Hardened, "devices", "replaced by the safe set"},
	{"linux.resources.memory", Hardened, "cgroup-limits", "a finite limit is always set"},
	{"linux.resources.memory.limit", Hardened, "cgroup-limits", "a default when unset or unlimited, never above the ceiling"},
	{"linux.resources.memory.reservation", Allowed, "", "a soft floor (memory.low), bounded by the parent cgroup's protection and below the limit"},
	{"linux.resources.memory.swap", Hardened, "cgroup-limits", "unlimited or below the limit becomes the limit"},
	{"linux.resources.memory.kernel", Allowed, "", "a limit, and ignored by runc 1.5"},
	{"linux.resources.memory.kernelTCP", Allowed, "", "a limit, and ignored by runc 1.5"},
	{"linux.resources.memory.swappiness", Allowed, "", "how the kernel reclaims the container's own pages"},
	{"linux.resources.memory.disableOOMKiller", Allowed, "", "the memory limit still holds (runh always sets one): the container can only stall itself"},
	{"linux.resources.memory.useHierarchy", Allowed, "", "cgroup v1 accounting mode of the container's own cgroup"},
	{"linux.resources.memory.checkBeforeUpdate", Allowed, "", "only makes runc update check usage first"},
	{"linux.resources.cpu", Allowed, "", "runh sets no CPU floor; the realtime fields are refused below"},
	{"linux.resources.cpu.shares", Allowed, "", "a weight relative to sibling cgroups"},
	{"linux.resources.cpu.quota", Allowed, "", "a CPU limit"},
	{"linux.resources.cpu.burst", Allowed, "", "bounded by the quota"},
	{"linux.resources.cpu.period", Allowed, "", "the period of the CPU limit"},
	{"linux.resources.cpu.realtimeRuntime", Refused, "", "realtime CPU time lets a container starve the host"},
	{"linux.resources.cpu.realtimePeriod", Refused, "", "realtime CPU time lets a container starve the host"},
	{"linux.resources.cpu.cpus", Allowed, "", "a cpuset within the parent cgroup's"},
	{"linux.resources.cpu.mems", Allowed, "", "memory nodes within the parent cgroup's"},
	{"linux.resources.cpu.idle", Allowed, "", "can only lower the container's own priority"},
	{"linux.resources.pids", Hardened, "cgroup-limits", "a finite limit is always set"},
	{"linux.resources.pids.limit", Hardened, "cgroup-limits", "a default when unset or unlimited, never above the maximum"},
	{"linux.resources.blockIO", Allowed, "", "weights and throttles only share or limit the container's own I/O"},
	{"linux.resources.blockIO.weight", Allowed, "", "a weight relative to sibling cgroups"},
	{"linux.resources.blockIO.leafWeight", Allowed, "", "a weight relative to sibling cgroups"},
	{"linux.resources.blockIO.weightDevice", Allowed, "", "per-device weights"},
	{"linux.resources.blockIO.weightDevice[].major", Allowed, "", "names the device a weight is for; grants no access"},
	{"linux.resources.blockIO.weightDevice[].minor", Allowed, "", "names the device a weight is for; grants no access"},
	{"linux.resources.blockIO.weightDevice[].weight", Allowed, "", "a weight relative to sibling cgroups"},
	{"linux.resources.blockIO.weightDevice[].leafWeight", Allowed, "", "a weight relative to sibling cgroups"},
	{"linux.resources.blockIO.throttleReadBpsDevice", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleReadBpsDevice[].major", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleReadBpsDevice[].minor", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleReadBpsDevice[].rate", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleWriteBpsDevice", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleWriteBpsDevice[].major", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleWriteBpsDevice[].minor", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleWriteBpsDevice[].rate", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleReadIOPSDevice", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleReadIOPSDevice[].major", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleReadIOPSDevice[].minor", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleReadIOPSDevice[].rate", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleWriteIOPSDevice", Allowed, "", "a limit"},
	{"linux.resources.blockIO.throttleWriteIOPSDevice[].major", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleWriteIOPSDevice[].minor", Allowed, "", "names the device a limit is for; grants no access"},
	{"linux.resources.blockIO.throttleWriteIOPSDevice[].rate", Allowed, "", "a limit"},
	{"linux.resources.hugepageLimits", Allowed, "", "caps the container's hugetlb use; grants none"},
	{"linux.resources.hugepageLimits[].pageSize", Allowed, "", "which hugetlb controller the cap is for"},
	{"linux.resources.hugepageLimits[].limit", Allowed, "", "a limit"},
	{"linux.resources.network", Refused, "", "net_cls/net_prio tag the container's packets for the host's traffic control and firewall; no client needs it"},
	{"linux.resources.rdma", Allowed, "", "caps RDMA handles and objects; grants no device (the devices rule decides that)"},
	{"linux.resources.rdma{}.hcaHandles", Allowed, "", "a limit"},
	{"linux.resources.rdma{}.hcaObjects", Allowed, "", "a limit"},
	{"linux.resources.unified", Checked, "cgroup-unified", "only a short allowlist of cgroup v2 files (no memory.*, pids.*, devices.*, cgroup.*)"},
	{"linux.cgroupsPath", Checked, "cgroups-path", "must name the container's own new cgroup"},
	{"linux.namespaces", Hardened, "private-namespaces", "pid, ipc, uts, mount, network and cgroup namespaces are added when missing"},
	{"linux.namespaces[].type", Hardened, "private-namespaces", "the six private types are always present"},
	{"linux.namespaces[].path", Checked, "private-namespaces", "joining the host's namespace is refused"},
	{"linux.devices", Checked, "devices", "only the safe device nodes"},
	{"linux.devices[].path", Checked, "devices", "one of the safe device nodes"},
	{"linux.devices[].type", Checked, "devices", "character devices only"},
	{"linux.devices[].major", Checked, "devices", "must match the safe node's"},
	{"linux.devices[].minor", Checked, "devices", "must match the safe node's"},
	{"linux.devices[].fileMode", Allowed, "", "mode of a safe node inside the container; the device cgroup decides access"},
	{"linux.devices[].uid", Allowed, "", "owner of a safe node inside the container"},
	{"linux.devices[].gid", Allowed, "", "group of a safe node inside the container"},
	{"linux.netDevices", Refused, "", "runc moves a host network interface into the container: the node loses it (eth0)"},
	{"linux.seccomp", Hardened, "seccomp", "runh's profile replaces the client's, or is stacked on it"},
	{"linux.seccomp.defaultAction", Hardened, "seccomp", "runh's profile decides; a faking client default is refused (seccomp-client-profile)"},
	{"linux.seccomp.defaultErrnoRet", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.architectures", Hardened, "seccomp", "runh's filter denies every other architecture"},
	{"linux.seccomp.flags", Hardened, "seccomp", "apply to the client's filter only; runh's filter replaces it or is stacked on it"},
	{"linux.seccomp.listenerPath", Hardened, "seccomp", "refused without runh-init; with it the agent answers only the client's filter, and runh's is stacked on it"},
	{"linux.seccomp.listenerMetadata", Hardened, "seccomp", "sent to the listener only"},
	{"linux.seccomp.syscalls", Hardened, "seccomp", "runh's profile replaces the client's, or is stacked on it"},
	{"linux.seccomp.syscalls[].names", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.syscalls[].action", Hardened, "seccomp", "runh's profile decides; faking seccomp(2) is refused (seccomp-client-profile)"},
	{"linux.seccomp.syscalls[].errnoRet", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.syscalls[].args", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.syscalls[].args[].index", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.syscalls[].args[].value", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.syscalls[].args[].valueTwo", Hardened, "seccomp", "runh's profile decides"},
	{"linux.seccomp.syscalls[].args[].op", Hardened, "seccomp", "runh's profile decides"},
	{"linux.rootfsPropagation", Checked, "mount-propagation", "shared and rshared are refused"},
	{"linux.maskedPaths", Hardened, "masked-paths", "the profile's floor is added"},
	{"linux.readonlyPaths", Hardened, "readonly-paths", "the profile's floor is added"},
	{"linux.mountLabel", Allowed, "", "the SELinux context of the container's mounts; the host's policy decides which runc may use"},
	{"linux.intelRdt", Refused, "", "a resctrl group's cache and memory-bandwidth allocation can be shared with the host and other containers"},
	{"linux.memoryPolicy", Allowed, "", "NUMA placement of the container's own pages, within its cpuset.mems"},
	{"linux.memoryPolicy.mode", Allowed, "", "NUMA placement of the container's own pages"},
	{"linux.memoryPolicy.nodes", Allowed, "", "the kernel bounds them by the container's cpuset.mems"},
	{"linux.memoryPolicy.flags", Allowed, "", "NUMA placement of the container's own pages"},
	{"linux.personality", Checked, "personality", "domain LINUX or LINUX32, no flags"},
	{"linux.personality.domain", Checked, "personality", "LINUX or LINUX32"},
	{"linux.personality.flags", Checked, "personality", "refused: ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC switch exploit mitigations off"},
	{"linux.timeOffsets", Allowed, "", "offsets of the clocks of the container's own time namespace; the host's clocks are untouched"},
	{"linux.timeOffsets{}.secs", Allowed, "", "offset of a clock of the container's time namespace"},
	{"linux.timeOffsets{}.nanosecs", Allowed, "", "offset of a clock of the container's time namespace"},

	{"solaris", Refused, "", "not Linux: runc does not implement it, and runh passes nothing it has not judged"},
	{"windows", Refused, "", "not Linux: runc does not implement it, and runh passes nothing it has not judged"},
	{"vm", Refused, "", "not Linux: runc does not implement it, and runh passes nothing it has not judged"},
	{"zos", Refused, "", "not Linux: runc does not implement it, and runh passes nothing it has not judged"},
	{"freebsd", Refused, "", "not Linux: runc does not implement it, and runh passes nothing it has not judged"},
}

// SurfaceTable returns the classification of every field, sorted by path,
// for `runh profile show`. The caller owns the slice.
func SurfaceTable() []SurfaceEntry {
	t := slices.Clone(surface)
	slices.SortFunc(t, func(a, b SurfaceEntry) int { return strings.Compare(a.Path, b.Path) })
	return t
}

// RuleSpecSurface refuses every set field whose class is Refused, and every
// set field the table does not classify. It runs first: the other rules
// harden the fields they know, and this one makes sure nothing else of
// config.json reaches runc as the client wrote it.
var RuleSpecSurface = Rule{
	Name:    "spec-surface",
	Doc:     "every config.json field is classified (runh profile show); a set field that is refused or unclassified is refused",
	Hint:    "remove the field from the config: runh cannot make it safe (runh profile show lists every field and why)",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s == nil {
			return nil
		}
		hit := compiledSurface().walk(reflect.ValueOf(s).Elem())
		if hit == nil {
			return nil
		}
		path := hit.path()
		if hit.entry == nil {
			return deny(path, "field %s is not classified by runh: a field runh has not judged is refused (class unclassified)", path)
		}
		return deny(path, "%s (class refused)", hit.entry.Reason)
	},
}

// The compiled table: for each struct type at each path, only the fields
// that can refuse something, i.e. Refused or unclassified fields and the
// containers that hold one. Built once per process on first use; a create
// then looks at a dozen fields by index, without allocating.
type surfaceStruct struct {
	fields []surfaceField
}

type surfaceField struct {
	index []int
	seg   string        // ".name"
	entry *SurfaceEntry // nil: unclassified
	leaf  bool          // refused or unclassified: refuse when set
	kind  reflect.Kind  // after the pointer: Struct, Slice, Array or Map
	sub   *surfaceStruct
}

var compiledSurface = sync.OnceValue(func() *surfaceStruct {
	byPath := make(map[string]*SurfaceEntry, len(surface))
	for i := range surface {
		byPath[surface[i].Path] = &surface[i]
	}
	return compileSurface(byPath)
})

// compileSurface builds the tree for specs.Spec from a table. Every create
// is a new runh process and pays for this once, so it allocates only what
// it keeps (and reflect's StructField.Index): paths are built in one
// buffer and looked up without copying.
func compileSurface(byPath map[string]*SurfaceEntry) *surfaceStruct {
	c := &surfaceCompiler{byPath: byPath, path: make([]byte, 0, 128), index: make([]int, 0, 16)}
	if n := c.structNode(reflect.TypeFor[specs.Spec]()); n != nil {
		return n
	}
	return &surfaceStruct{}
}

type surfaceCompiler struct {
	byPath map[string]*SurfaceEntry
	path   []byte // the JSON path of the field being compiled
	index  []int  // its reflect index within the struct being compiled
}

// structNode compiles struct type t at c.path; nil when none of its
// fields can refuse anything.
func (c *surfaceCompiler) structNode(t reflect.Type) *surfaceStruct {
	var n *surfaceStruct
	outer := c.index
	c.index = c.index[len(c.index):] // indexes are relative to t
	c.eachField(t, func(name string, ft reflect.Type) {
		mark := len(c.path)
		if mark > 0 {
			c.path = append(c.path, '.')
		}
		c.path = append(c.path, name...)
		if f, keep := c.field(name, ft); keep {
			if n == nil {
				n = &surfaceStruct{}
			}
			n.fields = append(n.fields, f)
		}
		c.path = c.path[:mark]
	})
	c.index = outer
	return n
}

// eachField calls fn for each field of t as encoding/json sees it:
// embedded structs without a name are flattened into their parent. During
// the call c.index is the field's index.
func (c *surfaceCompiler) eachField(t reflect.Type, fn func(name string, ft reflect.Type)) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		c.index = append(c.index, i)
		if f.Anonymous && name == "" && deref(f.Type).Kind() == reflect.Struct {
			c.eachField(deref(f.Type), fn)
		} else {
			if name == "" {
				name = f.Name
			}
			fn(name, f.Type)
		}
		c.index = c.index[:len(c.index)-1]
	}
}

// field compiles the field at c.path, and says whether the walk must look
// at it: it is refused or unclassified, or holds such a field.
func (c *surfaceCompiler) field(name string, ft reflect.Type) (surfaceField, bool) {
	sf := surfaceField{entry: c.byPath[string(c.path)]}
	if sf.entry == nil || sf.entry.Class == Refused {
		sf.leaf = true
	} else {
		t := deref(ft)
		sf.kind = t.Kind()
		mark := len(c.path)
		switch sf.kind {
		case reflect.Struct:
			sf.sub = c.structNode(t)
		case reflect.Slice, reflect.Array:
			if et := deref(t.Elem()); et.Kind() == reflect.Struct {
				c.path = append(c.path, "[]"...)
				sf.sub = c.structNode(et)
			}
		case reflect.Map:
			if et := deref(t.Elem()); et.Kind() == reflect.Struct {
				c.path = append(c.path, "{}"...)
				sf.sub = c.structNode(et)
			}
		}
		c.path = c.path[:mark]
		if sf.sub == nil {
			return sf, false
		}
	}
	sf.seg = "." + name
	sf.index = slices.Clone(c.index)
	return sf, true
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// surfaceHit is a refused field found by the walk. Its path is built on the
// way back up, so a spec that passes costs no allocation.
type surfaceHit struct {
	entry *SurfaceEntry
	segs  []string // innermost first
}

func (h *surfaceHit) path() string {
	var b strings.Builder
	for i := len(h.segs) - 1; i >= 0; i-- {
		b.WriteString(h.segs[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}

func (n *surfaceStruct) walk(v reflect.Value) *surfaceHit {
	for i := range n.fields {
		f := &n.fields[i]
		fv, ok := fieldByIndex(v, f.index)
		if !ok {
			continue
		}
		var hit *surfaceHit
		if f.leaf {
			if isSet(fv) {
				hit = &surfaceHit{entry: f.entry}
			}
		} else {
			hit = f.walk(fv)
		}
		if hit != nil {
			hit.segs = append(hit.segs, f.seg)
			return hit
		}
	}
	return nil
}

func (f *surfaceField) walk(v reflect.Value) *surfaceHit {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch f.kind {
	case reflect.Struct:
		return f.sub.walk(v)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			ev := v.Index(i)
			if ev.Kind() == reflect.Pointer {
				if ev.IsNil() {
					continue
				}
				ev = ev.Elem()
			}
			if hit := f.sub.walk(ev); hit != nil {
				hit.segs = append(hit.segs, "["+strconv.Itoa(i)+"]")
				return hit
			}
		}
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		// Sorted, so the same config is always refused for the same key.
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			ev := v.MapIndex(k)
			if ev.Kind() == reflect.Pointer {
				if ev.IsNil() {
					continue
				}
				ev = ev.Elem()
			}
			if hit := f.sub.walk(ev); hit != nil {
				hit.segs = append(hit.segs, "."+k.String())
				return hit
			}
		}
	}
	return nil
}

// fieldByIndex is v.FieldByIndex that reports a nil embedded pointer
// instead of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// isSet reports whether a field holds anything runc could act on: a
// non-nil pointer (even to a zero value: "intelRdt": {} is set), a
// non-empty slice, map or string, a non-zero number, true.
func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	case reflect.Slice, reflect.Map, reflect.String:
		return v.Len() > 0
	case reflect.Struct:
		for i := range v.NumField() {
			if isSet(v.Field(i)) {
				return true
			}
		}
		return false
	case reflect.Array:
		for i := range v.Len() {
			if isSet(v.Index(i)) {
				return true
			}
		}
		return false
	}
	return !v.IsZero()
}
