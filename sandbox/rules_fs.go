package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuleReadonlyRootfs makes root.readonly true: an attacker who gets code
// execution cannot persist in or tamper with the image (CIS Docker 5.12).
var RuleReadonlyRootfs = Rule{
	Name: "readonly-rootfs",
	Doc:  "root.readonly is true",
	Hint: "the bundle needs a root.path; software that writes should use /tmp or a volume",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Root == nil || s.Root.Path == "" {
			return deny("root.path", "a root filesystem is required")
		}
		if !s.Root.Readonly {
			s.Root.Readonly = true
			e.changed("root.readonly", "false -> true")
		}
		return nil
	},
}

// scratchDirs get a tmpfs, so software that needs a writable /tmp keeps
// working on a read-only root.
var scratchDirs = []string{"/tmp", "/run", "/var/tmp"}

// RuleScratchTmpfs mounts a size-limited nosuid,nodev,noexec tmpfs on /tmp,
// /run and /var/tmp, unless the client mounted something there.
var RuleScratchTmpfs = Rule{
	Name: "scratch-tmpfs",
	Doc:  "a size-limited nosuid,nodev,noexec tmpfs on /tmp, /run and /var/tmp unless the client mounted there",
	Apply: func(e *Env, s *specs.Spec) error {
		for _, dir := range scratchDirs {
			if slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return filepath.Clean(m.Destination) == dir }) {
				continue
			}
			m := specs.Mount{
				Destination: dir,
				Type:        "tmpfs",
				Source:      "tmpfs",
				Options:     []string{"nosuid", "nodev", "noexec", "mode=1777", "size=" + e.Policy.TmpfsSize},
			}
			// Before any client mount below dir, which it would otherwise
			// hide (mounts are made in order).
			at := slices.IndexFunc(s.Mounts, func(cm specs.Mount) bool { return within(filepath.Clean(cm.Destination), dir) })
			if at < 0 {
				at = len(s.Mounts)
			}
			s.Mounts = slices.Insert(s.Mounts, at, m)
			e.changed(fmt.Sprintf("mounts[%d]", at), "added tmpfs on %s (size=%s)", dir, e.Policy.TmpfsSize)
		}
		return nil
	},
}

// RuleReadonlySys mounts /sys and /sys/fs/cgroup read-only: a writable sysfs
// or cgroupfs lets a container reconfigure the host (release_agent,
// CVE-2022-0492).
var RuleReadonlySys = Rule{
	Name: "readonly-sys",
	Doc:  "/sys and /sys/fs/cgroup are mounted read-only",
	Apply: func(e *Env, s *specs.Spec) error {
		for i := range s.Mounts {
			m := &s.Mounts[i]
			d := filepath.Clean(m.Destination)
			if d != "/sys" && d != "/sys/fs/cgroup" {
				continue
			}
			if slices.Contains(m.Options, "ro") && !slices.Contains(m.Options, "rw") {
				continue
			}
			m.Options = append(slices.DeleteFunc(m.Options, func(o string) bool { return o == "rw" }), "ro")
			e.changed(fmt.Sprintf("mounts[%d]", i), "%s is now read-only", d)
		}
		return nil
	},
}

// RuleMaskedPaths adds the profile's floor to linux.maskedPaths.
var RuleMaskedPaths = Rule{
	Name: "masked-paths",
	Doc:  "linux.maskedPaths include Docker's list, /proc/kallsyms and /sys/devices/virtual/powercap",
	Apply: func(e *Env, s *specs.Spec) error {
		l := ensureLinux(s)
		l.MaskedPaths = addPaths(e, "linux.maskedPaths", l.MaskedPaths, e.Policy.MaskedPaths)
		return nil
	},
}

// RuleReadonlyPaths adds the profile's floor to linux.readonlyPaths.
var RuleReadonlyPaths = Rule{
	Name: "readonly-paths",
	Doc:  "linux.readonlyPaths include Docker's list",
	Apply: func(e *Env, s *specs.Spec) error {
		l := ensureLinux(s)
		l.ReadonlyPaths = addPaths(e, "linux.readonlyPaths", l.ReadonlyPaths, e.Policy.ReadonlyPaths)
		return nil
	},
}

func addPaths(e *Env, field string, have, want []string) []string {
	var added []string
	for _, p := range want {
		if !slices.Contains(have, p) {
			have = append(have, p)
			added = append(added, p)
		}
	}
	if len(added) > 0 {
		e.changed(field, "added %v", added)
	}
	return have
}

// Host paths that must not be bind mounted. Tree paths are refused with
// everything below them; point paths only themselves, because engines bind
// per-container files from below them (Docker's hosts and resolv.conf under
// /var/lib/docker/containers, CRI's shm under /run/containerd). Any parent of
// either is refused too: mounting /var exposes /var/lib/docker.
var (
	sensitiveTrees  = []string{"/proc", "/sys", "/dev", "/boot", "/etc", "/root", "/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock", "/run/runc", "/run/runh"}
	sensitivePoints = []string{"/var/lib/docker", "/run/containerd", "/var/lib/containerd", "/var/lib/kubelet"}
)

// engineSockets are the API sockets of container engines, refused wherever
// they live (a private daemon's socket need not be under /run): whoever
// holds one can start a privileged container and own the host.
var engineSockets = []string{"docker.sock", "containerd.sock", "containerd.sock.ttrpc", "crio.sock", "podman.sock", "buildkitd.sock", "dockershim.sock"}

// mountTypes are the filesystems a container may mount. runc performs mounts
// as root on the host before dropping privileges, so any other type (ext4 of
// a host block device, nfs) would be a mount the container could not do
// itself.
var mountTypes = []string{"bind", "rbind", "none", "", "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"}

func isBind(m *specs.Mount) bool {
	return m.Type == "bind" || m.Type == "rbind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// resolvePath resolves symlinks in p as far as the path exists, so that
// /var/run/docker.sock and /run/docker.sock compare equal.
func resolvePath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	dir, base := filepath.Split(p)
	if dir == "" || dir == p || base == "" {
		return p
	}
	return filepath.Join(resolvePath(filepath.Clean(dir)), base)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// RuleHostMounts refuses bind mounts of sensitive host paths, a root
// filesystem that is, holds or lies inside one, and mounts of filesystem
// types a container has no business mounting. Sources are judged with
// symlinks resolved; PinHostPaths judges them again on the objects it
// opens, so a path swapped after this rule ran is caught there.
var RuleHostMounts = Rule{
	Name: "host-mounts",
	Doc:  "bind mounts (and root.path) of /, /proc, /sys, /dev, /boot, /etc, /root, any engine API socket, the engines' state, runc's root, runh's state, and their parents are refused",
	Hint: "mount a dedicated directory or a named volume, not a host system path or an engine's socket or state",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Root != nil && s.Root.Path != "" {
			if what := e.hostPathRefusal(resolvePath(e.bundlePath(s.Root.Path))); what != "" {
				return deny("root.path", "root filesystem on %s %s is not allowed", what, s.Root.Path)
			}
		}
		for i := range s.Mounts {
			m := &s.Mounts[i]
			field := fmt.Sprintf("mounts[%d]", i)
			if !slices.Contains(mountTypes, m.Type) {
				return deny(field, "mount of filesystem type %q on %s is not allowed", m.Type, m.Destination)
			}
			if !isBind(m) || isRunhMount(*m, e.Host) {
				continue
			}
			if what := e.bindSourceRefusal(resolvePath(e.bundlePath(m.Source))); what != "" {
				return deny(field, "bind mount of %s %s is not allowed", what, m.Source)
			}
		}
		return nil
	},
}

// bindSourceRefusal is hostPathRefusal for a bind mount's source, which
// must also lie in one of the profile's BindSources when it lists any.
func (e *Env) bindSourceRefusal(src string) string {
	if what := e.hostPathRefusal(src); what != "" {
		return what
	}
	if e.Policy == nil || len(e.Policy.BindSources) == 0 {
		return ""
	}
	for _, t := range e.Policy.BindSources {
		if within(src, resolvePath(t)) {
			return ""
		}
	}
	return fmt.Sprintf("host path outside the profile's bind_sources %v:", e.Policy.BindSources)
}

// hostPathRefusal says what the resolved host path src is when it may not
// be given to a container (as a bind source or the root filesystem):
// "container engine socket" or "host path"; "" when it may.
func (e *Env) hostPathRefusal(src string) string {
	if slices.Contains(engineSockets, filepath.Base(src)) {
		return "container engine socket"
	}
	trees := resolvedTrees()
	if e.Host != nil && e.Host.StateRoot != "" {
		trees = append(slices.Clone(trees), resolvePath(e.Host.StateRoot))
	}
	for _, t := range trees {
		if within(src, t) || within(t, src) {
			return "host path"
		}
	}
	for _, pnt := range resolvedPoints() {
		if within(pnt, src) {
			return "host path"
		}
	}
	return ""
}

// The sensitive paths with their symlinks resolved, once per process: the
// host's layout does not change while runh runs.
var (
	resolvedTrees  = sync.OnceValue(func() []string { return resolveAll(sensitiveTrees) })
	resolvedPoints = sync.OnceValue(func() []string { return resolveAll(sensitivePoints) })
)

func resolveAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = resolvePath(p)
	}
	return out
}

// RuleBindOptions adds nosuid and nodev to every bind mount: a setuid binary
// or a device node on a host volume must not work inside the container.
var RuleBindOptions = Rule{
	Name: "bind-nosuid-nodev",
	Doc:  "every bind mount gets nosuid and nodev",
	Apply: func(e *Env, s *specs.Spec) error {
		for i := range s.Mounts {
			m := &s.Mounts[i]
			if !isBind(m) {
				continue
			}
			before := len(m.Options)
			m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "suid" || o == "dev" })
			changed := before != len(m.Options)
			for _, o := range []string{"nosuid", "nodev"} {
				if !slices.Contains(m.Options, o) {
					m.Options = append(m.Options, o)
					changed = true
				}
			}
			if changed {
				e.changed(fmt.Sprintf("mounts[%d]", i), "bind mount of %s is now nosuid,nodev", m.Source)
			}
		}
		return nil
	},
}

// RulePropagation refuses shared mount propagation, in mounts and for the
// root: a shared mount lets mounts made in the container appear on the host.
var RulePropagation = Rule{
	Name: "mount-propagation",
	Doc:  "shared/rshared propagation is refused, in mounts and linux.rootfsPropagation",
	Hint: "use private or slave propagation (rprivate, rslave)",
	Apply: func(e *Env, s *specs.Spec) error {
		for i, m := range s.Mounts {
			for _, o := range m.Options {
				if o == "shared" || o == "rshared" {
					return deny(fmt.Sprintf("mounts[%d]", i), "%s propagation on %s is not allowed", o, m.Destination)
				}
			}
		}
		if s.Linux != nil && (s.Linux.RootfsPropagation == "shared" || s.Linux.RootfsPropagation == "rshared") {
			return deny("linux.rootfsPropagation", "%s propagation is not allowed", s.Linux.RootfsPropagation)
		}
		return nil
	},
}

// RuleDevSymlink refuses a rootfs whose /dev is a symlink: runc would mount
// its /dev tmpfs through it onto a host path (CVE-2026-41579).
var RuleDevSymlink = Rule{
	Name: "dev-symlink",
	Doc:  "a rootfs/dev that is a symlink is refused (CVE-2026-41579)",
	Hint: "the image's /dev must be a plain directory",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Root == nil || s.Root.Path == "" {
			return nil
		}
		fi, err := os.Lstat(filepath.Join(e.bundlePath(s.Root.Path), "dev"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return deny("root.path", "cannot inspect %s/dev: %v", s.Root.Path, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return deny("root.path", "%s/dev is a symlink (CVE-2026-41579)", s.Root.Path)
		}
		return nil
	},
}

// SensitiveHostPath says why host path p may never be given to a container
// ("host path", "container engine socket"), or "" if it may: the test a
// profile's bind_sources must pass at load.
func SensitiveHostPath(p string) string {
	return (&Env{}).hostPathRefusal(resolvePath(p))
}
