package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

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
	id := a.positional[0]
	d := &decision{op: "update", id: id}
	// A container runh created is judged by its own profile (a
	// runh.io/memory annotation lowered its maximum), in any mode; others
	// by the handler's.
	ann, err := c.requireRunhContainer(id)
	if err != nil && !errors.Is(err, errNoContainer) && !isNotOurs(err) {
		d.err = err
		c.record(d)
		return c.refuse(err)
	}
	d.annotations = ann
	start := time.Now()
	// The flags are judged even with --resources: runc applies some of
	// them on top of the file.
	fromFlags, err := resourcesFromFlags(a)
	if err == nil {
		err = sandbox.CheckUpdate(&c.profile.Policy, fromFlags)
	}
	res := fromFlags
	if in := a.last("resources"); in != "" && err == nil {
		if res, err = readResources(in); err != nil && !errors.Is(err, sandbox.ErrPolicyDenied) {
			return fail(c.log, err)
		}
	}
	if err == nil {
		err = sandbox.CheckUpdate(&c.profile.Policy, res)
	}
	d.harden = time.Since(start)
	var den *sandbox.Denial
	if errors.As(err, &den) {
		den.Profile = c.profile.Name
	}
	d.err = err
	if rerr := c.record(d); rerr != nil && err == nil {
		return fail(c.log, rerr)
	}
	if err != nil && c.auditMode() {
		c.log.Warn(fmt.Sprintf("profile %q (report only), would refuse: %v", c.profile.Name, err))
	} else if err != nil {
		return c.denied(err)
	}
	args := append([]string{}, c.inv.GlobalArgs()...)
	args = append(args, "update")
	for _, n := range sortedFlags(a.flags) {
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
	args = append(args, id)
	return fail(c.log, execRunc(c.runc, args))
}

func readResources(in string) (*specs.LinuxResources, error) {
	if in == "-" {
		return sandbox.LoadResources(os.Stdin, "resources on stdin")
	}
	f, err := os.Open(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sandbox.ErrInvalidConfig, err)
	}
	defer f.Close()
	return sandbox.LoadResources(f, in)
}

// resourcesFromFlags reads what runh judges from runc's flags, with runc's
// parsing: the memory and pids limits ("-1" is unlimited, other values are
// sizes), realtime CPU time, and Intel RDT schemata.
func resourcesFromFlags(a *cmdArgs) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	for _, f := range []string{"cpu-rt-period", "cpu-rt-runtime"} {
		if v := a.last(f); v != "" && v != "0" {
			if res.CPU == nil {
				res.CPU = &specs.LinuxCPU{}
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: invalid value for %s: %w", ErrUsage, f, err)
			}
			if f == "cpu-rt-runtime" {
				res.CPU.RealtimeRuntime = &n
			} else {
				u := uint64(n)
				res.CPU.RealtimePeriod = &u
			}
		}
	}
	if a.last("l3-cache-schema") != "" || a.last("mem-bw-schema") != "" {
		return nil, &sandbox.Denial{Field: "--l3-cache-schema/--mem-bw-schema", Rule: "spec-surface",
			Reason: "Intel RDT schemata are refused: they reserve cache and memory bandwidth on the host for one container"}
	}
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
