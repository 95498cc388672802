package sandbox

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The rules that make the fields of the surface table's Checked class safe
// (see surface.go). They run right after RuleSpecSurface.

// RuleIOPriority allows only the best-effort and idle I/O classes. runc
// calls ioprio_set as root, so it would grant IOPRIO_CLASS_RT, which an
// unprivileged process needs CAP_SYS_ADMIN or CAP_SYS_NICE for: realtime
// I/O is served before everyone else's and starves the other containers
// and the node's own services on that disk.
var RuleIOPriority = Rule{
	Name:    "io-priority",
	Doc:     "process.ioPriority may only be IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE, priority 0-7",
	Hint:    "use IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE (priority 0-7): the realtime class is not available to containers",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil || s.Process.IOPriority == nil {
			return nil
		}
		io := s.Process.IOPriority
		switch io.Class {
		case specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
		case specs.IOPRIO_CLASS_RT:
			return deny("process.ioPriority.class", "%s would serve the container's I/O before everyone else's (it needs CAP_SYS_ADMIN or CAP_SYS_NICE on the host)", io.Class)
		default:
			return deny("process.ioPriority.class", "unknown I/O priority class %q", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return deny("process.ioPriority.priority", "I/O priority %d is outside 0-7", io.Priority)
		}
		return nil
	},
}

// schedPolicies are the policies a container may ask for: none of them
// takes a realtime priority or CPU time reserved ahead of other tasks.
var schedPolicies = []specs.LinuxSchedulerPolicy{specs.SchedOther, specs.SchedBatch, specs.SchedIdle}

// RuleScheduler keeps a container out of the realtime and deadline
// scheduling classes. runc calls sched_setattr as root (CAP_SYS_NICE), so
// it would grant SCHED_FIFO/SCHED_RR (a busy loop there locks other tasks
// out of that CPU), SCHED_DEADLINE (reserved CPU time) or a negative nice.
// The same goes for RLIMIT_RTPRIO above 0 and RLIMIT_NICE above 20: with
// them the container's process may raise its own priority with
// sched_setscheduler or setpriority, which the seccomp profile allows.
//
// Flags: SCHED_FLAG_RESET_ON_FORK only makes children drop back to the
// default, so it is allowed. RECLAIM and DL_OVERRUN are for SCHED_DEADLINE.
// KEEP_POLICY and KEEP_PARAMS would keep runc's own scheduling instead of
// the spec's, so what runs is not what was judged. UTIL_CLAMP_MIN/MAX set
// utilization clamps that runtime-spec has no values for (runc passes 0);
// they are refused so that a spec or runc that adds the values, and with
// them a boost in CPU frequency and placement, forces a decision here.
var RuleScheduler = Rule{
	Name:    "scheduler",
	Doc:     "process.scheduler: SCHED_OTHER, SCHED_BATCH or SCHED_IDLE, nice 0-19, no realtime priority or deadline parameters, only SCHED_FLAG_RESET_ON_FORK; RLIMIT_RTPRIO 0 and RLIMIT_NICE at most 20",
	Hint:    "drop process.scheduler or use SCHED_OTHER, SCHED_BATCH or SCHED_IDLE with nice >= 0: realtime scheduling is not available to containers",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil {
			return nil
		}
		for i, rl := range s.Process.Rlimits {
			hi := max(rl.Soft, rl.Hard)
			switch {
			case rl.Type == "RLIMIT_RTPRIO" && hi > 0:
				return deny(fmt.Sprintf("process.rlimits[%d]", i), "RLIMIT_RTPRIO %d would let the container give itself a realtime priority", hi)
			case rl.Type == "RLIMIT_NICE" && hi > 20:
				return deny(fmt.Sprintf("process.rlimits[%d]", i), "RLIMIT_NICE %d would let the container give itself a negative nice value", hi)
			}
		}
		sc := s.Process.Scheduler
		if sc == nil {
			return nil
		}
		if !slices.Contains(schedPolicies, sc.Policy) {
			return deny("process.scheduler.policy", "scheduling policy %q is not SCHED_OTHER, SCHED_BATCH or SCHED_IDLE", sc.Policy)
		}
		if sc.Nice < 0 || sc.Nice > 19 {
			return deny("process.scheduler.nice", "nice %d is outside 0-19: a container may lower its priority, never raise it", sc.Nice)
		}
		if sc.Priority != 0 {
			return deny("process.scheduler.priority", "realtime priority %d is not allowed", sc.Priority)
		}
		if sc.Runtime != 0 || sc.Deadline != 0 || sc.Period != 0 {
			return deny("process.scheduler", "SCHED_DEADLINE runtime, deadline and period are not allowed")
		}
		for i, f := range sc.Flags {
			if f != specs.SchedFlagResetOnFork {
				return deny(fmt.Sprintf("process.scheduler.flags[%d]", i), "scheduler flag %s is not allowed (only %s)", f, specs.SchedFlagResetOnFork)
			}
		}
		return nil
	},
}

// RulePersonality allows the LINUX and LINUX32 execution domains and no
// flags. ADDR_NO_RANDOMIZE switches ASLR off and READ_IMPLIES_EXEC makes
// readable memory executable: both undo exploit mitigations; the others
// (UNAME26, MMAP_PAGE_ZERO, ...) are compatibility hacks no container
// needs. runc 1.5 ignores flags with a warning; a later one may not.
var RulePersonality = Rule{
	Name: "personality",
	Doc:  "linux.personality: domain LINUX or LINUX32, no flags",
	Hint: "use domain LINUX or LINUX32 without flags",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Linux == nil || s.Linux.Personality == nil {
			return nil
		}
		p := s.Linux.Personality
		if p.Domain != specs.PerLinux && p.Domain != specs.PerLinux32 {
			return deny("linux.personality.domain", "execution domain %q is not LINUX or LINUX32", p.Domain)
		}
		if len(p.Flags) > 0 {
			return deny("linux.personality.flags", "personality flags %v are not allowed (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC and the like switch exploit mitigations off)", p.Flags)
		}
		return nil
	},
}

// unifiedAllow are the cgroup v2 files linux.resources.unified may write.
// runc writes unified after the typed resources, so a key replaces what a
// rule set: memory.max would lift the memory floor, pids.max the pids
// floor, cgroup.* reach the hierarchy itself (cgroup.procs, cgroup.kill,
// cgroup.subtree_control). Only files that share or limit the container's
// own CPU and I/O are allowed: cpu.max cannot lift a floor (runh sets none
// for CPU), cpu.idle only lowers the container's priority, io.max is a
// throttle, and cpuset.cpus/mems stay within the parent's (but
// cpuset.cpus.partition, which takes CPUs away from everyone else, is not
// on the list).
var unifiedAllow = []string{"cpu.weight", "cpu.max", "cpu.idle", "io.weight", "io.max", "cpuset.cpus", "cpuset.mems"}

// RuleCgroupUnified refuses linux.resources.unified keys outside
// unifiedAllow.
var RuleCgroupUnified = Rule{
	Name: "cgroup-unified",
	Doc:  "linux.resources.unified may only set " + strings.Join(unifiedAllow, ", "),
	Hint: "use the typed fields of linux.resources (memory.limit, pids.limit, ...) instead of their cgroup v2 files",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Linux == nil || s.Linux.Resources == nil || len(s.Linux.Resources.Unified) == 0 {
			return nil
		}
		// The smallest refused key, so a config is always refused the same way.
		bad := ""
		for k := range s.Linux.Resources.Unified {
			if !slices.Contains(unifiedAllow, k) && (bad == "" || k < bad) {
				bad = k
			}
		}
		if bad == "" {
			return nil
		}
		why := "is not on runh's allowlist"
		for _, p := range []string{"memory.", "pids.", "devices.", "cgroup."} {
			if strings.HasPrefix(bad, p) {
				why = "could lift or replace a limit runh sets"
			}
		}
		return deny("linux.resources.unified."+bad, "cgroup file %s %s (allowed: %s)", bad, why, strings.Join(unifiedAllow, ", "))
	},
}

// RuleCoreDumps sets RLIMIT_CORE to 0, soft and hard, unless the policy
// keeps core dumps. With a hard limit of 0 the container cannot raise it
// again (that needs CAP_SYS_RESOURCE), so no core file of it is written,
// and the host's core_pattern helper is told (%c) that the limit is 0:
// systemd-coredump and apport then store no core on the host, so a crash
// loop cannot fill the host's disk with the container's memory.
//
// It does not stop a pipe helper from starting: for "|helper" patterns
// the kernel ignores RLIMIT_CORE (except the value 1, which it treats as a
// recursive crash), and a process may always lower its own limit. The
// helper still runs, as root, for every crash in a container.
var RuleCoreDumps = Rule{
	Name:    "core-dumps",
	Doc:     "RLIMIT_CORE is 0 (soft and hard), added if absent, unless the profile keeps core dumps",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if e.Policy.CoreDumps || s.Process == nil {
			return nil
		}
		p := s.Process
		found := false
		for i := range p.Rlimits {
			rl := &p.Rlimits[i]
			if rl.Type != "RLIMIT_CORE" {
				continue
			}
			found = true
			if rl.Soft != 0 || rl.Hard != 0 {
				e.changed(fmt.Sprintf("process.rlimits[%d]", i), "RLIMIT_CORE soft %d hard %d -> 0", rl.Soft, rl.Hard)
				rl.Soft, rl.Hard = 0, 0
			}
		}
		if !found {
			p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE"})
			e.changed(fmt.Sprintf("process.rlimits[%d]", len(p.Rlimits)-1), "added RLIMIT_CORE soft 0 hard 0")
		}
		return nil
	},
}

// pseudoHomes are the places the pseudo filesystems may be mounted, by
// type, and the family that allows one mount (cgroup and cgroup2 are one).
// A second proc or sysfs elsewhere (/mnt/proc) escapes linux.maskedPaths
// and linux.readonlyPaths, which name /proc and /sys paths only: the
// container would reach /proc/sysrq-trigger or /proc/kcore through it; a
// second cgroup mount escapes readonly-sys (release_agent, CVE-2022-0492).
type pseudoHome struct{ typ, home, family string }

var pseudoHomes = [...]pseudoHome{
	{"proc", "/proc", "proc"},
	{"sysfs", "/sys", "sysfs"},
	{"cgroup", "/sys/fs/cgroup", "cgroup"},
	{"cgroup2", "/sys/fs/cgroup", "cgroup"},
	{"mqueue", "/dev/mqueue", "mqueue"},
	{"devpts", "/dev/pts", "devpts"},
}

// RulePseudoMounts keeps the pseudo filesystems at their standard places,
// once each. A bind mount is not a pseudo mount whatever its type says:
// runc ignores the type of a mount with the bind option, and host-mounts
// judges its source.
//
// devpts must be a new instance: without newinstance (kernels before 4.7)
// it is the host's devpts, with the host's terminals. Its gid= may not be
// 0, and its mode= (of each new terminal) may give the group write access
// and nothing more (at most 0620, as every engine writes it): group or
// other read would let another process of the container read what is
// typed into a terminal, e.g. of `docker exec -it`. ptmxmode= is not
// limited: /dev/pts/ptmx only allocates new terminals, each owned by its
// opener; everyone must be able to open it (0666), and execute or setuid
// bits on a device node do nothing.
var RulePseudoMounts = Rule{
	Name: "pseudo-mounts",
	Doc:  "proc, sysfs, cgroup, mqueue and devpts are mounted only at /proc, /sys, /sys/fs/cgroup, /dev/mqueue and /dev/pts, once each; devpts with newinstance, gid other than 0 and mode at most 0620",
	Hint: "mount proc, sysfs, cgroup, mqueue and devpts only at their standard places, once each (devpts: newinstance, mode=0620, gid=5)",
	Apply: func(e *Env, s *specs.Spec) error {
		var seen [len(pseudoHomes)]bool
		for i := range s.Mounts {
			m := &s.Mounts[i]
			if isBind(m) {
				continue
			}
			k := slices.IndexFunc(pseudoHomes[:], func(h pseudoHome) bool { return h.typ == m.Type })
			if k < 0 {
				continue
			}
			h := pseudoHomes[k]
			field := fmt.Sprintf("mounts[%d]", i)
			dest := filepath.Clean(m.Destination)
			if dest != h.home {
				return deny(field, "%s may only be mounted at %s, not %s", m.Type, h.home, m.Destination)
			}
			fam := slices.IndexFunc(pseudoHomes[:], func(o pseudoHome) bool { return o.family == h.family })
			if seen[fam] {
				return deny(field, "a second %s mount (at %s): only one is allowed", h.family, m.Destination)
			}
			seen[fam] = true
			if m.Type == "devpts" {
				if err := devptsOptions(field, m.Options); err != nil {
					return err
				}
			}
		}
		return nil
	},
}

func devptsOptions(field string, opts []string) error {
	if !slices.Contains(opts, "newinstance") {
		return deny(field, "devpts without newinstance could be the host's terminals")
	}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			continue
		}
		switch k {
		case "gid":
			if g, err := strconv.ParseUint(v, 10, 32); err != nil || g == 0 {
				return deny(field, "devpts option %s: new terminals must not belong to group 0", o)
			}
		case "mode":
			mode, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return deny(field, "devpts option %s is not an octal mode", o)
			}
			if mode&0o077&^0o020 != 0 || mode&^0o777 != 0 {
				return deny(field, "devpts option %s gives more than 0620 (group or other could read the container's terminals)", o)
			}
		}
	}
	return nil
}

// runcAnnotations are the annotations runc itself acts on: runc 1.5 lists
// them as "potentiallyUnsafeConfigAnnotations" in `runc features`.
// "bundle" would stand in for runc's own bundle label, which hooks are
// given; "org.criu.config" names a CRIU configuration file that runc
// hands to CRIU, running as root on the host (CRIU's action-script runs
// commands); "org.systemd.property.*" become properties of the
// container's systemd unit under --systemd-cgroup (TasksMax, MemoryMax,
// DeviceAllow, Slice, ...), beside the limits and device policy runh set.
var runcAnnotations = []string{"bundle", "org.criu.config"}

const systemdPropertyPrefix = "org.systemd.property."

// RuleAnnotations refuses the annotations runc acts on; every other
// annotation is data runc only stores and hands to hooks.
var RuleAnnotations = Rule{
	Name: "annotations",
	Doc:  "annotations runc acts on (bundle, org.criu.config, org.systemd.property.*) are refused",
	Hint: "remove the annotation: runh does not let a config pass systemd unit properties or CRIU configuration to runc",
	Apply: func(e *Env, s *specs.Spec) error {
		bad := ""
		for k := range s.Annotations {
			if (slices.Contains(runcAnnotations, k) || strings.HasPrefix(k, systemdPropertyPrefix)) && (bad == "" || k < bad) {
				bad = k
			}
		}
		if bad == "" {
			return nil
		}
		return deny("annotations."+bad, "runc acts on annotation %s (it is not data)", bad)
	},
}
