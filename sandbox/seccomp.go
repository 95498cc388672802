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
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

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
// filter are bind-mounted read-only under /dev/.runh and the init is
// prepended to process.args. It installs the filter and execs the
// entrypoint, or fails without running it.
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
	if len(p.Args) == 0 || p.Args[0] != InitPath {
		p.Args = append([]string{InitPath}, p.Args...)
		e.changed("process.args", "prefixed with %s, which installs the filter", InitPath)
	}
	return nil
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
var RuleSeccompExec = Rule{
	Name:    "seccomp-exec",
	Doc:     "exec processes of fast-path containers start through /dev/.runh/init",
	Process: true,
	Apply: func(e *Env, s *specs.Spec) error {
		if e.Host == nil || !e.Host.ExecViaInit || s.Process == nil {
			return nil
		}
		if len(s.Process.Args) == 0 {
			return deny("process.args", "no command to run")
		}
		if s.Process.Args[0] != InitPath {
			s.Process.Args = append([]string{InitPath}, s.Process.Args...)
			e.changed("process.args", "prefixed with %s", InitPath)
		}
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
	if err := SaveAtomic(path, bpf); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o444)
}

// denyingActions are seccomp default actions that refuse a syscall.
var denyingActions = []specs.LinuxSeccompAction{
	specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
}

// CheckSeccomp: a seccomp profile with a denying default action, or the
// fast path: the init first in process.args, and the last two mounts the
// init and a filter file whose content is the precompiled filter of this
// policy's profile. On the fast path a client profile may remain: runc
// installs it first and runh-init stacks runh's on it, so it can only
// tighten.
var CheckSeccomp = Check{
	Name: "check-seccomp",
	Doc:  "a seccomp profile with a denying default action, or runh-init with this profile's precompiled filter",
	Verify: func(e *Env, s *specs.Spec) error {
		fastPath := s.Process != nil && len(s.Process.Args) > 0 && s.Process.Args[0] == InitPath
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
		if s.Process == nil || len(s.Process.Args) == 0 || s.Process.Args[0] != InitPath {
			return deny("linux.seccomp", "no seccomp profile and no runh-init")
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
	Doc:     "exec processes of fast-path containers start with runh-init",
	Process: true,
	Verify: func(e *Env, s *specs.Spec) error {
		if e.Host != nil && e.Host.ExecViaInit && (s.Process == nil || len(s.Process.Args) == 0 || s.Process.Args[0] != InitPath) {
			return deny("process.args", "exec process does not start with runh-init")
		}
		return nil
	},
}
