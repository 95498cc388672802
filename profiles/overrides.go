package profiles

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

// AnnotationPrefix marks the per-workload overrides. containerd's CRI
// passes pod annotations with it to the runtime (`runh install containerd`
// allows them); Docker and Podman pass --annotation.
const AnnotationPrefix = "runh.io/"

// The overrides a workload may ask for. Each can only tighten (gVisor's
// rule for its annotation flags): anything that would loosen the profile,
// an unknown runh.io/ key or a malformed value refuses the container.
const (
	AnnotationProfileOverride = AnnotationPrefix + "profile"
	AnnotationMemory          = AnnotationPrefix + "memory"
	AnnotationPids            = AnnotationPrefix + "pids"
	AnnotationSeccompDeny     = AnnotationPrefix + "seccomp-deny"
	AnnotationReadonlyPaths   = AnnotationPrefix + "readonly-paths"
	AnnotationMaskedPaths     = AnnotationPrefix + "masked-paths"
)

// Overrides is the set of runh.io/ annotations a spec carries, in the
// order they are applied.
var Overrides = []string{AnnotationProfileOverride, AnnotationMemory, AnnotationPids, AnnotationSeccompDeny, AnnotationReadonlyPaths, AnnotationMaskedPaths}

// maxOverride bounds an override's value: errors quote it, and they reach
// the engine, runc's log and the audit log.
const maxOverride = 1024

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// overrideDenial names the annotation that cannot be honoured.
func overrideDenial(base *Profile, key, format string, args ...any) *sandbox.Denial {
	return &sandbox.Denial{
		Profile: base.Name,
		Field:   "annotations." + key,
		Rule:    "overrides",
		Reason:  fmt.Sprintf(format, args...),
		Hint:    "runh.io/ annotations may only tighten the runtime handler's profile; an operator chooses looser ones (runh profile list)",
	}
}

// ApplyOverrides returns the profile a container with annotations gets:
// base, tightened by its runh.io/ annotations. Without any it returns base.
// The result is checked against base with AtLeastAsStrict, so an override
// that loosens anything is refused even if a case above missed it.
func (c *Config) ApplyOverrides(base *Profile, annotations map[string]string) (*Profile, error) {
	var keys []string
	for k, v := range annotations {
		// Any case: RUNH.IO/memory is a typo to refuse, not to ignore.
		if strings.HasPrefix(strings.ToLower(k), AnnotationPrefix) {
			if !slices.Contains(Overrides, k) {
				return nil, overrideDenial(base, clip(k), "unknown override (known: %s)", strings.Join(Overrides, ", "))
			}
			if len(v) > maxOverride {
				return nil, overrideDenial(base, k, "value of %d bytes is longer than %d", len(v), maxOverride)
			}
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 || base.ReportOnly {
		return base, nil
	}
	p := base
	if name, ok := annotations[AnnotationProfileOverride]; ok {
		q, err := c.Profile(name)
		if err != nil {
			return nil, overrideDenial(base, AnnotationProfileOverride, "%v", err)
		}
		if ok, why := AtLeastAsStrict(q, base); !ok {
			return nil, overrideDenial(base, AnnotationProfileOverride, "profile %q is looser than %q: %s", name, base.Name, why)
		}
		p = q
	}
	p = p.clone(p.Name)
	pol := &p.Policy
	if v, ok := annotations[AnnotationMemory]; ok {
		n, err := parseSize(v)
		if err != nil {
			return nil, overrideDenial(base, AnnotationMemory, "%v", err)
		}
		if ceiling := pol.MemoryCeiling(); n > ceiling {
			return nil, overrideDenial(base, AnnotationMemory, "%s (%d bytes) is above the profile's maximum of %d bytes", v, n, ceiling)
		}
		pol.MemoryMax = n
		pol.MemoryDefault = min(pol.MemoryDefault, n)
	}
	if v, ok := annotations[AnnotationPids]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			return nil, overrideDenial(base, AnnotationPids, "%q is not a positive number of processes", v)
		}
		if pol.PidsMax > 0 && n > pol.PidsMax {
			return nil, overrideDenial(base, AnnotationPids, "%d is above the profile's maximum of %d", n, pol.PidsMax)
		}
		pol.PidsMax = n
		pol.PidsDefault = min(pol.PidsDefault, n)
	}
	if v, ok := annotations[AnnotationSeccompDeny]; ok {
		names, err := list(v, func(n string) error {
			if n == "" || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
				return fmt.Errorf("%q is not a syscall name", n)
			}
			return nil
		})
		if err != nil {
			return nil, overrideDenial(base, AnnotationSeccompDeny, "%v", err)
		}
		pol.Seccomp = seccomp.Without(pol.Seccomp, names)
	}
	for _, a := range []struct {
		key  string
		dest *[]string
	}{{AnnotationReadonlyPaths, &pol.ReadonlyPaths}, {AnnotationMaskedPaths, &pol.MaskedPaths}} {
		v, ok := annotations[a.key]
		if !ok {
			continue
		}
		paths, err := list(v, containerPath)
		if err != nil {
			return nil, overrideDenial(base, a.key, "%v", err)
		}
		for _, d := range paths {
			if !slices.Contains(*a.dest, d) {
				*a.dest = append(*a.dest, d)
			}
		}
	}
	if ok, why := AtLeastAsStrict(p, base); !ok {
		return nil, overrideDenial(base, strings.Join(keys, ","), "the result is looser than %q: %s", base.Name, why)
	}
	return p, nil
}

// list splits a comma-separated annotation value and checks each item.
func list(v string, check func(string) error) ([]string, error) {
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if err := check(item); err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}
