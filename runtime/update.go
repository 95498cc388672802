package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/sandbox"
)

// updateFlags are runc 1.5's update flags; all take a value.
var updateFlags = flagDefs{
	"resources": true, "blkio-weight": true, "cpu-period": true, "cpu-quota": true,
	"cpu-burst": true, "cpu-share": true, "cpu-rt-period": true, "cpu-rt-runtime": true,
	"cpuset-cpus": true, "cpuset-mems": true, "kernel-memory": true, "kernel-memory-tcp": true,
	"memory": true, "cpu-idle": true, "memory-reservation": true, "memory-swap": true,
	"pids-limit": true, "l3-cache-schema": true, "mem-bw-schema": true,
}

// update refuses an update that would remove the memory or pids limit or
// lift one above the profile's maximum. The checked resources reach runc
// in a sealed memfd, so the file cannot change between check and use.
func (c *call) update() int {
	a, err := parseCmd(c.inv.Args, updateFlags, map[string]string{"r": "resources"}, true)
	if err != nil {
		c.log.Error(err.Error())
		return 1
	}
	if a.help {
		return fail(c.log, execRunc(c.runc, c.inv.RuncArgs()))
	}
	if len(a.positional) != 1 {
		c.log.Error(fmt.Sprintf("%s: \"update\" requires exactly 1 argument, the container id", ErrUsage))
		return 1
	}
	var res *specs.LinuxResources
	if in := a.last("resources"); in != "" {
		if res, err = readResources(in); err != nil {
			return fail(c.log, err)
		}
	} else if res, err = resourcesFromFlags(a); err != nil {
		return fail(c.log, err)
	}
	if err := CheckUpdate(&c.profile.Policy, res); err != nil && c.profile.ReportOnly {
		c.log.Warn(fmt.Sprintf("profile %q (report only), would refuse: %v", c.profile.Name, err))
	} else if err != nil {
		var d *sandbox.Denial
		if errors.As(err, &d) {
			d.Profile = c.profile.Name
		}
		return c.denied(err)
	}
	args := append([]string{}, c.inv.GlobalArgs()...)
	args = append(args, "update")
	names := make([]string, 0, len(a.flags))
	for n := range a.flags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "resources" {
			continue
		}
		for _, v := range a.flags[n] {
			args = append(args, "--"+n+"="+v)
		}
	}
	if a.has("resources") {
		data, err := json.Marshal(res)
		if err != nil {
			return fail(c.log, err)
		}
		path, err := sealedFile("runh-resources", data, reservedFds(a))
		if err != nil {
			return fail(c.log, err)
		}
		args = append(args, "--resources="+path)
	}
	args = append(args, a.positional[0])
	return fail(c.log, execRunc(c.runc, args))
}

func readResources(in string) (*specs.LinuxResources, error) {
	var r io.Reader
	if in == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(in)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", sandbox.ErrInvalidConfig, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, sandbox.MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read resources: %w", sandbox.ErrInvalidConfig, err)
	}
	if len(data) > sandbox.MaxConfigSize {
		return nil, fmt.Errorf("%w: resources larger than %d bytes", sandbox.ErrInvalidConfig, sandbox.MaxConfigSize)
	}
	var res specs.LinuxResources
	if err := sandbox.DecodeStrict(data, &res); err != nil {
		return nil, fmt.Errorf("%w: resources: %w", sandbox.ErrInvalidConfig, err)
	}
	return &res, nil
}

// resourcesFromFlags reads the two limits runh guards from runc's flags,
// with runc's parsing: "-1" is unlimited, other values are sizes.
func resourcesFromFlags(a *cmdArgs) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	if v := a.last("memory"); v != "" {
		n := int64(-1)
		if v != "-1" {
			var err error
			if n, err = units.RAMInBytes(v); err != nil {
				return nil, fmt.Errorf("%w: invalid value for memory: %w", ErrUsage, err)
			}
		}
		res.Memory = &specs.LinuxMemory{Limit: &n}
	}
	if v := a.last("pids-limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid value for pids-limit: %w", ErrUsage, err)
		}
		res.Pids = &specs.LinuxPids{Limit: &n}
	}
	return res, nil
}

// CheckUpdate refuses resources that remove a limit or exceed the policy's
// maximum. Absent fields leave the current limit alone and pass. A memory
// limit of 0 means "unchanged" to runc and passes; a pids limit of 0 is
// refused, because older runtime-spec releases read it as unlimited.
func CheckUpdate(p *sandbox.Policy, r *specs.LinuxResources) error {
	deny := func(field, format string, args ...any) error {
		return &sandbox.Denial{Field: field, Rule: "cgroup-limits", Reason: fmt.Sprintf(format, args...),
			Hint: "set a finite limit within the profile's maximum (runh profile show); removing a limit is not allowed"}
	}
	if r.Memory != nil && r.Memory.Limit != nil {
		v := *r.Memory.Limit
		if v < 0 {
			return deny("memory.limit", "update would remove the memory limit (%d)", v)
		}
		if c := p.MemoryCeiling(); v > c {
			return deny("memory.limit", "memory limit %d is above the profile's maximum %d (the host's memory unless the profile sets one)", v, c)
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		v := *r.Pids.Limit
		if v <= 0 {
			return deny("pids.limit", "update would remove the pids limit (%d)", v)
		}
		if p.PidsMax > 0 && v > p.PidsMax {
			return deny("pids.limit", "pids limit %d is above the profile's maximum %d", v, p.PidsMax)
		}
	}
	return nil
}
