package sandbox

import (
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CheckUpdate judges the resources of a `runc update` by the floor that
// create enforced: no removing or lifting the memory and pids limits past
// the profile's maximum (rule cgroup-limits), and the same classification
// of every resources field (spec-surface: realtime CPU time refused) and
// of cgroup v2 files (cgroup-unified) as at create. Absent fields leave
// the current values alone and pass. A memory limit of 0 means
// "unchanged" to runc and passes; a pids limit of 0 is refused, because
// older runtime-spec releases read it as unlimited.
func CheckUpdate(p *Policy, r *specs.LinuxResources) error {
	limitDeny := func(field, format string, args ...any) error {
		return &Denial{Field: field, Rule: RuleCgroupLimits.Name, Reason: fmt.Sprintf(format, args...),
			Hint: "set a finite limit within the profile's maximum (runh profile show); removing a limit is not allowed"}
	}
	if r.Memory != nil && r.Memory.Limit != nil {
		v := *r.Memory.Limit
		if v < 0 {
			return limitDeny("memory.limit", "update would remove the memory limit (%d)", v)
		}
		if c := p.MemoryCeiling(); v > c {
			return limitDeny("memory.limit", "memory limit %d is above the profile's maximum %d (the host's memory unless the profile sets one)", v, c)
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		v := *r.Pids.Limit
		if v <= 0 {
			return limitDeny("pids.limit", "update would remove the pids limit (%d)", v)
		}
		if p.PidsMax > 0 && v > p.PidsMax {
			return limitDeny("pids.limit", "pids limit %d is above the profile's maximum %d", v, p.PidsMax)
		}
	}
	s := &specs.Spec{Linux: &specs.Linux{Resources: r}}
	env := &Env{Policy: p}
	for _, rule := range []Rule{RuleSpecSurface, RuleCgroupUnified} {
		if err := rule.Apply(env, s); err != nil {
			if d, ok := err.(*Denial); ok && d.Rule == "" {
				d.Rule = rule.Name
			}
			return err
		}
	}
	return nil
}

// LoadResources reads and strictly decodes the resources of a `runc
// update` from r, bounded like config.json.
func LoadResources(r io.Reader, name string) (*specs.LinuxResources, error) {
	data, err := readBoundedFrom(r, name)
	if err != nil {
		return nil, err
	}
	var res specs.LinuxResources
	if err := DecodeStrict(data, &res); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, name, err)
	}
	return &res, nil
}
