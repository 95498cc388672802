package sandbox

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Rule is one hardening control: a small function that tightens the spec or
// refuses it with a *Denial. Process rules touch only spec.Process, so they
// also harden the processes of `runc exec`.
type Rule struct {
	Name    string
	Doc     string
	Hint    string
	Process bool
	Apply   func(*Env, *specs.Spec) error
}

// Check is one invariant over a final spec. Checks never change the spec:
// they catch a rule that failed to do its job, so a bug in a rule can never
// produce a weaker container.
type Check struct {
	Name    string
	Doc     string
	Process bool
	Verify  func(*Env, *specs.Spec) error
}

// checkHint explains a failed invariant check: the rules should have made
// the spec pass, so a failure is runh's bug, and the container is refused
// rather than run weaker.
const checkHint = "a hardening rule left the spec weaker than the profile allows; the container was refused to stay safe. Please report this with the output of `runh check`"

// Mode says whether a run stops at the first denial (create, exec) or
// collects all of them (runh check).
type Mode int

const (
	StopAtFirst Mode = iota
	CollectAll
)

// Pipeline is one hardening run: a profile's rules, in order, then its
// checks. With ProcessOnly, only process rules and checks run (runc exec).
type Pipeline struct {
	Profile     string
	Rules       []Rule
	Checks      []Check
	Mode        Mode
	ProcessOnly bool
}

// Run applies the rules in order, then runs every check. It returns the
// denials as *Denial (StopAtFirst) or Denials (CollectAll), each naming
// the profile.
func (pl Pipeline) Run(env *Env, s *specs.Spec) error {
	profile, rules, checks, mode, processOnly := pl.Profile, pl.Rules, pl.Checks, pl.Mode, pl.ProcessOnly
	var all Denials
	record := func(name, hint string, err error) error {
		var d *Denial
		if !errors.As(err, &d) {
			// Not a policy decision (e.g. an unreadable path): still a
			// refusal, because hardening that cannot be applied must stop
			// the container.
			d = &Denial{Field: "spec", Reason: err.Error()}
		}
		d.Profile = profile
		if d.Rule == "" {
			d.Rule = name
		}
		if d.Hint == "" {
			d.Hint = hint
		}
		if mode == StopAtFirst {
			return d
		}
		all = append(all, d)
		return nil
	}
	for _, r := range rules {
		if processOnly && !r.Process {
			continue
		}
		env.rule = r.Name
		if err := r.Apply(env, s); err != nil {
			if err := record(r.Name, r.Hint, err); err != nil {
				return err
			}
		}
	}
	env.rule = ""
	if len(all) == 0 {
		// Checks judge the final spec; after a denial there is no final
		// spec to judge, and their failures would only repeat the denial.
		for _, c := range checks {
			if processOnly && !c.Process {
				continue
			}
			if err := c.Verify(env, s); err != nil {
				if err := record(c.Name, checkHint, err); err != nil {
					return err
				}
			}
		}
	}
	if len(all) > 0 {
		return all
	}
	return nil
}

// Nil-safe accessors, in the spirit of containerd's setProcess/setLinux: no
// rule panics on a partial spec.

func ensureLinux(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	return s.Linux
}

func ensureResources(s *specs.Spec) *specs.LinuxResources {
	l := ensureLinux(s)
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}

func needProcess(s *specs.Spec) (*specs.Process, error) {
	if s.Process == nil {
		return nil, deny("process", "a process is required so its user and capabilities can be hardened")
	}
	return s.Process, nil
}
