package runtime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestHostID(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 65536}, {ContainerID: 70000, HostID: 200000, Size: 10}}
	for _, c := range []struct {
		id     uint32
		userNS bool
		want   uint32
		err    bool
	}{
		{65534, false, 65534, false}, // no user namespace: the host's ids
		{65534, true, 66534, false},  // a Kubernetes userns pod: 0 -> 1000
		{70005, true, 200005, false},
		{65536, true, 0, true}, // not mapped: verification must fail
	} {
		got, err := hostID(c.id, maps, c.userNS)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("hostID(%d, userns=%v) = %d, %v; want %d, error %v", c.id, c.userNS, got, err, c.want, c.err)
		}
	}
}
