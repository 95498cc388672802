package profiles

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/specjson"
	"github.com/runh-dev/runh/sandbox"
	"github.com/runh-dev/runh/seccomp"
)

func TestOrderBuiltins(t *testing.T) {
	r, e, c := Restricted(), Edge(), Compat()
	for _, tc := range []struct {
		a, b *Profile
		want bool
	}{
		{r, r, true}, {e, e, true}, {e, r, true}, {r, e, false},
		{r, c, true}, {c, r, false}, {c, c, true},
	} {
		if got, why := AtLeastAsStrict(tc.a, tc.b); got != tc.want {
			t.Errorf("AtLeastAsStrict(%s, %s) = %v (%s), want %v", tc.a.Name, tc.b.Name, got, why, tc.want)
		}
	}
}

// randomProfile is restricted with random parameters from small sets, so
// that many pairs are comparable.
func randomProfile(rng *rand.Rand, i int) *Profile {
	p := Restricted().clone(fmt.Sprintf("p%d", i))
	pol := &p.Policy
	pick := func(vals ...int64) int64 { return vals[rng.IntN(len(vals))] }
	pol.MemoryMax = pick(0, 128<<20, 256<<20, 512<<20)
	pol.MemoryDefault = min(pick(64<<20, 128<<20, 256<<20), pol.MemoryCeiling())
	pol.PidsMax = pick(0, 256, 4096)
	pol.PidsDefault = pick(64, 128, 256)
	if pol.PidsMax > 0 {
		pol.PidsDefault = min(pol.PidsDefault, pol.PidsMax)
	}
	pol.TmpfsSize = []string{"16m", "64m"}[rng.IntN(2)]
	pol.CapOnRequest = [][]string{nil, {"CAP_NET_BIND_SERVICE"}, {"CAP_NET_BIND_SERVICE", "CAP_KILL"}}[rng.IntN(3)]
	// The sample's own binds (resolv.conf, hosts) are under /tmp/clients.
	pol.BindSources = [][]string{nil, {"/tmp/clients"}, {"/tmp/clients/docker"}, {"/srv", "/tmp/clients"}}[rng.IntN(4)]
	if rng.IntN(2) == 0 {
		pol.SafeSysctls = append(slices.Clone(pol.SafeSysctls), "kernel.shmmax")
	}
	if rng.IntN(2) == 0 {
		pol.MaskedPaths = append(slices.Clone(pol.MaskedPaths), "/proc/cpuinfo")
	}
	if rng.IntN(2) == 0 {
		pol.Seccomp = seccomp.Without(pol.Seccomp, []string{[]string{"chmod", "socket", "clone"}[rng.IntN(3)]})
	}
	if rng.IntN(8) == 0 {
		pol.UID = 1000
	}
	return p
}

// TestOrderIsAPartialOrder: reflexive and transitive over random profiles.
func TestOrderIsAPartialOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ps := make([]*Profile, 40)
	for i := range ps {
		ps[i] = randomProfile(rng, i)
	}
	le := func(a, b *Profile) bool { ok, _ := AtLeastAsStrict(a, b); return ok }
	comparable := 0
	for _, a := range ps {
		if !le(a, a) {
			t.Fatalf("%s is not as strict as itself", a.Name)
		}
		for _, b := range ps {
			if a != b && le(a, b) {
				comparable++
			}
			for _, c := range ps {
				if le(a, b) && le(b, c) && !le(a, c) {
					_, why := AtLeastAsStrict(a, c)
					t.Fatalf("not transitive: %s <= %s <= %s but not %s <= %s: %s", a.Name, b.Name, c.Name, a.Name, c.Name, why)
				}
			}
		}
	}
	if comparable < 20 {
		t.Fatalf("only %d comparable pairs: the test says little", comparable)
	}
}

// TestOrderMeansTighter backs the order with what the rules do: for every
// comparable pair a <= b, each sample spec that a accepts, b accepts too,
// and a's result has limits no higher, capabilities no more and bind
// mounts no more than b's.
func TestOrderMeansTighter(t *testing.T) {
	data, err := os.ReadFile("../testdata/clients/docker-d37e1de02db5-config.json")
	if err != nil {
		t.Fatal(err)
	}
	host, err := sandbox.ProbeHost(t.TempDir(), "/run/runc")
	if err != nil {
		t.Fatal(err)
	}
	host.ResolveExe = func(string) string { return "/usr/sbin/dockerd" }
	host.StatNS = func(path string) (sandbox.NSID, error) { return sandbox.NSID{Dev: 1, Ino: 2}, nil }
	variants := []func(s *specs.Spec){
		func(s *specs.Spec) {},
		func(s *specs.Spec) {
			m, p := int64(1<<30), int64(100000)
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &m}
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &p}
		},
		func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_KILL", "CAP_NET_BIND_SERVICE")
			s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_KILL")
		},
		func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1024"} },
		func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind"}})
		},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ps := make([]*Profile, 16)
	for i := range ps {
		ps[i] = randomProfile(rng, i)
	}
	type result struct {
		s   *specs.Spec
		err error
	}
	run := func(p *Profile, v func(*specs.Spec)) result {
		s, err := specjson.DecodeSpec(data)
		if err != nil {
			t.Fatal(err)
		}
		v(s)
		env := &sandbox.Env{Policy: &p.Policy, Host: host}
		return result{s, p.Pipeline(sandbox.StopAtFirst, false).Run(env, s)}
	}
	checked := 0
	for _, a := range ps {
		for _, b := range ps {
			if ok, _ := AtLeastAsStrict(a, b); !ok || a == b {
				continue
			}
			for vi, v := range variants {
				ra, rb := run(a, v), run(b, v)
				if ra.err == nil && rb.err != nil {
					t.Fatalf("variant %d: %s <= %s, but only %s refuses it: %v", vi, a.Name, b.Name, b.Name, rb.err)
				}
				if ra.err != nil {
					if !errors.Is(ra.err, sandbox.ErrPolicyDenied) {
						t.Fatal(ra.err)
					}
					continue
				}
				checked++
				la, lb := ra.s.Linux.Resources, rb.s.Linux.Resources
				if *la.Memory.Limit > *lb.Memory.Limit || *la.Pids.Limit > *lb.Pids.Limit {
					t.Fatalf("variant %d: %s <= %s but its limits %d/%d are above %d/%d", vi, a.Name, b.Name,
						*la.Memory.Limit, *la.Pids.Limit, *lb.Memory.Limit, *lb.Pids.Limit)
				}
				for _, c := range ra.s.Process.Capabilities.Bounding {
					if !slices.Contains(rb.s.Process.Capabilities.Bounding, c) {
						t.Fatalf("variant %d: %s <= %s but keeps %s", vi, a.Name, b.Name, c)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d accepted comparisons: the test says little", checked)
	}
}
