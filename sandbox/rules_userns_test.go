package sandbox

import (
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakePool hands out ranges from 2^30 (slot 0 is the volume range).
type fakePool struct {
	next  uint32
	mine  map[uint32]bool
	held  map[uint32]bool
	empty bool
}

const fakeBase = 1 << 30

func (f *fakePool) Allocate() (uint32, error) {
	if f.empty {
		return 0, errors.New("pool exhausted")
	}
	f.next++
	b := fakeBase + f.next*IDRangeSize
	f.mine[b], f.held[b] = true, true
	return b, nil
}
func (f *fakePool) Join(b uint32) error {
	if !f.held[b] {
		return errors.New("no live container")
	}
	f.mine[b] = true
	return nil
}
func (f *fakePool) Mine(b uint32) bool { return f.mine[b] }
func (f *fakePool) Contains(start, size uint64) bool {
	return start < fakeBase+1024*IDRangeSize && start+size > fakeBase
}
func (f *fakePool) VolumeBase() uint32 { return fakeBase }

func usernsEnv(t *testing.T, pool *fakePool, sandbox ProcUserNS) *Env {
	e := testEnv(t)
	e.Policy.UserNS = true
	e.Host.IDs = pool
	e.Host.ReadProcUserNS = func(pid int) (ProcUserNS, error) {
		if pid != 4242 {
			return ProcUserNS{}, errors.New("no such process")
		}
		return sandbox, nil
	}
	return e
}

func TestRuleUserNamespace(t *testing.T) {
	sbRange := uint32(fakeBase + 7*IDRangeSize)
	podSandbox := ProcUserNS{NS: NSID{Dev: 4, Ino: 99}, UID: rangeMapping(sbRange), GID: rangeMapping(sbRange)}
	joinsPod := func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.IPCNamespace {
				s.Linux.Namespaces[i].Path = "/proc/4242/ns/ipc"
			}
		}
	}
	userns := func(path string, m []specs.LinuxIDMapping) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: path})
			s.Linux.UIDMappings, s.Linux.GIDMappings = m, slices.Clone(m)
		}
	}
	kubelet := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 65536 * 3, Size: 65536}}
	for _, tc := range []struct {
		name      string
		mutate    func(*specs.Spec)
		held      bool // the sandbox's range is a live runh container's
		noPool    bool
		wantDeny  string // field
		wantRange uint32
		wantPath  string
	}{
		{name: "fresh range for a plain container", wantRange: fakeBase + IDRangeSize},
		{name: "joins the pod sandbox's user namespace", mutate: joinsPod, held: true, wantRange: sbRange, wantPath: "/proc/4242/ns/user"},
		{name: "sandbox range not runh's: own range", mutate: joinsPod, held: false, wantRange: fakeBase + IDRangeSize},
		{name: "kubelet mapping kept", mutate: userns("", kubelet), wantRange: 65536 * 3},
		{name: "kubelet-style join kept", mutate: userns("/proc/4242/ns/user", kubelet), wantRange: 65536 * 3, wantPath: "/proc/4242/ns/user"},
		{name: "client mapping into the pool refused", mutate: userns("", rangeMapping(sbRange)), held: true, wantDeny: "linux.uidMappings"},
		{name: "client join of a pool range that is no live container's refused", mutate: userns("/proc/4242/ns/user", rangeMapping(sbRange)), wantDeny: "linux.uidMappings"},
		{name: "client join of a live pool range kept", mutate: userns("/proc/4242/ns/user", rangeMapping(sbRange)), held: true, wantRange: sbRange, wantPath: "/proc/4242/ns/user"},
		{name: "partial overlap with the pool refused", mutate: userns("", []specs.LinuxIDMapping{{ContainerID: 0, HostID: fakeBase - 10, Size: 65536}}), wantDeny: "linux.uidMappings"},
		{name: "user namespace without mappings refused", mutate: userns("/proc/4242/ns/user", nil), wantDeny: "linux.namespaces[6]"},
		{name: "mappings without a user namespace refused", mutate: func(s *specs.Spec) { s.Linux.UIDMappings = kubelet }, wantDeny: "linux.uidMappings"},
		{name: "no pool refused", noPool: true, wantDeny: "linux.namespaces"},
		{name: "client idmapped bind refused", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: fakeBase + IDRangeSize, Size: 65536}}})
		}, wantDeny: "mounts[5].uidMappings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &fakePool{mine: map[uint32]bool{}, held: map[uint32]bool{sbRange: tc.held}}
			s := baseSpec()
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/srv", Type: "bind", Source: "/srv", Options: []string{"rbind"}})
			if tc.mutate != nil {
				tc.mutate(s)
			}
			e := usernsEnv(t, pool, podSandbox)
			if tc.noPool {
				e.Host.IDs = nil
			}
			err := RuleUserNamespace.Apply(e, s)
			if tc.wantDeny != "" {
				var d *Denial
				if !errors.As(err, &d) || d.Field != tc.wantDeny {
					t.Fatalf("want a denial of %s, got %v", tc.wantDeny, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
			if i < 0 || s.Linux.Namespaces[i].Path != tc.wantPath {
				t.Fatalf("namespaces %+v, want a user namespace at %q", s.Linux.Namespaces, tc.wantPath)
			}
			if h, ok := HostID(0, s.Linux.UIDMappings); !ok || h != tc.wantRange {
				t.Fatalf("uid 0 is host %d (%v), want %d", h, ok, tc.wantRange)
			}
			// Idempotent on its own output, without a second range.
			e2 := usernsEnv(t, pool, podSandbox)
			before := pool.next
			if err := RuleUserNamespace.Apply(e2, s); err != nil || len(e2.Changes) != 0 || pool.next != before {
				t.Fatalf("second apply: %v, changes %v, allocations %d -> %d", err, e2.Changes, before, pool.next)
			}
			// Runh's own mapping idmaps the bind mount onto the volume
			// range; a client mapping leaves mounts to the client.
			bind := s.Mounts[4]
			if e.UserNSBase != 0 {
				want := []specs.LinuxIDMapping{{ContainerID: fakeBase, HostID: tc.wantRange, Size: IDRangeSize}}
				if !slices.Equal(bind.UIDMappings, want) || !slices.Equal(bind.GIDMappings, want) {
					t.Fatalf("bind mount mappings %v %v, want %v", bind.UIDMappings, bind.GIDMappings, want)
				}
				// And the floor accepts what runh wrote.
				if err := RuleIDMappings.Apply(e, s); err != nil {
					t.Fatalf("id-mappings on runh's output: %v", err)
				}
			} else if len(bind.UIDMappings) != 0 {
				t.Fatalf("client mapping, yet the bind mount was idmapped: %v", bind.UIDMappings)
			}
		})
	}
	t.Run("pool exhausted refuses", func(t *testing.T) {
		e := usernsEnv(t, &fakePool{empty: true, mine: map[uint32]bool{}, held: map[uint32]bool{}}, podSandbox)
		if err := RuleUserNamespace.Apply(e, baseSpec()); !errors.Is(err, ErrPolicyDenied) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("restricted is untouched", func(t *testing.T) {
		e := testEnv(t)
		s := baseSpec()
		if err := RuleUserNamespace.Apply(e, s); err != nil || hasNamespace(s.Linux, specs.UserNamespace) {
			t.Fatalf("%v %v", err, s.Linux.Namespaces)
		}
	})
}

func TestRuleUserKeepsRootInUserNS(t *testing.T) {
	e := usernsEnv(t, &fakePool{mine: map[uint32]bool{}, held: map[uint32]bool{}}, ProcUserNS{})
	s := baseSpec()
	s.Process.User.AdditionalGids = []uint32{0}
	if err := RuleUserNamespace.Apply(e, s); err != nil {
		t.Fatal(err)
	}
	if err := RuleUser.Apply(e, s); err != nil {
		t.Fatal(err)
	}
	if u := s.Process.User; u.UID != 0 || u.GID != 0 || !slices.Equal(u.AdditionalGids, []uint32{0}) {
		t.Fatalf("root inside a runh user namespace should stay root: %+v", u)
	}
	// The same profile without a user namespace (a bug elsewhere) still
	// rewrites root.
	s = baseSpec()
	if err := RuleUser.Apply(e, s); err != nil || s.Process.User.UID != 65534 {
		t.Fatalf("no user namespace: %v %+v", err, s.Process.User)
	}
}

func TestCheckUserNamespace(t *testing.T) {
	base := uint32(fakeBase + IDRangeSize)
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		field  string
	}{
		{name: "root inside a pool range passes"},
		{name: "no user namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		}, field: "linux.namespaces"},
		{name: "no mappings", mutate: func(s *specs.Spec) { s.Linux.GIDMappings = nil }, field: "linux.namespaces"},
		{name: "inotify limit missing", mutate: func(s *specs.Spec) { delete(s.Linux.Sysctl, "user.max_inotify_instances") }, field: "linux.sysctl.user.max_inotify_instances"},
		{name: "inotify limit raised", mutate: func(s *specs.Spec) { s.Linux.Sysctl["user.max_inotify_watches"] = "99999999" }, field: "linux.sysctl.user.max_inotify_watches"},
		{name: "unmapped uid", mutate: func(s *specs.Spec) { s.Process.User.UID = 70000 }, field: "process.user.uid"},
		{name: "group onto host root", mutate: func(s *specs.Spec) {
			s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 70000, HostID: 0, Size: 1})
			s.Process.User.AdditionalGids = []uint32{70000}
		}, field: "process.user.additionalGids"},
		{name: "uid below the floor", mutate: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 65536}}
		}, field: "process.user.uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec()
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings, s.Linux.GIDMappings = rangeMapping(base), rangeMapping(base)
			s.Linux.Sysctl = map[string]string{"user.max_inotify_instances": "32", "user.max_inotify_watches": "100"}
			if tc.mutate != nil {
				tc.mutate(s)
			}
			err := CheckUserNamespace.Verify(testEnv(t), s)
			var d *Denial
			if tc.field == "" && err != nil || tc.field != "" && (!errors.As(err, &d) || d.Field != tc.field) {
				t.Fatalf("got %v, want denial of %q", err, tc.field)
			}
		})
	}
}

func TestParseIDMap(t *testing.T) {
	m, err := ParseIDMap("         0 1073807360      65536\n")
	if err != nil || len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 1073807360, Size: 65536}) {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := ParseIDMap("0 1"); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestClampPingGroupRange(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0 2147483647", "0 65535"},
		{"1 1", "1 1"},
		{"100000 200000", ""},
		{"bad", "bad"},
	} {
		e := testEnv(t)
		l := &specs.Linux{Sysctl: map[string]string{"net.ipv4.ping_group_range": tc.in}}
		clampPingGroupRange(e, l)
		if got := l.Sysctl["net.ipv4.ping_group_range"]; got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestIDMappingsReservePool: under any other profile, a mapping (of the
// user namespace or of an idmapped mount, either column) onto runh's pool
// is refused; the userns profile's own volume idmapping passes.
func TestIDMappingsReservePool(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		field  string
	}{
		{"user namespace onto the volume range", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1}, {ContainerID: 1, HostID: fakeBase, Size: 65535}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		}, "linux.uidMappings[1]"},
		{"user namespace onto a container range", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 1, HostID: fakeBase + IDRangeSize, Size: 1}}
		}, "linux.gidMappings[0]"},
		{"mount onto pool ids", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/v", Type: "bind", Source: "/srv", UIDMappings: []specs.LinuxIDMapping{{ContainerID: 200000, HostID: fakeBase + 5, Size: 1}}})
		}, "mounts[4].uidMappings[0]"},
		{"mount of on-disk volume ids", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/v", Type: "bind", Source: "/srv", GIDMappings: []specs.LinuxIDMapping{{ContainerID: fakeBase, HostID: 300000, Size: 10}}})
		}, "mounts[4].gidMappings[0]"},
		{"outside the pool passes", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnv(t)
			e.Host.IDs = &fakePool{mine: map[uint32]bool{}, held: map[uint32]bool{}}
			s := baseSpec()
			tc.mutate(s)
			err := RuleIDMappings.Apply(e, s)
			var d *Denial
			if tc.field == "" && err != nil || tc.field != "" && (!errors.As(err, &d) || d.Field != tc.field) {
				t.Fatalf("got %v, want a denial of %q", err, tc.field)
			}
		})
	}
}
