package sandbox

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuleUser replaces uid 0 and gid 0 with the policy's non-root identity and
// drops gid 0 from additionalGids. Root in a container is root on the host
// for every kernel bug that escapes the namespaces (NIST SP 800-190 4.4.3).
var RuleUser = Rule{
	Name:    "non-root-user",
	Doc:     "uid 0 / gid 0 become the profile's non-root user; gid 0 leaves additionalGids",
	Hint:    "map the profile's non-root user in linux.uidMappings/gidMappings, or run as a mapped non-root user",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		p, err := needProcess(s)
		if err != nil {
			return err
		}
		pol := e.Policy
		if pol.UID == 0 || pol.GID == 0 {
			return deny("process.user", "the profile's default user %d:%d is root", pol.UID, pol.GID)
		}
		// Under a profile with its own user namespaces, root inside is
		// the namespace's root, a host id of the container's range
		// (check-user-namespace proves it).
		rootInside := pol.UserNS && s.Linux != nil && hasNamespace(s.Linux, specs.UserNamespace)
		if p.User.UID == 0 && !rootInside {
			p.User.UID = pol.UID
			e.changed("process.user.uid", "0 -> %d", pol.UID)
		}
		if p.User.GID == 0 && !rootInside {
			p.User.GID = pol.GID
			e.changed("process.user.gid", "0 -> %d", pol.GID)
		}
		if slices.Contains(p.User.AdditionalGids, 0) && !rootInside {
			p.User.AdditionalGids = slices.DeleteFunc(p.User.AdditionalGids, func(g uint32) bool { return g == 0 })
			e.changed("process.user.additionalGids", "removed gid 0")
		}
		// With a user namespace the ids must be mapped, or runc fails late
		// and unclearly; refuse early and say why.
		if s.Linux != nil && hasNamespace(s.Linux, specs.UserNamespace) {
			if len(s.Linux.UIDMappings) > 0 && !idMapped(s.Linux.UIDMappings, p.User.UID) {
				return deny("process.user.uid", "uid %d is not mapped by linux.uidMappings", p.User.UID)
			}
			if len(s.Linux.GIDMappings) > 0 && !idMapped(s.Linux.GIDMappings, p.User.GID) {
				return deny("process.user.gid", "gid %d is not mapped by linux.gidMappings", p.User.GID)
			}
		}
		return nil
	},
}

func idMapped(ms []specs.LinuxIDMapping, id uint32) bool {
	for _, m := range ms {
		if uint64(id) >= uint64(m.ContainerID) && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}

// RuleCapabilities intersects all five capability sets with the allowlist.
// NET_BIND_SERVICE survives only where the client asked for it.
var RuleCapabilities = Rule{
	Name:    "capabilities",
	Doc:     "every capability set becomes its intersection with the allowlist",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil || s.Process.Capabilities == nil {
			return nil
		}
		c := s.Process.Capabilities
		requested := map[string]bool{}
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			for _, cp := range set {
				requested[cp] = true
			}
		}
		for _, set := range []struct {
			name string
			caps *[]string
		}{
			{"bounding", &c.Bounding}, {"effective", &c.Effective}, {"permitted", &c.Permitted},
			{"inheritable", &c.Inheritable}, {"ambient", &c.Ambient},
		} {
			kept := (*set.caps)[:0:0]
			var dropped []string
			for _, cp := range *set.caps {
				if e.Policy.CapAllowed(cp, requested) && !slices.Contains(kept, cp) {
					kept = append(kept, cp)
				} else {
					dropped = append(dropped, cp)
				}
			}
			if len(dropped) > 0 {
				e.changed("process.capabilities."+set.name, "dropped %v", dropped)
				*set.caps = kept
			}
		}
		return nil
	},
}

// RuleNoNewPrivileges sets no_new_privs, so setuid binaries and file
// capabilities cannot raise privileges inside the container.
var RuleNoNewPrivileges = Rule{
	Name:    "no-new-privileges",
	Doc:     "process.noNewPrivileges is always true",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		p, err := needProcess(s)
		if err != nil {
			return err
		}
		if !p.NoNewPrivileges {
			p.NoNewPrivileges = true
			e.changed("process.noNewPrivileges", "false -> true")
		}
		return nil
	},
}

// underFDTable reports whether the clean path p is a process's fd table,
// /proc/(self|thread-self|<pid>)[/task/<tid>]/fd, or below it: the vector of
// CVE-2024-21626 ("Leaky Vessels"): a leaked host fd as the working
// directory gives the container the host's filesystem. (Hand-written rather
// than a regexp: compiling one cost ~40 µs on every create.)
func underFDTable(p string) bool {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return false
	}
	parts := strings.SplitN(rest, "/", 5)
	if len(parts) < 2 || !(parts[0] == "self" || parts[0] == "thread-self" || isDigits(parts[0])) {
		return false
	}
	if parts[1] == "task" {
		if len(parts) < 4 || !isDigits(parts[2]) {
			return false
		}
		parts = parts[2:]
	}
	return parts[1] == "fd"
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// RuleCwdFD refuses a process.cwd under /proc/<pid>/fd (CVE-2024-21626).
var RuleCwdFD = Rule{
	Name:    "cwd-fd",
	Doc:     "process.cwd under /proc/self/fd or /proc/<pid>/fd is refused (CVE-2024-21626)",
	Hint:    "set process.cwd to a directory inside the container",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil {
			return nil
		}
		if underFDTable(filepath.Clean(s.Process.Cwd)) {
			return deny("process.cwd", "working directory %s points into a file descriptor table (CVE-2024-21626)", s.Process.Cwd)
		}
		return nil
	},
}

// rlimitResources maps the spec's rlimit names to the kernel's resources.
var rlimitResources = map[string]int{
	"RLIMIT_AS":         syscall.RLIMIT_AS,
	"RLIMIT_CORE":       syscall.RLIMIT_CORE,
	"RLIMIT_CPU":        syscall.RLIMIT_CPU,
	"RLIMIT_DATA":       syscall.RLIMIT_DATA,
	"RLIMIT_FSIZE":      syscall.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      10,
	"RLIMIT_MEMLOCK":    8,
	"RLIMIT_MSGQUEUE":   12,
	"RLIMIT_NICE":       13,
	"RLIMIT_NOFILE":     syscall.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      6,
	"RLIMIT_RSS":        5,
	"RLIMIT_RTPRIO":     14,
	"RLIMIT_RTTIME":     15,
	"RLIMIT_SIGPENDING": 11,
	"RLIMIT_STACK":      syscall.RLIMIT_STACK,
}

// RuleRlimits clamps process.rlimits to runh's own hard limits. Raising a
// hard limit needs CAP_SYS_RESOURCE; without it runc fails late with an
// unclear error, and with it the container would get more than the node's
// own services.
var RuleRlimits = Rule{
	Name:    "rlimits",
	Doc:     "process.rlimits are clamped to runh's own hard limits",
	Hint:    "use a known RLIMIT_* type",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil {
			return nil
		}
		for i := range s.Process.Rlimits {
			rl := &s.Process.Rlimits[i]
			field := fmt.Sprintf("process.rlimits[%d]", i)
			if _, ok := rlimitResources[rl.Type]; !ok {
				return deny(field, "unknown rlimit type %q", rl.Type)
			}
			max, ok := e.Host.RlimitHard[rl.Type]
			if !ok {
				continue
			}
			if rl.Hard > max {
				e.changed(field, "%s hard %d -> %d", rl.Type, rl.Hard, max)
				rl.Hard = max
			}
			if rl.Soft > rl.Hard {
				e.changed(field, "%s soft %d -> %d", rl.Type, rl.Soft, rl.Hard)
				rl.Soft = rl.Hard
			}
		}
		return nil
	},
}

// RuleOOMScoreAdj raises a negative oomScoreAdj to 0: a container must not
// be immune to the OOM killer at the expense of the node's own services.
var RuleOOMScoreAdj = Rule{
	Name:    "oom-score-adj",
	Doc:     "a negative process.oomScoreAdj is raised to 0",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil || s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj >= 0 {
			return nil
		}
		e.changed("process.oomScoreAdj", "%d -> 0", *s.Process.OOMScoreAdj)
		zero := 0
		s.Process.OOMScoreAdj = &zero
		return nil
	},
}
