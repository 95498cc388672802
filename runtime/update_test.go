package runtime

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/sandbox"
)

func TestCheckUpdate(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	pol := &sandbox.Policy{PidsMax: 4096}
	cases := []struct {
		name string
		res  specs.LinuxResources
		deny bool
	}{
		{"cpu only", specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: new(uint64)}}, false},
		{"memory lowered", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(64 << 20)}}, false},
		{"memory unchanged (0)", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(0)}}, false},
		{"memory unlimited", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(-1)}}, true},
		{"pids within", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i(100)}}, false},
		{"pids unlimited", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i(-1)}}, true},
		{"pids zero", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i(0)}}, true},
		{"pids above max", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i(5000)}}, true},
		{"memory above the host", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(4 << 60)}}, true},
		{"realtime runtime", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i(950000)}}, true},
		{"unified memory.max", specs.LinuxResources{Unified: map[string]string{"memory.max": "max"}}, true},
		{"unified cpu.weight", specs.LinuxResources{Unified: map[string]string{"cpu.weight": "100"}}, false},
	}
	for _, tc := range cases {
		err := sandbox.CheckUpdate(pol, &tc.res)
		if got := errors.Is(err, sandbox.ErrPolicyDenied); got != tc.deny {
			t.Errorf("%s: denied=%v, want %v (%v)", tc.name, got, tc.deny, err)
		}
	}
}

func TestResourcesFromFlags(t *testing.T) {
	if a, _ := parseCmd([]string{"--cpu-rt-runtime", "950000", "ctr"}, updateFlags, nil, true); a != nil {
		if r, err := resourcesFromFlags(a); err != nil || r.CPU == nil || *r.CPU.RealtimeRuntime != 950000 {
			t.Fatalf("cpu-rt-runtime: %+v %v", r, err)
		}
	}
	if a, _ := parseCmd([]string{"--l3-cache-schema", "L3:0=f", "ctr"}, updateFlags, nil, true); a != nil {
		if _, err := resourcesFromFlags(a); !errors.Is(err, sandbox.ErrPolicyDenied) {
			t.Fatalf("l3-cache-schema: %v", err)
		}
	}
	a, _ := parseCmd([]string{"--memory", "-1", "--pids-limit", "20", "ctr"}, updateFlags, nil, true)
	r, err := resourcesFromFlags(a)
	if err != nil || *r.Memory.Limit != -1 || *r.Pids.Limit != 20 {
		t.Fatalf("%+v %v", r, err)
	}
	a, _ = parseCmd([]string{"--memory", "512m", "ctr"}, updateFlags, nil, true)
	if r, err = resourcesFromFlags(a); err != nil || *r.Memory.Limit != 512<<20 {
		t.Fatalf("%+v %v", r, err)
	}
}
