package seccomp

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FloorDenied are the syscalls no profile may allow, whatever an operator
// or a profile file says: new namespaces and mounts (the first step of
// most escapes, CVE-2022-0185), the keyring (not namespaced), bpf,
// ptrace and cross-process memory (CVE-2019-13272), kernel modules and
// kexec, handle-based opens (the "shocker" escape), perf events,
// userfaultfd and io_uring (kernel attack surface behind many CVEs), and
// host-wide clocks, swap, reboot and accounting.
var FloorDenied = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
	"finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "init_module", "io_uring_enter",
	"io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load",
	"keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
	"open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
	"process_vm_writev", "ptrace", "quotactl", "reboot", "request_key", "setns", "settimeofday",
	"stime", "swapoff", "swapon", "syslog", "umount", "umount2", "unshare", "uselib",
	"userfaultfd", "vhangup",
}

// allowedFlags are the filter flags a profile may ask for; not
// SECCOMP_FILTER_FLAG_SPEC_ALLOW, which turns off the kernel's Speculative
// Store Bypass mitigation for the workload.
var allowedFlags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagWaitKillableRecv}

// CheckFloor refuses a profile that could let a process out (runh's
// default passes it, a test says): one whose default action allows (or
// only logs) calls; that allows a syscall of FloorDenied, or clone3, under
// any condition, or clone without refusing every CLONE_NEW* flag (new
// namespaces, CVE-2022-0185); that names another architecture than this
// machine's (32-bit ABIs are an operator's choice, SeccompCompat, not a
// profile's); that asks for a filter flag other than log and
// wait-killable-recv; or that hands decisions to a notify listener.
func CheckFloor(p *mseccomp.Seccomp, goarch string) error {
	if p == nil {
		return fmt.Errorf("no seccomp profile (unconfined)")
	}
	if permissive(p.DefaultAction) {
		return fmt.Errorf("defaultAction %s lets every syscall through (unconfined): the default must refuse (SCMP_ACT_ERRNO, SCMP_ACT_KILL*, SCMP_ACT_TRAP)", p.DefaultAction)
	}
	for _, name := range slices.Sorted(maps.Keys(AllowedNames(p))) {
		if slices.Contains(FloorDenied, name) || name == "clone3" {
			return fmt.Errorf("it allows %s, which runh's floor denies in every profile", name)
		}
	}
	for _, sc := range p.Syscalls {
		if sc == nil || !permissive(sc.Action) {
			continue
		}
		// runc ORs conditions on the same argument (one rule each):
		// a second one would undo any other.
		seen := map[uint]bool{}
		for _, a := range sc.Args {
			if seen[a.Index] {
				return fmt.Errorf("a rule for %v has two conditions on argument %d, which runc applies as either-or", sc.Names, a.Index)
			}
			seen[a.Index] = true
		}
		if (slices.Contains(sc.Names, "clone") || sc.Name == "clone") && !refusesNewNamespaces(sc.Args) {
			return fmt.Errorf("it allows clone without refusing the CLONE_NEW* flags (want an args rule: index 0, SCMP_CMP_MASKED_EQ, value %#x, valueTwo 0)", cloneNewMask)
		}
	}
	native := nativeArch[goarch]
	for _, a := range p.Architectures {
		if a != native {
			return fmt.Errorf("architectures: %s is not this machine's (%s): a profile may not add other ABIs", a, native)
		}
	}
	for _, f := range p.Flags {
		if !slices.Contains(allowedFlags, f) {
			return fmt.Errorf("flags: %s is not allowed (only %v)", f, allowedFlags)
		}
	}
	if p.ListenerPath != "" {
		return fmt.Errorf("listenerPath: a notify listener would decide what the workload may do")
	}
	return nil
}

// refusesNewNamespaces: the args make clone fail whenever any CLONE_NEW*
// flag is set (flags & mask == 0, with mask covering them all).
func refusesNewNamespaces(args []specs.LinuxSeccompArg) bool {
	for _, a := range args {
		if a.Index == 0 && a.Op == specs.OpMaskedEqual && a.Value&cloneNewMask == cloneNewMask && a.ValueTwo&cloneNewMask == 0 {
			return true
		}
	}
	return false
}

func permissive(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog || a == "" || a == specs.ActNotify || a == specs.ActTrace
}

// AllowedNames is every syscall name a rule of p lets through under some
// condition (arguments, capabilities, architecture): an upper bound of
// what p allows, which is what a comparison of strictness needs.
func AllowedNames(p *mseccomp.Seccomp) map[string]bool {
	names := map[string]bool{}
	if p == nil {
		return names
	}
	for _, sc := range p.Syscalls {
		if sc == nil || !permissive(sc.Action) {
			continue
		}
		for _, n := range sc.Names {
			names[n] = true
		}
		if sc.Name != "" {
			names[sc.Name] = true
		}
	}
	return names
}

// Without returns a copy of p in which no rule allows any of names: they
// fall to p's default action (refused).
func Without(p *mseccomp.Seccomp, names []string) *mseccomp.Seccomp {
	out := *p
	out.Syscalls = nil
	for _, sc := range p.Syscalls {
		c := *sc
		if permissive(c.Action) {
			c.Names = slices.DeleteFunc(slices.Clone(c.Names), func(n string) bool { return slices.Contains(names, n) })
			if slices.Contains(names, c.Name) {
				c.Name = ""
			}
			if len(c.Names) == 0 && c.Name == "" {
				continue
			}
		}
		out.Syscalls = append(out.Syscalls, &c)
	}
	return &out
}

// AllowedRules maps every syscall name a rule of p lets through to the
// conditions it is allowed under (arguments, capabilities, architecture,
// as JSON; "" is unconditional), so two profiles can be compared rule by
// rule: a name allowed under a condition is not allowed under another.
func AllowedRules(p *mseccomp.Seccomp) map[string][]string {
	out := map[string][]string{}
	if p == nil {
		return out
	}
	for _, sc := range p.Syscalls {
		if sc == nil || !permissive(sc.Action) {
			continue
		}
		cond := ""
		if len(sc.Args) > 0 || sc.Includes != nil || sc.Excludes != nil {
			b, _ := json.Marshal(struct {
				Action   specs.LinuxSeccompAction
				Args     []specs.LinuxSeccompArg
				Includes *mseccomp.Filter
				Excludes *mseccomp.Filter
			}{sc.Action, sc.Args, sc.Includes, sc.Excludes})
			cond = string(b)
		}
		names := sc.Names
		if sc.Name != "" {
			names = append(slices.Clone(names), sc.Name)
		}
		for _, n := range names {
			if !slices.Contains(out[n], cond) {
				out[n] = append(out[n], cond)
			}
		}
	}
	return out
}
