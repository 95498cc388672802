package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	mseccomp "github.com/moby/profiles/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Policy is the tunable part of a profile: the values its rules enforce.
type Policy struct {
	// UID and GID replace root (0) in process.user.
	UID, GID uint32
	// HostIDFloor is the lowest host id a uid/gid mapping may reach
	// (0: DefaultHostIDFloor).
	HostIDFloor uint32
	// CapAllow may stay in any capability set.
	CapAllow []string
	// CapOnRequest may stay only if the client asked for it (as in
	// Kubernetes' restricted level, which allows adding NET_BIND_SERVICE).
	CapOnRequest []string
	// MemoryDefault and PidsDefault are set when the client set no finite
	// limit. MemoryMax and PidsMax, when non-zero, cap what a client may ask.
	MemoryDefault, MemoryMax int64
	PidsDefault, PidsMax     int64
	// TmpfsSize is the size= of the scratch tmpfs mounts.
	TmpfsSize string
	// Seccomp is the profile every container gets, in the Docker/Kubernetes
	// format; it is resolved against the container's final capabilities.
	Seccomp *mseccomp.Seccomp
	// SeccompCompat adds the 32-bit compat architectures to the filter.
	SeccompCompat bool
	// HookAllow lists the hooks that may run, by resolved executable and
	// argv[0].
	HookAllow []HookRule
	// SafeSysctls may be set always; net.* only with a private network
	// namespace.
	SafeSysctls []string
	// MaskedPaths and ReadonlyPaths are the floors for linux.maskedPaths and
	// linux.readonlyPaths.
	MaskedPaths, ReadonlyPaths []string
	CoreDumps                  bool // keep RLIMIT_CORE as the client asked (default: forced to 0)
	// BindSources, when set, are the only host trees a bind mount's source
	// may be in (still never a sensitive one); empty: any path that
	// RuleHostMounts does not refuse.
	BindSources []string
	// UserNS gives every container its own user namespace and keeps root
	// inside (RuleUserNamespace): its capabilities are the namespace's.
	UserNS bool
}

// CapAllowed reports whether cap may stay in a spec whose client requested
// the capabilities in requested.
func (p *Policy) CapAllowed(cap string, requested map[string]bool) bool {
	for _, c := range p.CapAllow {
		if c == cap {
			return true
		}
	}
	for _, c := range p.CapOnRequest {
		if c == cap && requested[cap] {
			return true
		}
	}
	return false
}

// HookRule allows a hook whose executable resolves to Exe and whose args
// match Args one for one, with no environment. An argument is matched
// literally, except the placeholders <path> (an absolute, clean path),
// <hex64> and <hex12> (lowercase hex of that length), which may follow a
// literal prefix ("-exec-root=<path>"). dockerd is allowed only as
// libnetwork-setkey with exactly its arguments: dockerd run with other
// arguments or an LD_PRELOAD by a hook would be the attacker's code as
// root on the host (runh issue 13).
type HookRule struct {
	Exe  string
	Args []string
}

// Allows reports whether the rule allows hook h, whose executable resolved
// to exe.
func (r HookRule) Allows(exe string, h specs.Hook) bool {
	if r.Exe != exe || len(h.Env) > 0 || len(h.Args) != len(r.Args) {
		return false
	}
	for i, want := range r.Args {
		if !matchArg(want, h.Args[i]) {
			return false
		}
	}
	return true
}

func matchArg(pattern, arg string) bool {
	at := strings.Index(pattern, "<")
	if at < 0 {
		return pattern == arg
	}
	prefix, kind := pattern[:at], pattern[at:]
	v, ok := strings.CutPrefix(arg, prefix)
	if !ok {
		return false
	}
	switch kind {
	case "<path>":
		return filepath.IsAbs(v) && filepath.Clean(v) == v
	case "<hex64>", "<hex12>":
		n := 64
		if kind == "<hex12>" {
			n = 12
		}
		return len(v) == n && strings.Trim(v, "0123456789abcdef") == ""
	}
	return false
}

// Host is what the rules need to know about the machine and the call.
type Host struct {
	// Bundle is the bundle directory; relative paths in the spec are
	// relative to it.
	Bundle string
	// StateRoot is runc's --root; bind mounting it would expose every
	// container's state.
	StateRoot string
	// Namespaces maps a spec namespace type to runh's own namespace, i.e.
	// the host's.
	Namespaces map[specs.LinuxNamespaceType]NSID
	// RlimitHard maps an rlimit name (RLIMIT_NOFILE) to runh's own hard
	// limit. runc cannot raise a limit above it without CAP_SYS_RESOURCE.
	RlimitHard map[string]uint64
	// StatNS and ResolveExe default to the real filesystem; tests replace
	// them to replay configs recorded on another boot.
	StatNS     func(path string) (NSID, error)
	ResolveExe func(path string) string
	// SeccompInit is runh-init on the host and SeccompCache the directory
	// for precompiled filters. With both set, the seccomp rule uses the
	// fast path; otherwise runc compiles the profile itself.
	SeccompInit, SeccompCache string
	// ExecViaInit says the container being exec'd into was created on the
	// fast path, so its exec processes must start through the init too.
	ExecViaInit bool
	// IDs is the node's user-namespace id pool (profiles with UserNS);
	// ReadProcUserNS reads a pod sandbox's user namespace (nil: /proc).
	IDs            IDPool
	ReadProcUserNS func(pid int) (ProcUserNS, error)
}

// NSID identifies a namespace: the device and inode of its nsfs file.
type NSID struct{ Dev, Ino uint64 }

var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.MountNamespace:   "mnt",
	specs.NetworkNamespace: "net",
	specs.CgroupNamespace:  "cgroup",
	specs.UserNamespace:    "user",
}

// NSProcName is the name of a namespace type under /proc/<pid>/ns.
func NSProcName(t specs.LinuxNamespaceType) string { return nsProcName[t] }

// StatNS returns the identity of the namespace file at path.
func StatNS(path string) (NSID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return NSID{}, err
	}
	return NSID{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

// ProbeHost fills a Host from runh's own process.
func ProbeHost(bundle, stateRoot string) (*Host, error) {
	h := &Host{
		Bundle:     bundle,
		StateRoot:  stateRoot,
		Namespaces: make(map[specs.LinuxNamespaceType]NSID, len(nsProcName)),
		RlimitHard: make(map[string]uint64, len(rlimitResources)),
	}
	for t, name := range nsProcName {
		id, err := StatNS("/proc/self/ns/" + name)
		if err != nil {
			return nil, fmt.Errorf("probe host namespaces: %w", err)
		}
		h.Namespaces[t] = id
	}
	for name, res := range rlimitResources {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(res, &rl); err != nil {
			return nil, fmt.Errorf("probe host %s: %w", name, err)
		}
		h.RlimitHard[name] = rl.Max
	}
	return h, nil
}

// Change is one edit a rule made, for `runh check` and --debug logs.
type Change struct {
	Rule, Field, What string
}

func (c Change) String() string { return fmt.Sprintf("%s: %s (rule %s)", c.Field, c.What, c.Rule) }

// FromTo splits What into the value before and after the change, for the
// audit log: rules write "old -> new" where a value was replaced; any
// other change (an addition, a removal) is all "to".
func (c Change) FromTo() (from, to string) {
	if f, t, ok := strings.Cut(c.What, " -> "); ok {
		return f, t
	}
	return "", c.What
}

// Env is what a rule runs with: the profile's policy, the host, and the
// record of changes.
type Env struct {
	Policy  *Policy
	Host    *Host
	Changes []Change
	// UserNSBase is the first host id of the range RuleUserNamespace gave
	// the container (a fresh one or its pod sandbox's); 0 if it gave none.
	// The root filesystem is idmapped onto it when pinned.
	UserNSBase uint32
	rule       string
}

func (e *Env) changed(field, format string, args ...any) {
	e.Changes = append(e.Changes, Change{Rule: e.rule, Field: field, What: fmt.Sprintf(format, args...)})
}

// bundlePath resolves a path of the spec that is relative to the bundle.
func (e *Env) bundlePath(p string) string {
	if filepath.IsAbs(p) || e.Host == nil || e.Host.Bundle == "" {
		return p
	}
	return filepath.Join(e.Host.Bundle, p)
}

// hostNS reports whether the namespace file at path is runh's own.
func (e *Env) hostNS(t specs.LinuxNamespaceType, path string) (bool, error) {
	if e.Host == nil {
		return false, errors.New("no host information")
	}
	stat := e.Host.StatNS
	if stat == nil {
		stat = StatNS
	}
	id, err := stat(path)
	if err != nil {
		return false, err
	}
	own, ok := e.Host.Namespaces[t]
	return ok && own == id, nil
}

// resolveExe resolves a hook's executable, following /proc/<pid>/exe.
func (e *Env) resolveExe(path string) string {
	if e.Host != nil && e.Host.ResolveExe != nil {
		return e.Host.ResolveExe(path)
	}
	return resolvePath(path)
}
