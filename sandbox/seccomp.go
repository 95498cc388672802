package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/atomicfile"
	"github.com/runh-dev/runh/seccomp"
)

// Where the seccomp fast path appears inside a container. runc creates the
// mount points on the container's /dev tmpfs, so the image is not touched.
// seccomp/init/runh-init.c reads FilterPath.
const (
	RunhDir    = "/dev/.runh"
	InitPath   = RunhDir + "/init"
	FilterPath = RunhDir + "/filter"
)

// resolveSeccomp resolves the policy's profile for this machine and the
// spec's final bounding set.
func resolveSeccomp(pol *Policy, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	var bounding []string
	if s.Process != nil && s.Process.Capabilities != nil {
		bounding = s.Process.Capabilities.Bounding
	}
	return seccomp.Resolve(pol.Seccomp, seccomp.Options{GOARCH: goruntime.GOARCH, Bounding: bounding, Compat: pol.SeccompCompat})
}

// precompiledFor returns the precompiled filter for resolved, if runh ships
// one for exactly that profile.
func precompiledFor(resolved *specs.LinuxSeccomp) (seccomp.Filter, bool) {
	f, ok := seccomp.Precompiled(goruntime.GOARCH)
	if !ok {
		return seccomp.Filter{}, false
	}
	canon, err := seccomp.Canonical(resolved)
	return f, err == nil && bytes.Equal(canon, f.Profile)
}

// RuleSeccomp applies the profile's seccomp allowlist, whatever the client
// asked for: an "unconfined" request is replaced, not honoured. It runs
// after the capability rule, because conditional rules are resolved against
// the final capabilities.
//
// Fast path: when runh ships a precompiled filter for the resolved profile
// and runh-init is installed, the spec gets no seccomp section (so runc
// does not compile the profile on every start); instead the init and the
// filter are bind-mounted read-only under /dev/.runh and process.args
// becomes InitArgs: runh-init checks the process's identity against
// runh's expectation, installs the filter, proves the kernel loaded it and
// execs the entrypoint, or fails without running it.
//
// A runh-init prefix already in process.args (runh's own, from an earlier
// run of the rules, or a client's) is stripped and the expectation
// recomputed from this spec: a client cannot bring its own.
var RuleSeccomp = Rule{
	Name: "seccomp",
	Doc:  "runh's allowlist seccomp profile always applies (precompiled, via /dev/.runh/init, when available); unconfined is replaced",
	Hint: "runh's seccomp profile cannot be disabled; /dev/.runh is reserved for runh",
	Apply: func(e *Env, s *specs.Spec) error {
		if e.Policy.Seccomp == nil {
			return deny("linux.seccomp", "the profile has no seccomp profile to apply")
		}
		p, err := needProcess(s)
		if err != nil {
			return err
		}
		resolved, err := resolveSeccomp(e.Policy, s)
		if err != nil {
			return deny("linux.seccomp", "%v", err)
		}
		workload := Workload(p.Args)
		if len(workload) == 0 {
			return deny("process.args", "no command to run")
		}
		l := ensureLinux(s)
		for i, m := range s.Mounts {
			if within(filepath.Clean(m.Destination), RunhDir) && !isRunhMount(m, e.Host) {
				return deny(fmt.Sprintf("mounts[%d]", i), "%s is reserved for runh", m.Destination)
			}
		}
		// A client filter that is tighter than runh's somewhere (a
		// Kubernetes Localhost profile, say) is kept and runh's is stacked
		// on it: runh only ever tightens.
		stack := !seccomp.Covers(l.Seccomp, resolved)
		pre, fast := precompiledFor(resolved)
		fast = fast && e.Host != nil && e.Host.SeccompInit != "" && e.Host.SeccompCache != ""
		if fast {
			filter, err := EnsureFilter(e.Host.SeccompCache, pre)
			if err != nil {
				// The slow path is just as safe; say why it was taken.
				e.changed("linux.seccomp", "precompiled filter unavailable (%v): runc compiles the profile", err)
				fast = false
			} else {
				return applyFastPath(e, s, p, filter, stack, resolved.Architectures)
			}
		}
		if len(workload) < len(p.Args) {
			// No runh-init in this container: a prefix would name a file
			// that is not there.
			p.Args = workload
			e.changed("process.args", "%s prefix removed (runc installs the profile)", InitPath)
		}
		if stack {
			// No runh-init to stack with: one profile, the intersection.
			if l.Seccomp.ListenerPath != "" {
				return deny("linux.seccomp.listenerPath", "a seccomp notify profile needs runh-init to stack runh's filter on it")
			}
			resolved = seccomp.Intersect(l.Seccomp, resolved)
		}
		if l.Seccomp != nil {
			have, err1 := seccomp.Canonical(l.Seccomp)
			want, err2 := seccomp.Canonical(resolved)
			if err1 == nil && err2 == nil && bytes.Equal(have, want) {
				return nil
			}
		}
		what := "unconfined -> runh default"
		switch {
		case stack:
			what = "client profile -> runh default minus what the client's denies"
		case l.Seccomp != nil:
			what = "client profile -> runh default"
		}
		l.Seccomp = resolved
		e.changed("linux.seccomp", "%s", what)
		return nil
	},
}

func applyFastPath(e *Env, s *specs.Spec, p *specs.Process, filter string, stack bool, ourArches []specs.Arch) error {
	l := s.Linux
	if l.Seccomp != nil && !stack {
		// It allows everything runh's allows: the intersection is runh's,
		// and runc need not compile the client's on every start.
		l.Seccomp = nil
		e.changed("linux.seccomp", "client profile covered by runh's precompiled filter")
	}
	// When stacking, runc installs the client's profile, then runh-init
	// installs runh's on top. runh's denies every other architecture, so
	// the client's need only cover runh's: runc then compiles it for one
	// architecture, not three (Docker's lists x86_64, x86 and x32).
	if stack {
		if narrowed := nativeOnly(l.Seccomp.Architectures, ourArches); len(narrowed) < len(l.Seccomp.Architectures) {
			l.Seccomp.Architectures = narrowed
			e.changed("linux.seccomp.architectures", "client profile kept, narrowed to %v (runh's filter denies the others)", narrowed)
		}
	}
	want := []specs.Mount{
		{Destination: InitPath, Type: "bind", Source: e.Host.SeccompInit, Options: []string{"bind", "ro", "nosuid", "nodev"}},
		{Destination: FilterPath, Type: "bind", Source: filter, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}},
	}
	n := len(s.Mounts)
	if n < 2 || !mountsEqual(s.Mounts[n-2:], want) {
		s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return isRunhMount(m, e.Host) })
		s.Mounts = append(s.Mounts, want...)
		e.changed("mounts", "runh-init and the precompiled filter mounted read-only at %s", RunhDir)
	}
	setInitArgs(e, p)
	return nil
}

// setInitArgs makes p start through runh-init with the expectation of p
// as it is now: idempotent, and whatever prefix the client wrote is
// replaced.
func setInitArgs(e *Env, p *specs.Process) {
	if args := InitArgs(Expectation(e.Policy, p), Workload(p.Args)); !slices.Equal(p.Args, args) {
		p.Args = args
		e.changed("process.args", "run through %s, which checks the process's identity, installs the filter and proves it loaded", InitPath)
	}
}

// StartsWithInit reports whether p starts through runh-init: the one test
// of "this process is on the fast path", for the rules, the checks and the
// post-create verification.
func StartsWithInit(p *specs.Process) bool {
	return p != nil && len(p.Args) > 0 && p.Args[0] == InitPath
}

// ExpectFlag is runh-init's argument that carries the expectation.
const ExpectFlag = "--expect="

// InitArgs is process.args on the fast path:
// [InitPath, --expect=<expect>, --, workload...].
func InitArgs(expect string, workload []string) []string {
	return append([]string{InitPath, ExpectFlag + expect, "--"}, workload...)
}

// Workload is args without leading runh-init prefixes: InitPath, then an
// optional --expect=..., then an optional "--" (the prefix runh writes,
// and the bare InitPath older runh versions wrote), as often as they come,
// so a client cannot hide a second runh-init with its own expectation
// behind runh's.
func Workload(args []string) []string {
	for len(args) > 0 && args[0] == InitPath {
		args = args[1:]
		if len(args) > 0 && strings.HasPrefix(args[0], ExpectFlag) {
			args = args[1:]
		}
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
	}
	return args
}

// Expectation is what runh-init must find before it installs the filter:
//
//	uid=65534,gid=65534,groups=65534:1000,inh=0,prm=0,eff=0,bnd=400,amb=0,nnp=1
//
// ids as the container sees them (runh-init reads its own), groups sorted
// (runh-init compares them as a set, empty for none), capability masks in
// hex (CapMask of each set; runh-init requires each of its sets to be
// within). With no capabilities in the spec runc leaves the sets as it
// found them (for exec: the container's), so the masks are the policy's
// ceiling: every capability a hardened container may hold.
func Expectation(pol *Policy, p *specs.Process) string {
	var sets [5][]string
	if c := p.Capabilities; c != nil {
		sets = [5][]string{c.Inheritable, c.Permitted, c.Effective, c.Bounding, c.Ambient}
	} else {
		ceiling := slices.Concat(pol.CapAllow, pol.CapOnRequest)
		sets = [5][]string{ceiling, ceiling, ceiling, ceiling, ceiling}
	}
	groups := slices.Clone(p.User.AdditionalGids)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	b := make([]byte, 0, 96)
	b = append(b, "uid="...)
	b = strconv.AppendUint(b, uint64(p.User.UID), 10)
	b = append(b, ",gid="...)
	b = strconv.AppendUint(b, uint64(p.User.GID), 10)
	b = append(b, ",groups="...)
	for i, g := range groups {
		if i > 0 {
			b = append(b, ':')
		}
		b = strconv.AppendUint(b, uint64(g), 10)
	}
	for i, key := range [5]string{",inh=", ",prm=", ",eff=", ",bnd=", ",amb="} {
		b = append(b, key...)
		b = strconv.AppendUint(b, CapMask(sets[i]), 16)
	}
	b = append(b, ",nnp="...)
	if p.NoNewPrivileges {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	return string(b)
}

// capNumbers maps capability names to their bit (linux/capability.h).
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// CapMask is the bitmask of the named capabilities, as /proc/<pid>/status
// shows the sets; unknown names add nothing, so they can never widen what
// verification or runh-init accepts.
func CapMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		if b, ok := capNumbers[n]; ok {
			m |= 1 << b
		}
	}
	return m
}

// nativeOnly keeps the architectures that runh's filter allows.
func nativeOnly(have, ours []specs.Arch) []specs.Arch {
	var out []specs.Arch
	for _, a := range have {
		if slices.Contains(ours, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return have // nothing in common: leave it, runh's denies all of it anyway
	}
	return out
}

func isRunhMount(m specs.Mount, h *Host) bool {
	d := filepath.Clean(m.Destination)
	return (d == InitPath || d == FilterPath) && h != nil && h.SeccompCache != "" &&
		(m.Source == h.SeccompInit || strings.HasPrefix(m.Source, h.SeccompCache+"/"))
}

func mountsEqual(a, b []specs.Mount) bool {
	return slices.EqualFunc(a, b, func(x, y specs.Mount) bool {
		return x.Destination == y.Destination && x.Type == y.Type && x.Source == y.Source && slices.Equal(x.Options, y.Options)
	})
}

// RuleSeccompExec starts an exec process through runh-init when its
// container was created on the fast path: runc applies the container's
// seccomp section to exec processes, and on the fast path there is none.
// runh-init gets the exec process's own expectation (its user and
// capabilities, not the container's): nothing verifies an exec process
// from outside.
var RuleSeccompExec = Rule{
	Name:    "seccomp-exec",
	Doc:     "exec processes of fast-path containers start through /dev/.runh/init, with their own identity to check",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if e.Host == nil || !e.Host.ExecViaInit || s.Process == nil {
			return nil
		}
		if len(Workload(s.Process.Args)) == 0 {
			return deny("process.args", "no command to run")
		}
		setInitArgs(e, s.Process)
		return nil
	},
}

// EnsureFilter stores f's BPF in dir under the hash of its content, once,
// and returns its path. The file is written atomically and is read-only.
func EnsureFilter(dir string, f seccomp.Filter) (string, error) {
	bpf := f.BPF
	if len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
		return "", fmt.Errorf("precompiled filter digest %q is not a SHA-256", f.SHA256)
	}
	path := filepath.Join(dir, f.SHA256+".bpf")
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, bpf) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.Save(path, bpf); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o444)
}

// denyingActions are seccomp default actions that refuse a syscall.
var denyingActions = []specs.LinuxSeccompAction{
	specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
}

// CheckSeccomp: a seccomp profile with a denying default action, or the
// fast path: process.args is runh-init with this process's expectation,
// and the last two mounts the init and a filter file whose content is the
// precompiled filter of this policy's profile. On the fast path a client
// profile may remain: runc installs it first and runh-init stacks runh's
// on it, so it can only tighten, provided it cannot fake runh-init's
// seccomp(2) (checkClientProfile).
var CheckSeccomp = Check{
	Name: "check-seccomp",
	Doc:  "a seccomp profile with a denying default action, or runh-init with this profile's precompiled filter",
	Verify: func(e *Env, s *specs.Spec) error {
		fastPath := StartsWithInit(s.Process)
		if !fastPath && s.Linux != nil && s.Linux.Seccomp != nil {
			sc := s.Linux.Seccomp
			if !slices.Contains(denyingActions, sc.DefaultAction) {
				return deny("linux.seccomp.defaultAction", "default action %s does not deny", sc.DefaultAction)
			}
			if len(sc.Architectures) == 0 {
				return deny("linux.seccomp.architectures", "no architecture listed")
			}
			return nil
		}
		if !fastPath {
			return deny("linux.seccomp", "no seccomp profile and no runh-init")
		}
		if err := checkInitArgs(e, s.Process); err != nil {
			return err
		}
		if s.Linux != nil && s.Linux.Seccomp != nil {
			if err := checkClientProfile(s.Linux.Seccomp); err != nil {
				return err
			}
		}
		n := len(s.Mounts)
		if n < 2 || s.Mounts[n-2].Destination != InitPath || s.Mounts[n-1].Destination != FilterPath ||
			!slices.Contains(s.Mounts[n-2].Options, "ro") || !slices.Contains(s.Mounts[n-1].Options, "ro") {
			return deny("mounts", "runh-init and its filter are not the last, read-only mounts")
		}
		if fi, err := os.Stat(s.Mounts[n-2].Source); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			return deny("mounts", "runh-init %s is not an executable file", s.Mounts[n-2].Source)
		}
		resolved, err := resolveSeccomp(e.Policy, s)
		if err != nil {
			return deny("linux.seccomp", "%v", err)
		}
		want, ok := precompiledFor(resolved)
		if !ok {
			return deny("linux.seccomp", "no precompiled filter for this profile")
		}
		have, err := os.ReadFile(s.Mounts[n-1].Source)
		if err != nil && !errors.Is(err, fs.ErrNotExist) || !bytes.Equal(have, want.BPF) {
			return deny("mounts", "the filter %s is not this profile's precompiled filter", s.Mounts[n-1].Source)
		}
		return nil
	},
}

// CheckSeccompExec: an exec process of a fast-path container starts with
// runh-init.
var CheckSeccompExec = Check{
	Name:    "check-seccomp-exec",
	Doc:     "exec processes of fast-path containers start with runh-init and their own expectation",
	Process: true,
	Verify: func(e *Env, s *specs.Spec) error {
		if e.Host == nil || !e.Host.ExecViaInit {
			return nil
		}
		if !StartsWithInit(s.Process) {
			return deny("process.args", "exec process does not start with runh-init")
		}
		return checkInitArgs(e, s.Process)
	},
}

// checkInitArgs: p's args are exactly InitArgs with p's expectation and a
// command, so runh-init checks the identity the spec gives the process.
func checkInitArgs(e *Env, p *specs.Process) error {
	want := ExpectFlag + Expectation(e.Policy, p)
	if len(p.Args) < 4 || p.Args[1] != want || p.Args[2] != "--" || p.Args[3] == InitPath {
		return deny("process.args", "runh-init is not given this process's expectation (%s) and a command", want)
	}
	return nil
}
