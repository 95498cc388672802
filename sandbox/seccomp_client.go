package sandbox

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuleSeccompClientProfile refuses a client seccomp profile that could
// keep runh-init from installing runh's filter while it looks installed.
// A client profile that denies something runh's allows is kept and runc
// installs it first; runh-init then stacks runh's filter with seccomp(2)
// (RuleSeccomp). If the client's profile answers seccomp(2) with
// SCMP_ACT_ERRNO and errnoRet 0, the call "succeeds" and installs nothing:
// verification from outside sees Seccomp: 2 (the client's filter) and
// everything runh's filter denies (unshare, mount, keyctl, bpf, ...) is
// reachable. The same goes for a notify agent or a tracer answering for
// the kernel, and for prctl(2), the older way to install a filter.
//
// So: seccomp and prctl may only be allowed (SCMP_ACT_ALLOW or
// SCMP_ACT_LOG, with or without argument conditions); the calls runh-init
// reads its proof with (open, openat, openat2, read) may be denied but not
// faked (errno 0, notify, trace); and the default action may not fake
// either. A denylist profile (default allow) that names none of these is
// fine, as are Docker's, containerd's, Podman's and Kubernetes'
// RuntimeDefault profiles, which allow seccomp and prctl. It runs before
// RuleSeccomp and on every path, so a profile means the same whether or
// not runh-init is installed; runh-init proves its filter loaded anyway
// (seccomp/init/runh-init.c).
var RuleSeccompClientProfile = Rule{
	Name: "seccomp-client-profile",
	Doc:  "a client seccomp profile may only allow seccomp(2) and prctl(2), and may not fake the result (errno 0, notify, trace) of the calls runh-init relies on",
	Hint: "drop the profile's rules for seccomp and prctl (or make them SCMP_ACT_ALLOW) and give errno-0, notify and trace actions neither the default nor open/openat/openat2/read: runh must be able to install its own filter",
	Apply: func(e *Env, s *specs.Spec) error {
		if s.Linux == nil || s.Linux.Seccomp == nil {
			return nil
		}
		return checkClientProfile(s.Linux.Seccomp)
	},
}

// installSyscalls install a seccomp filter; runh-init uses seccomp(2).
var installSyscalls = []string{"seccomp", "prctl"}

// proofSyscalls are the calls runh-init reads /proc/self/status and the
// filter with: their results are its proof that the filter loaded.
var proofSyscalls = []string{"open", "openat", "openat2", "read"}

// allowing reports whether action lets the call through to the kernel.
func allowing(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog
}

// faking reports whether an action can make a call look like it succeeded
// without the kernel running it: errno 0 returns 0; a notify agent (the
// listener socket is the client's choice) and a tracer choose the result,
// and an agent can even install a file descriptor.
func faking(a specs.LinuxSeccompAction, errnoRet *uint) bool {
	switch a {
	case specs.ActErrno:
		return errnoRet != nil && *errnoRet == 0
	case specs.ActNotify, specs.ActTrace:
		return true
	}
	return false
}

// checkClientProfile is RuleSeccompClientProfile's test, also run by
// CheckSeccomp on a client profile kept beside runh-init.
func checkClientProfile(sc *specs.LinuxSeccomp) error {
	if faking(sc.DefaultAction, sc.DefaultErrnoRet) {
		return deny("linux.seccomp.defaultAction", "default action %s%s would answer seccomp(2) for the kernel: runh must be able to install its own filter",
			sc.DefaultAction, errnoSuffix(sc.DefaultAction, sc.DefaultErrnoRet))
	}
	for i, r := range sc.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		for _, name := range r.Names {
			switch {
			case slices.Contains(installSyscalls, name) && !allowing(r.Action):
				return deny(field, "%s answered with %s%s: runh must be able to install its own filter, only SCMP_ACT_ALLOW or SCMP_ACT_LOG may name %s",
					name, r.Action, errnoSuffix(r.Action, r.ErrnoRet), name)
			case slices.Contains(proofSyscalls, name) && faking(r.Action, r.ErrnoRet):
				return deny(field, "%s answered with %s%s, which fakes its result: runh must be able to install its own filter and prove it loaded",
					name, r.Action, errnoSuffix(r.Action, r.ErrnoRet))
			}
		}
	}
	return nil
}

func errnoSuffix(a specs.LinuxSeccompAction, errnoRet *uint) string {
	if a == specs.ActErrno && errnoRet != nil {
		return fmt.Sprintf(" (errnoRet %d)", *errnoRet)
	}
	return ""
}
