package profiles

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

// AtLeastAsStrict reports whether a container under a can do nothing that
// it could not do under b. If not, why names the first parameter in which
// a is looser. It is a partial order (reflexive, transitive; two profiles
// that differ in both directions are incomparable), decided parameter by
// parameter, so a new profile needs no entry in any list:
//   - the same identity (another uid reaches other files: incomparable);
//   - memory, pids and scratch sizes no larger (an unset maximum is the
//     host's memory, or unlimited for pids);
//   - capabilities, sysctls, hooks and syscalls a subset of b's;
//   - bind sources inside b's (none listed: any non-sensitive path);
//   - masked and read-only paths a superset of b's;
//   - the same rules and checks (a profile file cannot change them).
func AtLeastAsStrict(a, b *Profile) (ok bool, why string) {
	if a.ReportOnly || b.ReportOnly {
		if a.ReportOnly && b.ReportOnly {
			return true, ""
		}
		if a.ReportOnly {
			return false, "it hardens nothing (report only)"
		}
		return true, ""
	}
	pa, pb := &a.Policy, &b.Policy
	if pa.UID != pb.UID || pa.GID != pb.GID {
		return false, fmt.Sprintf("its user %d:%d is not %d:%d", pa.UID, pa.GID, pb.UID, pb.GID)
	}
	if !sameNames(a.Rules, b.Rules, func(r sandbox.Rule) string { return r.Name }) ||
		!sameNames(a.Checks, b.Checks, func(c sandbox.Check) string { return c.Name }) {
		return false, "its rules or checks differ"
	}
	for _, c := range []struct {
		what string
		a, b int64
	}{
		{"memory maximum", pa.MemoryCeiling(), pb.MemoryCeiling()},
		{"memory default", min(pa.MemoryDefault, pa.MemoryCeiling()), min(pb.MemoryDefault, pb.MemoryCeiling())},
		{"pids maximum", unlimitedIfZero(pa.PidsMax), unlimitedIfZero(pb.PidsMax)},
		{"pids default", pa.PidsDefault, pb.PidsDefault},
		{"scratch tmpfs size", tmpfsBytes(pa.TmpfsSize), tmpfsBytes(pb.TmpfsSize)},
	} {
		if c.a > c.b {
			return false, fmt.Sprintf("its %s %d is above %d", c.what, c.a, c.b)
		}
	}
	for _, c := range []struct {
		what string
		a, b []string
	}{
		{"capability", pa.CapAllow, pb.CapAllow},
		{"capability on request", pa.CapOnRequest, pb.CapOnRequest},
		{"sysctl", pa.SafeSysctls, pb.SafeSysctls},
	} {
		for _, v := range c.a {
			if !slices.Contains(c.b, v) {
				return false, fmt.Sprintf("it allows %s %s", c.what, v)
			}
		}
	}
	for _, h := range pa.HookAllow {
		if !slices.ContainsFunc(pb.HookAllow, func(g sandbox.HookRule) bool { return g.Exe == h.Exe && slices.Equal(g.Args, h.Args) }) {
			return false, fmt.Sprintf("it allows hook %s", h.Exe)
		}
	}
	for _, c := range []struct {
		what string
		a, b []string
	}{{"masked", pa.MaskedPaths, pb.MaskedPaths}, {"read-only", pa.ReadonlyPaths, pb.ReadonlyPaths}} {
		for _, v := range c.b {
			if !slices.Contains(c.a, v) {
				return false, fmt.Sprintf("%s is not %s", v, c.what)
			}
		}
	}
	if len(pb.BindSources) > 0 {
		if len(pa.BindSources) == 0 {
			return false, fmt.Sprintf("it allows bind mounts from anywhere, not only %v", pb.BindSources)
		}
		for _, d := range pa.BindSources {
			if !slices.ContainsFunc(pb.BindSources, func(t string) bool { return d == t || t == "/" || strings.HasPrefix(d, t+"/") }) {
				return false, fmt.Sprintf("it allows bind mounts from %s", d)
			}
		}
	}
	if pa.CoreDumps && !pb.CoreDumps {
		return false, "it allows core dumps"
	}
	if pa.SeccompCompat && !pb.SeccompCompat {
		return false, "it allows 32-bit compat syscalls"
	}
	if pa.Seccomp == nil {
		return false, "it has no seccomp profile"
	}
	if pb.Seccomp != nil {
		ra, rb := seccomp.AllowedRules(pa.Seccomp), seccomp.AllowedRules(pb.Seccomp)
		for _, n := range slices.Sorted(maps.Keys(ra)) {
			for _, cond := range ra[n] {
				if !slices.Contains(rb[n], "") && !slices.Contains(rb[n], cond) {
					return false, fmt.Sprintf("its seccomp profile allows %s where the other does not", n)
				}
			}
		}
	}
	return true, ""
}

func sameNames[T any](a, b []T, name func(T) string) bool {
	return slices.EqualFunc(a, b, func(x, y T) bool { return name(x) == name(y) })
}

func unlimitedIfZero(v int64) int64 {
	if v <= 0 {
		return 1<<63 - 1
	}
	return v
}

// tmpfsBytes reads a tmpfs size= value (bytes, or k/m/g); unreadable is
// treated as unbounded, so it never looks stricter than it is.
func tmpfsBytes(v string) int64 {
	n, err := parseSize(v)
	if err != nil {
		return 1<<63 - 1
	}
	return n
}
