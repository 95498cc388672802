package sandbox

import (
	"errors"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultPath is runc's PATH when the process's environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// RuleEntrypoint refuses, at create, a command that does not exist in the
// image or is not executable, in runc's words. On the seccomp fast path
// runh-init execs the command after start, so without this a missing
// command would only fail then, with exit 127, where runc fails create and
// Docker and Kubernetes show its error (CreateContainerError). The command
// is looked up inside the root filesystem only: symlinks resolve within it
// (openat2 RESOLVE_IN_ROOT), so no lookup leaves it. Where a mount (a
// volume, a tmpfs) covers a candidate, or a symlink leads somewhere the
// image does not have, runh cannot know and lets runc or runh-init decide.
var RuleEntrypoint = Rule{
	Name:    "entrypoint",
	Doc:     "process.args[0] must exist in the image and be executable (looked up inside the rootfs, in the spec's PATH), as runc checks at create",
	Hint:    "check the image's command and the container's PATH",
	Process: false,
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Process == nil || s.Root == nil || s.Root.Path == "" {
			return nil
		}
		// The workload, past any runh-init prefix (a client's included).
		args := Workload(s.Process.Args)
		if len(args) == 0 {
			return nil
		}
		name := args[0]
		root, err := unix.Open(e.bundlePath(s.Root.Path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil // the root's own checks and runc report this
		}
		defer unix.Close(root)
		var candidates []string
		if strings.Contains(name, "/") {
			p := name
			if !path.IsAbs(p) {
				p = path.Join(cwdOf(s.Process), p)
			}
			candidates = []string{path.Clean(p)}
		} else {
			for _, dir := range strings.Split(pathOf(s.Process.Env), ":") {
				if dir == "" {
					dir = "."
				}
				if !path.IsAbs(dir) {
					dir = path.Join(cwdOf(s.Process), dir)
				}
				candidates = append(candidates, path.Join(dir, name))
			}
		}
		denied := errNotFound
		for _, c := range candidates {
			if coveredByMount(s, c) {
				return nil
			}
			switch err := lookupInRoot(root, c); {
			case err == nil:
				return nil
			case errors.Is(err, errUncertain):
				return nil
			case errors.Is(err, unix.EACCES):
				denied = err
			}
		}
		if strings.Contains(name, "/") {
			if denied == errNotFound {
				return deny("process.args[0]", "exec: %q: stat %s: no such file or directory", name, name)
			}
			return deny("process.args[0]", "exec: %q: permission denied", name)
		}
		if denied != errNotFound {
			return deny("process.args[0]", "exec: %q: permission denied", name)
		}
		return deny("process.args[0]", "exec: %q: executable file not found in $PATH", name)
	},
}

var (
	errNotFound  = errors.New("not found")
	errUncertain = errors.New("cannot tell from the image")
)

// lookupInRoot finds p (absolute, inside the container) in the root
// filesystem: nil if it is an executable file, unix.EACCES if it exists
// but is not one, errNotFound, or errUncertain when a symlink on the way
// leads to something the image does not hold (a mount may provide it).
func lookupInRoot(root int, p string) error {
	rel := strings.TrimPrefix(p, "/")
	if rel == "" {
		return unix.EACCES
	}
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(root, rel, how)
	if err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			// Did a symlink lead there? Then a mount may hold the target.
			how.Resolve |= unix.RESOLVE_NO_SYMLINKS
			if _, err2 := unix.Openat2(root, rel, how); err2 == unix.ELOOP {
				return errUncertain
			}
			return errNotFound
		}
		return errUncertain
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return errUncertain
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

// coveredByMount reports whether a mount's destination is p or one of its
// parents: then the file comes from the mount, not the image.
func coveredByMount(s *specs.Spec, p string) bool {
	for _, m := range s.Mounts {
		d := path.Clean(m.Destination)
		if d == "/" || within(p, d) {
			return true
		}
	}
	return false
}

func cwdOf(p *specs.Process) string {
	if p.Cwd == "" {
		return "/"
	}
	return p.Cwd
}

// pathOf is the last PATH in env, as getenv in the container sees it.
func pathOf(env []string) string {
	p := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	return p
}
