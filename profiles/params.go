package profiles

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	mseccomp "github.com/moby/profiles/seccomp"

	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

// ErrBadProfile is a profile (built in, in config.toml or in profiles.d)
// whose parameters would lower runh's floor or do not parse.
var ErrBadProfile = errors.New("invalid profile")

// SafeCapabilities are the only capabilities a profile may grant, and only
// to a client that asks for them: each is harmless to a non-root process in
// its own namespaces: binding a port below 1024 in its own network
// namespace. (Not CAP_KILL: in a pod that shares its pid namespace it
// would reach the other containers' processes.)
var SafeCapabilities = []string{"CAP_NET_BIND_SERVICE"}

// Params are the parameters a profile may choose inside the floor. Every
// field is optional: unset keeps the value of the profile it extends. The
// TOML keys are the ones `runh config show` and the README document.
type Params struct {
	Description   *string  `toml:"description,omitempty"`
	UID           *uint32  `toml:"uid,omitempty"`
	GID           *uint32  `toml:"gid,omitempty"`
	MemoryDefault *string  `toml:"memory_default,omitempty"`
	MemoryMax     *string  `toml:"memory_max,omitempty"`
	PidsDefault   *int64   `toml:"pids_default,omitempty"`
	PidsMax       *int64   `toml:"pids_max,omitempty"`
	TmpfsSize     *string  `toml:"tmpfs_size,omitempty"`
	BindSources   []string `toml:"bind_sources,omitempty"`
	Sysctls       []string `toml:"sysctls,omitempty"`
	Seccomp       *string  `toml:"seccomp_profile,omitempty"`
	Capabilities  []string `toml:"capabilities,omitempty"`
	MaskedPaths   []string `toml:"masked_paths,omitempty"`
	ReadonlyPaths []string `toml:"readonly_paths,omitempty"`
}

// maxPids bounds pids_default and pids_max (the kernel's default pid_max
// is 32768 on small machines).
const maxPids = 65536

// badKey names the key of a profile's parameters that is wrong.
func badKey(profile, key, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s: %s", ErrBadProfile, profile, key, fmt.Sprintf(format, args...))
}

// apply sets p's policy from params. Each parameter is checked against the
// floor here, at load, so a profile that would lower it never exists; the
// rules and checks are the base profile's and cannot be changed by a
// parameter, so no parameter can turn a check off. seccompDir resolves a
// relative seccomp_profile.
func (params *Params) apply(p *Profile, seccompDir string) error {
	pol := &p.Policy
	name := p.Name
	if params.Description != nil {
		p.Description = *params.Description
	}
	if params.UID != nil {
		if *params.UID == 0 {
			return badKey(name, "uid", "0 is root on the host: the floor is non-root")
		}
		pol.UID = *params.UID
	}
	if params.GID != nil {
		if *params.GID == 0 {
			return badKey(name, "gid", "0 is root's group on the host: the floor is non-root")
		}
		pol.GID = *params.GID
	}
	var err error
	if params.MemoryDefault != nil {
		if pol.MemoryDefault, err = parseSize(*params.MemoryDefault); err != nil {
			return badKey(name, "memory_default", "%v", err)
		}
	}
	if params.MemoryMax != nil {
		if pol.MemoryMax, err = parseSize(*params.MemoryMax); err != nil {
			return badKey(name, "memory_max", "%v", err)
		}
	}
	for _, v := range []struct {
		key string
		n   *int64
	}{{"pids_default", params.PidsDefault}, {"pids_max", params.PidsMax}} {
		if v.n != nil && *v.n > maxPids {
			return badKey(name, v.key, "%d is above %d, more processes than any container on a node needs", *v.n, maxPids)
		}
	}
	if params.PidsDefault != nil {
		if *params.PidsDefault <= 0 {
			return badKey(name, "pids_default", "%d is not a finite limit (must be > 0)", *params.PidsDefault)
		}
		pol.PidsDefault = *params.PidsDefault
	}
	if params.PidsMax != nil {
		if *params.PidsMax <= 0 {
			return badKey(name, "pids_max", "%d is not a finite limit (must be > 0)", *params.PidsMax)
		}
		pol.PidsMax = *params.PidsMax
	}
	if pol.MemoryMax > 0 && pol.MemoryDefault > pol.MemoryMax {
		return badKey(name, "memory_default", "%d is above memory_max %d", pol.MemoryDefault, pol.MemoryMax)
	}
	if pol.PidsMax > 0 && pol.PidsDefault > pol.PidsMax {
		return badKey(name, "pids_default", "%d is above pids_max %d", pol.PidsDefault, pol.PidsMax)
	}
	if params.TmpfsSize != nil {
		n, err := parseSize(*params.TmpfsSize)
		if err != nil {
			return badKey(name, "tmpfs_size", "%v", err)
		}
		// tmpfs takes k/m/g suffixes, not Docker's; bytes always work.
		pol.TmpfsSize = fmt.Sprint(n)
	}
	if params.BindSources != nil {
		for _, d := range params.BindSources {
			if !filepath.IsAbs(d) || filepath.Clean(d) != d {
				return badKey(name, "bind_sources", "%q is not an absolute, clean path", d)
			}
			if what := sandbox.SensitiveHostPath(d); what != "" {
				return badKey(name, "bind_sources", "%s is a sensitive %s (or holds one): it can never be mounted into a container", d, what)
			}
			// Judged by path on every create: nobody but root may be able
			// to turn it into a symlink to somewhere else.
			if err := RootOnlyPath(d); err != nil {
				return badKey(name, "bind_sources", "%v", err)
			}
		}
		pol.BindSources = slices.Clone(params.BindSources)
	}
	for _, k := range params.Sysctls {
		if !sandbox.NamespacedSysctl(k) {
			return badKey(name, "sysctls", "%s is not a namespaced sysctl (allowed: net.*, fs.mqueue.*, the IPC kernel.msg*/sem/shm* set)", k)
		}
		if !slices.Contains(pol.SafeSysctls, k) {
			pol.SafeSysctls = append(pol.SafeSysctls, k)
		}
	}
	if params.Seccomp != nil {
		path := *params.Seccomp
		if !filepath.IsAbs(path) {
			path = filepath.Join(seccompDir, path)
		}
		sp, err := loadSeccomp(path)
		if err != nil {
			return badKey(name, "seccomp_profile", "%v", err)
		}
		pol.Seccomp = sp
		p.SeccompSource = path
	}
	if params.Capabilities != nil {
		for _, c := range params.Capabilities {
			if !slices.Contains(SafeCapabilities, c) {
				return badKey(name, "capabilities", "%s is not one a non-root, namespaced process may hold (allowed: %v)", c, SafeCapabilities)
			}
		}
		pol.CapOnRequest = slices.Clone(params.Capabilities)
	}
	for _, list := range []struct {
		key  string
		add  []string
		dest *[]string
	}{{"masked_paths", params.MaskedPaths, &pol.MaskedPaths}, {"readonly_paths", params.ReadonlyPaths, &pol.ReadonlyPaths}} {
		for _, d := range list.add {
			if err := containerPath(d); err != nil {
				return badKey(name, list.key, "%v", err)
			}
			if !slices.Contains(*list.dest, d) {
				*list.dest = append(*list.dest, d)
			}
		}
	}
	return nil
}

// parseSize reads a size as Kubernetes or Docker write it ("64Mi", "64m",
// "64MiB", bytes); it must be finite and positive.
// Every unit is binary, as Docker's memory flags and Kubernetes' Mi are.
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "b")
	s = strings.TrimSuffix(s, "i")
	shift := 0
	if s != "" {
		if at := strings.IndexByte("kmgt", strings.ToLower(s[len(s)-1:])[0]); at >= 0 {
			shift = 10 * (at + 1)
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 64Mi, 256m, 1Gi, bytes)", v)
	}
	if n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a finite limit (must be > 0)", v)
	}
	return n << shift, nil
}

// containerPath is a path inside a container that a profile or an
// annotation may mask or make read-only.
func containerPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsAny(p, ",\x00") {
		return fmt.Errorf("%q is not an absolute, clean path", p)
	}
	return nil
}

// loadSeccomp reads a Docker/Kubernetes JSON profile and checks it against
// the floor.
func loadSeccomp(path string) (*mseccomp.Seccomp, error) {
	data, err := readOwnedIn(path)
	if err != nil {
		return nil, err
	}
	var p mseccomp.Seccomp
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := seccomp.CheckFloor(&p, goruntime.GOARCH); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// ParamsOf is p's effective parameters, in the keys a profile file takes:
// what `runh config show` and `runh profile show` print. Loading them back
// gives the same policy.
func ParamsOf(p *Profile) Params {
	pol := &p.Policy
	str := func(s string) *string { return &s }
	params := Params{
		Description:   str(p.Description),
		UID:           &pol.UID,
		GID:           &pol.GID,
		MemoryDefault: str(fmt.Sprint(pol.MemoryDefault)),
		PidsDefault:   &pol.PidsDefault,
		TmpfsSize:     str(fmt.Sprint(tmpfsBytes(pol.TmpfsSize))),
		BindSources:   slices.Clone(pol.BindSources),
		Sysctls:       slices.Clone(pol.SafeSysctls),
		Capabilities:  slices.Clone(pol.CapOnRequest),
		MaskedPaths:   slices.Clone(pol.MaskedPaths),
		ReadonlyPaths: slices.Clone(pol.ReadonlyPaths),
	}
	if pol.MemoryMax > 0 {
		params.MemoryMax = str(fmt.Sprint(pol.MemoryMax))
	}
	if pol.PidsMax > 0 {
		params.PidsMax = &pol.PidsMax
	}
	if p.SeccompSource != "" {
		params.Seccomp = str(p.SeccompSource)
	}
	if params.Capabilities == nil {
		params.Capabilities = []string{}
	}
	return params
}
