package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrInvalidProfile is wrapped by every profile runh cannot resolve.
var ErrInvalidProfile = errors.New("invalid seccomp profile")

// goToLibseccomp maps GOARCH to libseccomp's architecture names, which the
// profile format's "arches" filters use.
var goToLibseccomp = map[string]string{
	"amd64": "amd64", "arm64": "arm64", "arm": "arm", "386": "x86",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}

// nativeArch maps GOARCH to the profile's architecture for it.
var nativeArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "arm64": specs.ArchAARCH64, "arm": specs.ArchARM, "386": specs.ArchX86,
	"ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X, "riscv64": specs.ArchRISCV64,
}

// Options say what a profile is resolved for.
type Options struct {
	// GOARCH is the architecture the container runs on.
	GOARCH string
	// Bounding is the container's final bounding capability set:
	// conditional rules are resolved after capabilities are settled.
	Bounding []string
	// Compat adds the architecture's 32-bit sub-architectures (x86 and x32
	// on x86-64, arm on arm64). Off by default: each listed architecture is
	// compiled on every container start, and compat syscalls are attack
	// surface most containers never use.
	Compat bool
	// Kernel is the host kernel as "major.minor", for minKernel filters.
	// Empty means the running kernel.
	Kernel string
}

// Resolve turns a profile in the Docker/Kubernetes format into the
// runtime-spec form for one architecture and capability set, applying the
// includes/excludes filters. The input is not modified.
func Resolve(p *mseccomp.Seccomp, o Options) (*specs.LinuxSeccomp, error) {
	native, ok := nativeArch[o.GOARCH]
	if !ok {
		return nil, fmt.Errorf("%w: architecture %q is not supported", ErrInvalidProfile, o.GOARCH)
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, fmt.Errorf("%w: both 'architectures' and 'archMap' are specified; use either", ErrInvalidProfile)
	}
	if len(p.LinuxSeccomp.Syscalls) != 0 {
		return nil, fmt.Errorf("%w: syscalls must be given in the profile format's 'syscalls' list", ErrInvalidProfile)
	}
	out := p.LinuxSeccomp
	out.Syscalls = nil
	out.Flags = slices.Clone(p.Flags)
	out.Architectures = slices.Clone(p.Architectures)
	if len(p.ArchMap) != 0 {
		for _, a := range p.ArchMap {
			if a.Arch == native {
				out.Architectures = append(out.Architectures, a.Arch)
				if o.Compat {
					out.Architectures = append(out.Architectures, a.SubArches...)
				}
			}
		}
		if len(out.Architectures) == 0 {
			return nil, fmt.Errorf("%w: archMap has no entry for %s", ErrInvalidProfile, native)
		}
	}
	kernel := o.Kernel
	if kernel == "" {
		var err error
		if kernel, err = runningKernel(); err != nil {
			return nil, err
		}
	}
	arch := goToLibseccomp[o.GOARCH]
	for i, call := range p.Syscalls {
		names := call.Names
		if call.Name != "" {
			if len(call.Names) != 0 {
				return nil, fmt.Errorf("%w: syscalls[%d]: both 'name' and 'names' are specified; use 'names'", ErrInvalidProfile, i)
			}
			names = []string{call.Name}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%w: syscalls[%d]: no names", ErrInvalidProfile, i)
		}
		if call.Includes != nil {
			in, err := matches(call.Includes, arch, o.Bounding, kernel, true)
			if err != nil {
				return nil, fmt.Errorf("%w: syscalls[%d]: %w", ErrInvalidProfile, i, err)
			}
			if !in {
				continue
			}
		}
		if call.Excludes != nil {
			ex, err := matches(call.Excludes, arch, o.Bounding, kernel, false)
			if err != nil {
				return nil, fmt.Errorf("%w: syscalls[%d]: %w", ErrInvalidProfile, i, err)
			}
			if ex {
				continue
			}
		}
		sc := call.LinuxSyscall
		sc.Names = slices.Clone(names)
		sc.Args = slices.Clone(call.Args)
		out.Syscalls = append(out.Syscalls, sc)
	}
	return &out, nil
}

// matches evaluates a filter. For includes every condition must hold; for
// excludes any one condition excludes.
func matches(f *mseccomp.Filter, arch string, caps []string, kernel string, all bool) (bool, error) {
	var results []bool
	if len(f.Arches) > 0 {
		results = append(results, slices.Contains(f.Arches, arch))
	}
	if len(f.Caps) > 0 {
		has := func(c string) bool { return slices.Contains(caps, c) }
		if all {
			results = append(results, !slices.ContainsFunc(f.Caps, func(c string) bool { return !has(c) }))
		} else {
			results = append(results, slices.ContainsFunc(f.Caps, has))
		}
	}
	if f.MinKernel != nil {
		ok, err := kernelAtLeast(kernel, *f.MinKernel)
		if err != nil {
			return false, err
		}
		results = append(results, ok)
	}
	if all {
		return !slices.Contains(results, false), nil
	}
	return slices.Contains(results, true), nil
}

func runningKernel() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

func kernelAtLeast(kernel string, min mseccomp.KernelVersion) (bool, error) {
	parts := strings.SplitN(kernel, ".", 3)
	if len(parts) < 2 {
		return false, fmt.Errorf("kernel version %q", kernel)
	}
	major, err1 := strconv.ParseUint(parts[0], 10, 64)
	minorStr := parts[1]
	if i := strings.IndexFunc(minorStr, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorStr = minorStr[:i]
	}
	minor, err2 := strconv.ParseUint(minorStr, 10, 64)
	if err1 != nil || err2 != nil {
		return false, fmt.Errorf("kernel version %q", kernel)
	}
	return major > min.Kernel || major == min.Kernel && minor >= min.Major, nil
}
