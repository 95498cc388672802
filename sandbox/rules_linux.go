package sandbox

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// PrivateNamespaces are the namespaces every container must have of its own.
var PrivateNamespaces = []specs.LinuxNamespaceType{
	specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace,
	specs.MountNamespace, specs.NetworkNamespace, specs.CgroupNamespace,
}

func hasNamespace(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
}

// RuleNamespaces gives the container a private pid, ipc, uts, mount,
// network and cgroup namespace. A missing one is added; one joined by path
// is allowed (that is how CRI pods share the sandbox's), unless the path is
// the host's own namespace.
var RuleNamespaces = Rule{
	Name: "private-namespaces",
	Doc:  "pid, ipc, uts, mount, network and cgroup namespaces are private; joining the host's is refused",
	Hint: "do not share the host's namespaces (--network/--pid/--ipc/--uts host); every container gets its own",
	Apply: func(e *Env, s *specs.Spec) error {
		l := ensureLinux(s)
		for i, ns := range l.Namespaces {
			// runc opens a namespace path from the bundle it is given,
			// which is runh's private one: a relative path would name
			// another file than the one judged here (runh issue 13).
			if ns.Path != "" && !filepath.IsAbs(ns.Path) {
				return deny(fmt.Sprintf("linux.namespaces[%d]", i), "%s namespace path %s is relative", ns.Type, ns.Path)
			}
		}
		for _, t := range PrivateNamespaces {
			i := slices.IndexFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
			if i < 0 {
				l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: t})
				e.changed("linux.namespaces", "added a private %s namespace", t)
				continue
			}
			path := l.Namespaces[i].Path
			if path == "" {
				continue
			}
			field := fmt.Sprintf("linux.namespaces[%d]", i)
			host, err := e.hostNS(t, path)
			if err != nil {
				return deny(field, "cannot inspect %s namespace %s: %v", t, path, err)
			}
			if host {
				return deny(field, "joining the host's %s namespace (%s) is not allowed", t, path)
			}
		}
		return nil
	},
}

// RuleCgroupLimits sets a finite memory and pids limit: defaults where the
// client set none (or -1/0, meaning unlimited), never above what the client
// set, and never above the profile's maximum. A fork bomb or a leak in one
// container must not take down a small node.
var RuleCgroupLimits = Rule{
	Name: "cgroup-limits",
	Doc:  "a finite memory and pids limit are always set",
	Apply: func(e *Env, s *specs.Spec) error {
		r := ensureResources(s)
		pol := e.Policy
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		ceiling := pol.MemoryCeiling()
		if ceiling <= 0 {
			return deny("linux.resources.memory.limit", "cannot tell the host's memory (/proc/meminfo) to bound the limit")
		}
		if v, changed := floorLimit(r.Memory.Limit, min(pol.MemoryDefault, ceiling), ceiling); changed {
			e.changed("linux.resources.memory.limit", "%s -> %d", fmtLimit(r.Memory.Limit), v)
			r.Memory.Limit = &v
		}
		// Unlimited swap, or less swap than memory (which runc refuses),
		// becomes memory+swap equal to the limit.
		if sw := r.Memory.Swap; sw != nil && *sw != 0 && *sw < *r.Memory.Limit {
			v := *r.Memory.Limit
			e.changed("linux.resources.memory.swap", "%d -> %d", *sw, v)
			r.Memory.Swap = &v
		}
		if r.Pids == nil {
			r.Pids = &specs.LinuxPids{}
		}
		if v, changed := floorLimit(r.Pids.Limit, pol.PidsDefault, pol.PidsMax); changed {
			e.changed("linux.resources.pids.limit", "%s -> %d", fmtLimit(r.Pids.Limit), v)
			r.Pids.Limit = &v
		}
		return nil
	},
}

// floorLimit returns the limit to apply and whether it differs from cur.
func floorLimit(cur *int64, def, max int64) (int64, bool) {
	if cur == nil || *cur <= 0 {
		return def, true
	}
	if max > 0 && *cur > max {
		return max, true
	}
	return *cur, false
}

func fmtLimit(v *int64) string {
	if v == nil {
		return "unset"
	}
	return fmt.Sprint(*v)
}

// safeDevice is a device node a container may have.
type safeDevice struct {
	path         string
	major, minor int64
}

// SafeDevices is the standard set runc itself creates; nothing else.
var SafeDevices = []safeDevice{
	{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
	{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9},
	{"/dev/tty", 5, 0}, {"/dev/console", 5, 1}, {"/dev/ptmx", 5, 2},
}

// RuleDevices refuses any device outside the safe set and makes the device
// cgroup deny-all plus that set (and the pty slaves). This is what refuses
// `docker run --privileged`, which passes every host device.
var RuleDevices = Rule{
	Name: "devices",
	Doc:  "only null, zero, full, random, urandom, tty, console and ptmx; the device cgroup is deny-all plus those",
	Hint: "runh passes no host devices: --privileged and --device are not supported",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Linux != nil {
			for i, d := range s.Linux.Devices {
				ok := d.Type == "c" && slices.Contains(SafeDevices, safeDevice{filepath.Clean(d.Path), d.Major, d.Minor})
				if !ok {
					return deny(fmt.Sprintf("linux.devices[%d]", i), "device %s (%s %d:%d) is not allowed", d.Path, d.Type, d.Major, d.Minor)
				}
			}
		}
		want := deviceCgroup()
		r := ensureResources(s)
		if !slices.EqualFunc(r.Devices, want, deviceRuleEqual) {
			r.Devices = want
			e.changed("linux.resources.devices", "deny all but the safe set")
		}
		return nil
	},
}

func deviceCgroup() []specs.LinuxDeviceCgroup {
	i := func(v int64) *int64 { return &v }
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range SafeDevices {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i(d.major), Minor: i(d.minor), Access: "rwm"})
	}
	// /dev/pts/N, the slave side of a container's terminal.
	return append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i(136), Access: "rwm"})
}

func deviceRuleEqual(a, b specs.LinuxDeviceCgroup) bool {
	eq := func(x, y *int64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.Allow == b.Allow && a.Type == b.Type && a.Access == b.Access && eq(a.Major, b.Major) && eq(a.Minor, b.Minor)
}

// RuleHooks lets a hook run only if it is on the allowlist: its resolved
// executable, every argument, and no environment. Hooks run as root, and
// runc runs them by the path in the config, some long after create
// (poststop at delete, which runh passes straight to runc). So an allowed
// hook's path is rewritten to the allowlisted executable itself, an
// absolute path in a root-owned system directory: a relative path (which
// runc would resolve from the private bundle, not the caller's) or a
// symlink swapped after the check can no longer change what runs (runh
// issue 13). createContainer and startContainer hooks run inside the
// container's mount namespace, where a path names the image's file (and
// startContainer runs before runh-init installs the filter): refused.
var RuleHooks = Rule{
	Name: "hooks",
	Doc:  "hooks run as root, so only allowlisted executables (dockerd's libnetwork-setkey) with exact arguments and no environment may run, by the allowlisted absolute path; createContainer and startContainer hooks are refused",
	Hint: "only Docker's libnetwork-setkey hook may run; remove the hook or ask the operator to allowlist it",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Hooks == nil {
			return nil
		}
		for _, kind := range []struct {
			name   string
			hooks  []specs.Hook
			inside bool
		}{
			{"prestart", s.Hooks.Prestart, false}, {"createRuntime", s.Hooks.CreateRuntime, false},
			{"createContainer", s.Hooks.CreateContainer, true}, {"startContainer", s.Hooks.StartContainer, true},
			{"poststart", s.Hooks.Poststart, false}, {"poststop", s.Hooks.Poststop, false},
		} {
			for i := range kind.hooks {
				h := &kind.hooks[i]
				field := fmt.Sprintf("hooks.%s[%d]", kind.name, i)
				if kind.inside {
					return deny(field, "%s hooks run inside the container, where %s is the image's file: not allowed", kind.name, h.Path)
				}
				if !filepath.IsAbs(h.Path) {
					return deny(field, "hook path %s is relative: runc would resolve it from another directory", h.Path)
				}
				exe := e.resolveExe(h.Path)
				i := slices.IndexFunc(e.Policy.HookAllow, func(r HookRule) bool { return r.Allows(exe, *h) })
				if i < 0 {
					return deny(field, "hook %s (args %q, env %q, resolves to %s) is not on the hook allowlist (path, every argument, no environment)", h.Path, h.Args, h.Env, exe)
				}
				if h.Path != e.Policy.HookAllow[i].Exe {
					e.changed(field+".path", "%s -> %s (the allowlisted executable, so what runs cannot change after the check)", h.Path, e.Policy.HookAllow[i].Exe)
					h.Path = e.Policy.HookAllow[i].Exe
				}
			}
		}
		return nil
	},
}

// RuleSysctls allows only namespaced, safe sysctls: Kubernetes' safe set,
// plus net.* because the network namespace is private (RuleNamespaces runs
// first). Anything else could change the host kernel.
var RuleSysctls = Rule{
	Name: "sysctls",
	Doc:  "only Kubernetes' safe sysctls, plus net.* with a private network namespace",
	Hint: "only namespaced safe sysctls are allowed (runh profile show lists them)",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Linux == nil {
			return nil
		}
		privateNet := hasNamespace(s.Linux, specs.NetworkNamespace)
		keys := make([]string, 0, len(s.Linux.Sysctl))
		for k := range s.Linux.Sysctl {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if slices.Contains(e.Policy.SafeSysctls, k) || (privateNet && strings.HasPrefix(k, "net.")) {
				continue
			}
			if limit, ok := UserNSLimits[k]; ok && e.Policy.UserNS {
				if !withinUserNSLimit(k, s.Linux.Sysctl[k]) {
					return deny("linux.sysctl."+k, "%q is above the profile's limit %d for a container's user namespace", s.Linux.Sysctl[k], limit)
				}
				continue
			}
			return deny("linux.sysctl."+k, "sysctl %s is not in the safe set", k)
		}
		return nil
	},
}

// namespacedSysctls are the sysctls the kernel keeps per IPC namespace
// (net.* is per network namespace): a profile may add only these to its
// safe set, since a container's own IPC namespace is always private.
var namespacedSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

// NamespacedSysctl reports whether sysctl k is one a profile may allow:
// a namespaced IPC one, fs.mqueue.*, or net.*.
func NamespacedSysctl(k string) bool {
	return slices.Contains(namespacedSysctls, k) || strings.HasPrefix(k, "fs.mqueue.") || strings.HasPrefix(k, "net.")
}
