package sandbox

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CheckNonRoot: the process runs with neither uid 0 nor gid 0, and gid 0 is
// not among its groups.
var CheckNonRoot = Check{
	Name:    "check-non-root",
	Doc:     "uid, gid and additionalGids are not 0",
	Process: true,
	Verify: func(_ *Env, s *specs.Spec) error {
		if s.Process == nil {
			return deny("process", "no process")
		}
		u := s.Process.User
		if u.UID == 0 || u.GID == 0 || slices.Contains(u.AdditionalGids, 0) {
			return deny("process.user", "process would run as root (uid %d gid %d groups %v)", u.UID, u.GID, u.AdditionalGids)
		}
		return nil
	},
}

// CheckCapabilities: no capability outside the allowlist in any set.
var CheckCapabilities = Check{
	Name:    "check-capabilities",
	Doc:     "no capability outside the allowlist in any of the five sets",
	Process: true,
	Verify: func(e *Env, s *specs.Spec) error {
		p := e.Policy
		if s.Process == nil || s.Process.Capabilities == nil {
			return nil
		}
		c := s.Process.Capabilities
		everything := map[string]bool{}
		for _, cp := range p.CapOnRequest {
			everything[cp] = true
		}
		for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted, "inheritable": c.Inheritable, "ambient": c.Ambient} {
			for _, cp := range set {
				if !p.CapAllowed(cp, everything) {
					return deny("process.capabilities."+name, "capability %s is outside the allowlist", cp)
				}
			}
		}
		return nil
	},
}

// CheckNoNewPrivileges: no_new_privs is set.
var CheckNoNewPrivileges = Check{
	Name:    "check-no-new-privileges",
	Doc:     "process.noNewPrivileges is true",
	Process: true,
	Verify: func(_ *Env, s *specs.Spec) error {
		if s.Process == nil || !s.Process.NoNewPrivileges {
			return deny("process.noNewPrivileges", "no_new_privs is not set")
		}
		return nil
	},
}

// CheckReadonlyRootfs: the root filesystem is read-only.
var CheckReadonlyRootfs = Check{
	Name: "check-readonly-rootfs",
	Doc:  "root.readonly is true",
	Verify: func(_ *Env, s *specs.Spec) error {
		if s.Root == nil || !s.Root.Readonly {
			return deny("root.readonly", "the root filesystem is writable")
		}
		return nil
	},
}

// CheckNamespaces: every required namespace is present. That none is the
// host's was proven by RuleNamespaces with a stat; the kernel check after
// create proves it again on the live process.
var CheckNamespaces = Check{
	Name: "check-namespaces",
	Doc:  "pid, ipc, uts, mount, network and cgroup namespaces are all present",
	Verify: func(_ *Env, s *specs.Spec) error {
		for _, t := range PrivateNamespaces {
			if s.Linux == nil || !hasNamespace(s.Linux, t) {
				return deny("linux.namespaces", "no %s namespace", t)
			}
		}
		return nil
	},
}

// CheckLimits: finite memory and pids limits within the profile's maximum.
var CheckLimits = Check{
	Name: "check-limits",
	Doc:  "finite memory and pids limits, within the profile's maximum",
	Verify: func(e *Env, s *specs.Spec) error {
		p := e.Policy
		if s.Linux == nil || s.Linux.Resources == nil {
			return deny("linux.resources", "no resource limits")
		}
		r := s.Linux.Resources
		if r.Memory == nil || !finite(r.Memory.Limit, p.MemoryCeiling()) {
			return deny("linux.resources.memory.limit", "memory limit %s is not finite or above %d", fmtLimitPtr(r.Memory), p.MemoryCeiling())
		}
		if r.Pids == nil || !finite(r.Pids.Limit, p.PidsMax) {
			return deny("linux.resources.pids.limit", "pids limit is not finite or above the maximum %d", p.PidsMax)
		}
		return nil
	},
}

func finite(v *int64, max int64) bool {
	return v != nil && *v > 0 && (max <= 0 || *v <= max)
}

func fmtLimitPtr(m *specs.LinuxMemory) string {
	if m == nil {
		return "unset"
	}
	return fmtLimit(m.Limit)
}

// CheckDevices: no device node outside the safe set.
var CheckDevices = Check{
	Name: "check-devices",
	Doc:  "no device outside the safe set, and the device cgroup denies by default",
	Verify: func(_ *Env, s *specs.Spec) error {
		if s.Linux == nil || s.Linux.Resources == nil || len(s.Linux.Resources.Devices) == 0 {
			return deny("linux.resources.devices", "no device cgroup rules")
		}
		if d := s.Linux.Resources.Devices[0]; d.Allow || d.Access != "rwm" || d.Type != "" && d.Type != "a" {
			return deny("linux.resources.devices[0]", "the device cgroup does not start with deny-all")
		}
		for i, d := range s.Linux.Devices {
			if !slices.Contains(SafeDevices, safeDevice{d.Path, d.Major, d.Minor}) {
				return deny(fmt.Sprintf("linux.devices[%d]", i), "device %s is outside the safe set", d.Path)
			}
		}
		return nil
	},
}
