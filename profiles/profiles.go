// Package profiles names compositions of sandbox rules. A profile is data:
// adding a rule touches its own file in sandbox, its test, and one line here.
package profiles

import (
	"errors"
	"slices"

	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

// ErrUnknownProfile is returned for a profile name runh does not know. runh
// never falls back to a default for a name it cannot resolve.
var ErrUnknownProfile = errors.New("unknown profile")

// Profile is a named policy with its rules, in order, and its checks.
type Profile struct {
	Name        string
	Description string
	Policy      sandbox.Policy
	Rules       []sandbox.Rule
	Checks      []sandbox.Check
	// ReportOnly profiles change nothing and refuse nothing: check and
	// verification failures are logged as warnings. Only an operator can
	// select one (--runh-profile, never an annotation).
	ReportOnly bool
	// Extends names the profile a profiles.d file builds on.
	Extends string
	// SeccompSource is the file of a seccomp_profile; "" is runh's built-in
	// allowlist (seccomp/default.json).
	SeccompSource string
}

// clone is a deep copy of p under a new name: profiles built from it
// (profiles.d, annotations) never change it.
func (p *Profile) clone(name string) *Profile {
	c := *p
	c.Name = name
	pol := &c.Policy
	for _, l := range []*[]string{&pol.CapAllow, &pol.CapOnRequest, &pol.SafeSysctls, &pol.MaskedPaths, &pol.ReadonlyPaths, &pol.BindSources} {
		*l = slices.Clone(*l)
	}
	pol.HookAllow = slices.Clone(pol.HookAllow)
	return &c
}

// Pipeline is the profile's rules and checks as one hardening run.
func (p *Profile) Pipeline(mode sandbox.Mode, processOnly bool) sandbox.Pipeline {
	return sandbox.Pipeline{Profile: p.Name, Rules: p.Rules, Checks: p.Checks, Mode: mode, ProcessOnly: processOnly}
}

// DefaultName is the profile every container gets unless the operator says
// otherwise.
const DefaultName = "restricted"

const mib = 1 << 20

// dockerSetkey is Docker's networking hook exactly as dockerd writes it
// (moby daemon/oci_linux.go, withLibnetwork): its exec root, the
// container id and the network controller's short id.
var dockerSetkey = []string{"libnetwork-setkey", "-exec-root=<path>", "<hex64>", "<hex12>"}

// Restricted is the default: non-root, no capabilities, no_new_privs, a
// read-only root, a seccomp allowlist, private namespaces and cgroup limits.
// The defaults suit a small edge node: a container that needs more memory
// or processes says so, and gets what it asks for up to the maximum.
func Restricted() *Profile {
	return &Profile{
		Name:        "restricted",
		Description: "non-root, no capabilities, no_new_privs, read-only root, seccomp allowlist, private namespaces, finite cgroup limits",
		Policy: sandbox.Policy{
			UID:           65534,
			GID:           65534,
			CapOnRequest:  []string{"CAP_NET_BIND_SERVICE"},
			MemoryDefault: 256 * mib,
			PidsDefault:   512,
			PidsMax:       4096,
			TmpfsSize:     "64m",
			Seccomp:       seccomp.Default(),
			// Docker's networking hook: /proc/<dockerd pid>/exe libnetwork-setkey.
			HookAllow: []sandbox.HookRule{
				{Exe: "/usr/bin/dockerd", Args: dockerSetkey},
				{Exe: "/usr/sbin/dockerd", Args: dockerSetkey},
				{Exe: "/usr/local/bin/dockerd", Args: dockerSetkey},
			},
			SafeSysctls: []string{
				"kernel.shm_rmid_forced",
				"net.ipv4.ip_local_port_range",
				"net.ipv4.ip_local_reserved_ports",
				"net.ipv4.ip_unprivileged_port_start",
				"net.ipv4.ping_group_range",
				"net.ipv4.tcp_syncookies",
				"net.ipv4.tcp_keepalive_time",
				"net.ipv4.tcp_fin_timeout",
				"net.ipv4.tcp_keepalive_intvl",
				"net.ipv4.tcp_keepalive_probes",
			},
			MaskedPaths: []string{
				"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
				"/sys/devices/virtual/powercap", "/proc/kallsyms",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
		// Order matters: namespaces before sysctls (net.* needs a private
		// network namespace), capabilities before seccomp.
		Rules: []sandbox.Rule{
			sandbox.RuleSpecSurface,
			sandbox.RuleIOPriority,
			sandbox.RuleScheduler,
			sandbox.RulePersonality,
			sandbox.RuleCgroupUnified,
			sandbox.RuleCoreDumps,
			sandbox.RulePseudoMounts,
			sandbox.RuleAnnotations,
			sandbox.RuleUser,
			sandbox.RuleCapabilities,
			sandbox.RuleNoNewPrivileges,
			sandbox.RuleCwdFD,
			sandbox.RuleRlimits,
			sandbox.RuleOOMScoreAdj,
			sandbox.RuleReadonlyRootfs,
			sandbox.RuleDevSymlink,
			sandbox.RuleEntrypoint,
			sandbox.RuleHostMounts,
			sandbox.RulePropagation,
			sandbox.RuleBindOptions,
			sandbox.RuleScratchTmpfs,
			sandbox.RuleReadonlySys,
			sandbox.RuleMaskedPaths,
			sandbox.RuleReadonlyPaths,
			sandbox.RuleNamespaces,
			sandbox.RuleSysctls,
			sandbox.RuleCgroupLimits,
			sandbox.RuleCgroupsPath,
			sandbox.RuleIDMappings,
			sandbox.RuleDevices,
			sandbox.RuleHooks,
			sandbox.RuleSeccompClientProfile,
			sandbox.RuleSeccomp,
			sandbox.RuleSeccompExec,
		},
		Checks: []sandbox.Check{
			sandbox.CheckNonRoot,
			sandbox.CheckHostIDs,
			sandbox.CheckCapabilities,
			sandbox.CheckNoNewPrivileges,
			sandbox.CheckReadonlyRootfs,
			sandbox.CheckSeccomp,
			sandbox.CheckNamespaces,
			sandbox.CheckLimits,
			sandbox.CheckDevices,
			sandbox.CheckSeccompExec,
		},
	}
}

// Compat leaves every spec as written and only reports what restricted's
// checks and the post-create verification would refuse. It exists to prove
// that runh's plumbing (argv, logs, the atomic rewrite, fds and stdio,
// verification) behaves exactly like runc, e.g. under runc's own test
// suite. Never use it for workloads.
func Compat() *Profile {
	r := Restricted()
	return &Profile{
		Name:        "compat",
		Description: "OPERATOR ONLY, NOT HARDENED: specs pass unchanged; restricted's checks and the post-create verification only log warnings",
		Policy:      r.Policy,
		Checks:      r.Checks,
		ReportOnly:  true,
	}
}

// Edge is restricted for small boards: the same floor, rules and checks,
// with smaller defaults and maxima (64 MiB and 128 pids unless the client
// asks for less, at most 256 MiB and 512 pids) and a 16 MiB scratch tmpfs.
func Edge() *Profile {
	p := Restricted().clone("edge")
	p.Description = "restricted for small boards: 64 MiB and 128 pids by default (at most 256 MiB, 512 pids), 16 MiB scratch tmpfs"
	p.Policy.MemoryDefault = 64 * mib
	p.Policy.MemoryMax = 256 * mib
	p.Policy.PidsDefault = 128
	p.Policy.PidsMax = 512
	p.Policy.TmpfsSize = "16m"
	return p
}

// DockerDefaultCapsNoRaw are the capabilities Docker grants by default,
// without CAP_NET_RAW (packet forging, CVE-2020-14386). Under userns they
// are the container's user namespace's: power over its own ids, files
// idmapped to it and namespaces it owns, none over the host's.
var DockerDefaultCapsNoRaw = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// UserNS is restricted with a user namespace per container: images that
// start as root (and chown, then drop to their own user) run unmodified,
// as root inside and as a range of 65536 unprivileged host ids outside,
// unique to the container (or its pod). Capabilities are at most Docker's
// defaults without CAP_NET_RAW, namespaced; everything else of the floor
// (no_new_privs, read-only root, runh's seccomp allowlist, which still
// denies unshare, clone of namespaces, mount, keyctl, bpf and ptrace,
// private namespaces, cgroup limits, masks, mounts, devices, hooks) is
// restricted's.
func UserNS() *Profile {
	p := Restricted().clone("userns")
	p.Description = "restricted in a user namespace per container: root inside, 65536 unique unprivileged host ids outside, Docker's default capabilities without NET_RAW (namespaced)"
	p.Policy.UserNS = true
	p.Policy.CapAllow = slices.Clone(DockerDefaultCapsNoRaw)
	p.Policy.CapOnRequest = nil
	rules := make([]sandbox.Rule, 0, len(p.Rules)+1)
	for _, r := range p.Rules {
		if r.Name == sandbox.RuleUser.Name {
			rules = append(rules, sandbox.RuleUserNamespace)
		}
		rules = append(rules, r)
	}
	p.Rules = rules
	p.Checks = slices.Clone(p.Checks)
	for i, c := range p.Checks {
		if c.Name == sandbox.CheckNonRoot.Name {
			p.Checks[i] = sandbox.CheckUserNamespace
		}
	}
	return p
}

var registry = map[string]func() *Profile{
	"restricted": Restricted,
	"edge":       Edge,
	"userns":     UserNS,
	"compat":     Compat,
}
