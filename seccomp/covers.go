package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Covers reports whether the client's filter allows everything that ours
// allows: then the intersection of the two is ours, and the client's filter
// can be left out without loosening anything (and runc need not compile it
// on every start). When it is false, the client asked for something
// tighter in some place (a Kubernetes Localhost profile that blocks chmod,
// say), and both filters must be installed; seccomp stacks them and the
// stricter answer wins.
//
// The check is conservative: it may answer false for a client filter that
// does cover ours (the cost is only speed), never true for one that does
// not. A rule of ours is covered when a client ALLOW rule for the same
// syscall has only conditions that ours implies (equal ones; EQ v implies
// any condition v satisfies; a zero MASKED_EQ with a wider mask implies one
// with a narrower mask), or when the client names the syscall nowhere and
// allows by default. Any non-allowing client rule for a syscall we allow,
// a notify listener, or an action runh cannot reason about answers false.
func Covers(client, ours *specs.LinuxSeccomp) bool {
	if client == nil {
		return true
	}
	if client.ListenerPath != "" {
		return false
	}
	defaultAllows := allows(client.DefaultAction)
	rules := rulesByName(client)
	for _, r := range ours.Syscalls {
		if !allows(r.Action) {
			continue
		}
		for _, name := range r.Names {
			if !covered(rules[name], r.Args, defaultAllows) {
				return false
			}
		}
	}
	return true
}

// rulesByName indexes a profile's rules by the syscalls they name. It runs
// on every create whose client sent a profile (Docker's and containerd's
// name ~370 syscalls): pointers and a presized map, not a copy of the rule
// per name, take 48 KB off each such create (BenchmarkHarden).
func rulesByName(p *specs.LinuxSeccomp) map[string][]*specs.LinuxSyscall {
	n := 0
	for _, r := range p.Syscalls {
		n += len(r.Names)
	}
	rules := make(map[string][]*specs.LinuxSyscall, n)
	for i := range p.Syscalls {
		r := &p.Syscalls[i]
		for _, name := range r.Names {
			rules[name] = append(rules[name], r)
		}
	}
	return rules
}

func allows(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog
}

func covered(client []*specs.LinuxSyscall, ours []specs.LinuxSeccompArg, defaultAllows bool) bool {
	if len(client) == 0 {
		return defaultAllows
	}
	ok := false
	for _, c := range client {
		if !allows(c.Action) {
			return false // a client rule denies some calls of it
		}
		if impliesAll(ours, c.Args) {
			ok = true
		}
	}
	return ok
}

// impliesAll: every call that satisfies all of ours satisfies all of theirs.
func impliesAll(ours, theirs []specs.LinuxSeccompArg) bool {
	for _, t := range theirs {
		implied := false
		for _, o := range ours {
			if implies(o, t) {
				implied = true
				break
			}
		}
		if !implied {
			return false
		}
	}
	return true
}

func implies(o, t specs.LinuxSeccompArg) bool {
	if o.Index != t.Index {
		return false
	}
	if o == t {
		return true
	}
	switch o.Op {
	case specs.OpEqualTo:
		return satisfies(o.Value, t)
	case specs.OpMaskedEqual:
		// (x & mo) == 0 implies (x & mt) == 0 when mt is within mo.
		return t.Op == specs.OpMaskedEqual && o.ValueTwo == 0 && t.ValueTwo == 0 && t.Value&^o.Value == 0
	}
	return false
}

func satisfies(x uint64, c specs.LinuxSeccompArg) bool {
	switch c.Op {
	case specs.OpEqualTo:
		return x == c.Value
	case specs.OpNotEqual:
		return x != c.Value
	case specs.OpLessThan:
		return x < c.Value
	case specs.OpLessEqual:
		return x <= c.Value
	case specs.OpGreaterThan:
		return x > c.Value
	case specs.OpGreaterEqual:
		return x >= c.Value
	case specs.OpMaskedEqual:
		return x&c.Value == c.ValueTwo
	}
	return false
}

// Intersect returns ours without the allow rules the client's filter does
// not cover: a single profile no looser than either, for when the two
// cannot be stacked (no runh-init). It is conservative in the same way as
// Covers: a call both would allow may be denied, never the reverse.
func Intersect(client, ours *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *ours
	out.Syscalls = nil
	if client == nil {
		out.Syscalls = ours.Syscalls
		return &out
	}
	rules := rulesByName(client)
	for _, r := range ours.Syscalls {
		if !allows(r.Action) {
			out.Syscalls = append(out.Syscalls, r)
			continue
		}
		var names []string
		for _, n := range r.Names {
			if client.ListenerPath == "" && covered(rules[n], r.Args, allows(client.DefaultAction)) {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			r.Names = names
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	return &out
}
