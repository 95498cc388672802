package sandbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	mseccomp "github.com/moby/profiles/seccomp"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64 { return &v }

// testPolicy mirrors the restricted profile's shape without importing it
// (profiles imports sandbox).
func testPolicy() *Policy {
	return &Policy{
		UID: 65534, GID: 65534,
		CapOnRequest:  []string{"CAP_NET_BIND_SERVICE"},
		MemoryDefault: 256 << 20, PidsDefault: 512, PidsMax: 4096,
		TmpfsSize:     "64m",
		Seccomp:       seccomp.Default(),
		HookAllow:     []HookRule{{Exe: "/usr/bin/dockerd", Args: []string{"libnetwork-setkey", "-exec-root=<path>", "<hex64>", "<hex12>"}}},
		SafeSysctls:   []string{"kernel.shm_rmid_forced"},
		MaskedPaths:   []string{"/proc/kcore", "/proc/kallsyms"},
		ReadonlyPaths: []string{"/proc/sys"},
	}
}

// baseSpec is what `runc spec` writes, root in a fresh bundle.
func baseSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.3.0",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0}, Args: []string{"sh"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "rw"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"}},
		},
	}
}

func testEnv(t *testing.T) *Env {
	t.Helper()
	bundle := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs", "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	host, err := ProbeHost(bundle, "/run/runc")
	if err != nil {
		t.Fatal(err)
	}
	host.RlimitHard = map[string]uint64{"RLIMIT_NOFILE": 20000}
	return &Env{Policy: testPolicy(), Host: host}
}

type ruleCase struct {
	name     string
	mutate   func(*specs.Spec)
	wantDeny bool
	check    func(*testing.T, *specs.Spec)
}

func runRuleCases(t *testing.T, r Rule, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := baseSpec()
			if tc.mutate != nil {
				tc.mutate(s)
			}
			e := testEnv(t)
			err := r.Apply(e, s)
			if tc.wantDeny {
				if !errors.Is(err, ErrPolicyDenied) {
					t.Fatalf("want denial, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
			// Every rule is idempotent on its own output.
			e2 := testEnv(t)
			if err := r.Apply(e2, s); err != nil || len(e2.Changes) != 0 {
				t.Fatalf("second apply: err %v, changes %v", err, e2.Changes)
			}
		})
	}
}

func TestRuleUser(t *testing.T) {
	runRuleCases(t, RuleUser, []ruleCase{
		{name: "root becomes nobody", check: func(t *testing.T, s *specs.Spec) {
			if s.Process.User.UID != 65534 || s.Process.User.GID != 65534 {
				t.Fatalf("user %+v", s.Process.User)
			}
		}},
		{name: "non-root uid kept, gid 0 replaced", mutate: func(s *specs.Spec) { s.Process.User.UID = 1000 }, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.User.UID != 1000 || s.Process.User.GID != 65534 {
				t.Fatalf("user %+v", s.Process.User)
			}
		}},
		{name: "gid 0 leaves additionalGids", mutate: func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{0, 10, 0} }, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.User.AdditionalGids, []uint32{10}) {
				t.Fatalf("groups %v", s.Process.User.AdditionalGids)
			}
		}},
		{name: "unmapped in user namespace is refused", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
		}},
		{name: "mapped in user namespace passes", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}},
		{name: "no process is refused", wantDeny: true, mutate: func(s *specs.Spec) { s.Process = nil }},
	})
}

func TestRuleCapabilities(t *testing.T) {
	all := []string{"CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_CHOWN"}
	runRuleCases(t, RuleCapabilities, []ruleCase{
		{name: "only requested NET_BIND_SERVICE survives", check: func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities
			for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
				if !slices.Equal(set, []string{"CAP_NET_BIND_SERVICE"}) {
					t.Fatalf("set %v", set)
				}
			}
		}},
		{name: "all five sets intersected", mutate: func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all}
		}, check: func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities
			for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
				if !slices.Equal(set, []string{"CAP_NET_BIND_SERVICE"}) {
					t.Fatalf("set %v", set)
				}
			}
		}},
		{name: "not requested, not granted", mutate: func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_ADMIN"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if len(s.Process.Capabilities.Bounding) != 0 {
				t.Fatalf("bounding %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "nil capabilities stay nil", mutate: func(s *specs.Spec) { s.Process.Capabilities = nil }},
	})
}

func TestRuleNoNewPrivileges(t *testing.T) {
	runRuleCases(t, RuleNoNewPrivileges, []ruleCase{
		{name: "set", check: func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges {
				t.Fatal("not set")
			}
		}},
		{name: "no process", wantDeny: true, mutate: func(s *specs.Spec) { s.Process = nil }},
	})
}

func TestRuleCwdFD(t *testing.T) {
	runRuleCases(t, RuleCwdFD, []ruleCase{
		{name: "plain cwd", mutate: func(s *specs.Spec) { s.Process.Cwd = "/app" }},
		{name: "self fd", wantDeny: true, mutate: func(s *specs.Spec) { s.Process.Cwd = "/proc/self/fd/7" }},
		{name: "pid fd", wantDeny: true, mutate: func(s *specs.Spec) { s.Process.Cwd = "/proc/1/fd/3" }},
		{name: "thread-self fd", wantDeny: true, mutate: func(s *specs.Spec) { s.Process.Cwd = "/proc/thread-self/fd/8" }},
		{name: "task fd", wantDeny: true, mutate: func(s *specs.Spec) { s.Process.Cwd = "/proc/12/task/12/fd/8" }},
		{name: "unclean path", wantDeny: true, mutate: func(s *specs.Spec) { s.Process.Cwd = "/proc//self/./fd/8/" }},
		{name: "fdinfo is not fd", mutate: func(s *specs.Spec) { s.Process.Cwd = "/proc/self/fdinfo" }},
	})
}

func TestRuleRlimits(t *testing.T) {
	runRuleCases(t, RuleRlimits, []ruleCase{
		{name: "within", check: func(t *testing.T, s *specs.Spec) {
			if s.Process.Rlimits[0].Hard != 1024 {
				t.Fatal("changed")
			}
		}},
		{name: "clamped", mutate: func(s *specs.Spec) {
			s.Process.Rlimits[0] = specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1 << 20, Soft: 1 << 20}
		}, check: func(t *testing.T, s *specs.Spec) {
			if rl := s.Process.Rlimits[0]; rl.Hard != 20000 || rl.Soft != 20000 {
				t.Fatalf("rlimit %+v", rl)
			}
		}},
		{name: "unknown type", wantDeny: true, mutate: func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_BOGUS" }},
	})
}

func TestRuleOOMScoreAdj(t *testing.T) {
	neg, pos := -999, 500
	runRuleCases(t, RuleOOMScoreAdj, []ruleCase{
		{name: "negative raised", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = &neg }, check: func(t *testing.T, s *specs.Spec) {
			if *s.Process.OOMScoreAdj != 0 {
				t.Fatal("not raised")
			}
		}},
		{name: "positive kept", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = &pos }, check: func(t *testing.T, s *specs.Spec) {
			if *s.Process.OOMScoreAdj != 500 {
				t.Fatal("changed")
			}
		}},
	})
}

func TestRuleReadonlyRootfs(t *testing.T) {
	runRuleCases(t, RuleReadonlyRootfs, []ruleCase{
		{name: "made read-only", check: func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly {
				t.Fatal("writable")
			}
		}},
		{name: "no root", wantDeny: true, mutate: func(s *specs.Spec) { s.Root = nil }},
	})
}

func TestRuleScratchTmpfs(t *testing.T) {
	runRuleCases(t, RuleScratchTmpfs, []ruleCase{
		{name: "added", check: func(t *testing.T, s *specs.Spec) {
			for _, d := range scratchDirs {
				i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == d })
				if i < 0 || s.Mounts[i].Type != "tmpfs" || !slices.Contains(s.Mounts[i].Options, "noexec") || !slices.Contains(s.Mounts[i].Options, "size=64m") {
					t.Fatalf("%s: %+v", d, s.Mounts)
				}
			}
		}},
		{name: "inserted before a client mount below it", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp/test", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0444"}})
		}, check: func(t *testing.T, s *specs.Spec) {
			tmp := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/tmp" })
			sub := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/tmp/test" })
			if tmp < 0 || tmp > sub {
				t.Fatalf("/tmp at %d hides /tmp/test at %d", tmp, sub)
			}
		}},
		{name: "client mount kept", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp/", Type: "bind", Source: "/srv/tmp"})
		}, check: func(t *testing.T, s *specs.Spec) {
			n := 0
			for _, m := range s.Mounts {
				if filepath.Clean(m.Destination) == "/tmp" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d mounts on /tmp", n)
			}
		}},
	})
}

func TestRuleReadonlySys(t *testing.T) {
	runRuleCases(t, RuleReadonlySys, []ruleCase{
		{name: "cgroup made ro", check: func(t *testing.T, s *specs.Spec) {
			if o := s.Mounts[3].Options; !slices.Contains(o, "ro") || slices.Contains(o, "rw") {
				t.Fatalf("options %v", o)
			}
		}},
		{name: "sysfs rw made ro", mutate: func(s *specs.Spec) { s.Mounts[2].Options = []string{"rw"} }, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Mounts[2].Options, []string{"ro"}) {
				t.Fatalf("options %v", s.Mounts[2].Options)
			}
		}},
	})
}

func TestRuleMaskedAndReadonlyPaths(t *testing.T) {
	runRuleCases(t, RuleMaskedPaths, []ruleCase{
		{name: "floor added", mutate: func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore", "/custom"} }, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Linux.MaskedPaths, []string{"/proc/kcore", "/custom", "/proc/kallsyms"}) {
				t.Fatalf("masked %v", s.Linux.MaskedPaths)
			}
		}},
		{name: "no linux", mutate: func(s *specs.Spec) { s.Linux = nil }},
	})
	runRuleCases(t, RuleReadonlyPaths, []ruleCase{
		{name: "floor added", check: func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
				t.Fatalf("readonly %v", s.Linux.ReadonlyPaths)
			}
		}},
	})
}

func bindMount(src string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind"}})
	}
}

func TestRuleHostMounts(t *testing.T) {
	link := filepath.Join(t.TempDir(), "etc-link")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	runRuleCases(t, RuleHostMounts, []ruleCase{
		{name: "root", wantDeny: true, mutate: bindMount("/")},
		{name: "docker socket via /var/run", wantDeny: true, mutate: bindMount("/var/run/docker.sock")},
		{name: "docker socket", wantDeny: true, mutate: bindMount("/run/docker.sock")},
		{name: "a private daemon's socket", wantDeny: true, mutate: bindMount("/tmp/rd/docker.sock")},
		{name: "containerd socket elsewhere", wantDeny: true, mutate: bindMount("/srv/k3s/containerd/containerd.sock")},
		{name: "etc file", wantDeny: true, mutate: bindMount("/etc/shadow")},
		{name: "symlink to etc", wantDeny: true, mutate: bindMount(link)},
		{name: "proc pid root", wantDeny: true, mutate: bindMount("/proc/1/root")},
		{name: "dev", wantDeny: true, mutate: bindMount("/dev/sda")},
		{name: "parent of docker state", wantDeny: true, mutate: bindMount("/var/lib")},
		{name: "docker state", wantDeny: true, mutate: bindMount("/var/lib/docker")},
		{name: "kubelet", wantDeny: true, mutate: bindMount("/var/lib/kubelet/")},
		{name: "runc state root", wantDeny: true, mutate: bindMount("/run/runc/abc")},
		{name: "bind via options", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "none", Source: "/root", Options: []string{"bind"}})
		}},
		{name: "block device fs", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "ext4", Source: "/dev/sda1"})
		}},
		{name: "docker's per-container files", mutate: bindMount("/var/lib/docker/containers/abc/hosts")},
		{name: "cri shm", mutate: bindMount("/run/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm")},
		{name: "a volume", mutate: bindMount("/srv/data")},
	})
}

func TestRuleBindOptions(t *testing.T) {
	runRuleCases(t, RuleBindOptions, []ruleCase{
		{name: "added", mutate: bindMount("/srv"), check: func(t *testing.T, s *specs.Spec) {
			o := s.Mounts[len(s.Mounts)-1].Options
			if !slices.Contains(o, "nosuid") || !slices.Contains(o, "nodev") {
				t.Fatalf("options %v", o)
			}
		}},
		{name: "suid and dev removed", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/srv", Options: []string{"rbind", "suid", "dev"}})
		}, check: func(t *testing.T, s *specs.Spec) {
			if o := s.Mounts[len(s.Mounts)-1].Options; !slices.Equal(o, []string{"rbind", "nosuid", "nodev"}) {
				t.Fatalf("options %v", o)
			}
		}},
		{name: "non-bind untouched", check: func(t *testing.T, s *specs.Spec) {
			if len(s.Mounts[0].Options) != 0 {
				t.Fatal("proc changed")
			}
		}},
	})
}

func TestRulePropagation(t *testing.T) {
	runRuleCases(t, RulePropagation, []ruleCase{
		{name: "private ok", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" }},
		{name: "rshared mount", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/srv", Options: []string{"rbind", "rshared"}})
		}},
		{name: "shared root", wantDeny: true, mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "shared" }},
	})
}

func TestRuleDevSymlink(t *testing.T) {
	e := testEnv(t)
	s := baseSpec()
	if err := RuleDevSymlink.Apply(e, s); err != nil {
		t.Fatalf("plain dev: %v", err)
	}
	dev := filepath.Join(e.Host.Bundle, "rootfs", "dev")
	os.Remove(dev)
	if err := os.Symlink("/dev", dev); err != nil {
		t.Fatal(err)
	}
	if err := RuleDevSymlink.Apply(e, s); !errors.Is(err, ErrPolicyDenied) {
		t.Fatalf("symlinked dev: want denial, got %v", err)
	}
}

func TestRuleNamespaces(t *testing.T) {
	runRuleCases(t, RuleNamespaces, []ruleCase{
		{name: "all private"},
		{name: "missing added", mutate: func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:1] }, check: func(t *testing.T, s *specs.Spec) {
			for _, ns := range PrivateNamespaces {
				if !hasNamespace(s.Linux, ns) {
					t.Fatalf("no %s", ns)
				}
			}
		}},
		{name: "host network by path", wantDeny: true, mutate: func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/proc/1/ns/net" }},
		{name: "own pid by path", wantDeny: true, mutate: func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/proc/self/ns/pid" }},
		{name: "missing path", wantDeny: true, mutate: func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/nonexistent/ns" }},
	})
}

func TestRuleNamespacesJoinsOtherNamespace(t *testing.T) {
	e := testEnv(t)
	s := baseSpec()
	s.Linux.Namespaces[1].Path = "/var/run/netns/cni-x"
	e.Host.StatNS = func(string) (NSID, error) { return NSID{Dev: 4, Ino: 1}, nil }
	if err := RuleNamespaces.Apply(e, s); err != nil {
		t.Fatalf("joining a pod's namespace: %v", err)
	}
}

func TestRuleCgroupLimits(t *testing.T) {
	runRuleCases(t, RuleCgroupLimits, []ruleCase{
		{name: "defaults", check: func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 256<<20 || *r.Pids.Limit != 512 {
				t.Fatalf("limits %d %d", *r.Memory.Limit, *r.Pids.Limit)
			}
		}},
		{name: "unlimited replaced", mutate: func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}, Pids: &specs.LinuxPids{Limit: i64(0)}}
		}, check: func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 256<<20 || *r.Memory.Swap != 256<<20 || *r.Pids.Limit != 512 {
				t.Fatalf("limits %d %d %d", *r.Memory.Limit, *r.Memory.Swap, *r.Pids.Limit)
			}
		}},
		{name: "client limits kept, never raised", mutate: func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}, Pids: &specs.LinuxPids{Limit: i64(50)}}
		}, check: func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 1<<30 || *r.Pids.Limit != 50 {
				t.Fatalf("limits %d %d", *r.Memory.Limit, *r.Pids.Limit)
			}
		}},
		{name: "above max clamped", mutate: func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100000)}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if *s.Linux.Resources.Pids.Limit != 4096 {
				t.Fatalf("pids %d", *s.Linux.Resources.Pids.Limit)
			}
		}},
	})
}

func TestRuleDevices(t *testing.T) {
	runRuleCases(t, RuleDevices, []ruleCase{
		{name: "cgroup deny-all", check: func(t *testing.T, s *specs.Spec) {
			d := s.Linux.Resources.Devices
			if d[0].Allow || d[0].Access != "rwm" || len(d) != len(SafeDevices)+2 {
				t.Fatalf("devices %+v", d)
			}
		}},
		{name: "safe device", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}}
		}},
		{name: "host disk", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0}}
		}},
		{name: "safe name, wrong numbers", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 1}}
		}},
	})
}

func TestRuleHooks(t *testing.T) {
	hook := func(path string, args ...string) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: path, Args: args}}} }
	}
	runRuleCases(t, RuleHooks, []ruleCase{
		{name: "none"},
		{name: "docker setkey", mutate: hook("/usr/bin/dockerd", "libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6")},
		{name: "docker setkey with LD_PRELOAD", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/bin/dockerd", Env: []string{"LD_PRELOAD=/x/evil.so"},
				Args: []string{"libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6"}}}}
		}},
		{name: "docker setkey with an extra argument", wantDeny: true, mutate: hook("/usr/bin/dockerd", "libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6", "-D")},
		{name: "docker setkey, relative exec root", wantDeny: true, mutate: hook("/usr/bin/dockerd", "libnetwork-setkey", "-exec-root=run/../docker", dockerID, "23f9c4ff19c6")},
		{name: "docker setkey, id not hex", wantDeny: true, mutate: hook("/usr/bin/dockerd", "libnetwork-setkey", "-exec-root=/run/docker", "--config=/tmp/x", "23f9c4ff19c6")},
		{name: "relative path", wantDeny: true, mutate: hook("../../usr/bin/dockerd", "libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6")},
		{name: "startContainer runs the image's file", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/usr/bin/dockerd", Args: []string{"libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6"}}}}
		}},
		{name: "createContainer runs the image's file", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/usr/bin/dockerd", Args: []string{"libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6"}}}}
		}},
		{name: "dockerd as a daemon", wantDeny: true, mutate: hook("/usr/bin/dockerd", "dockerd", "-H", "tcp://0.0.0.0:2375")},
		{name: "dockerd without args", wantDeny: true, mutate: hook("/usr/bin/dockerd")},
		{name: "other", wantDeny: true, mutate: hook("/bin/sh", "sh", "-c", "id")},
	})
}

const dockerID = "371a5a2a8998dffea469f9fedfd6606e839c7ec654d6cdb476efddfc5d3d3b10"

func TestRuleIDMappings(t *testing.T) {
	userns := func(uid, gid []specs.LinuxIDMapping) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings, s.Linux.GIDMappings = uid, gid
		}
	}
	high := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	runRuleCases(t, RuleIDMappings, []ruleCase{
		{name: "no user namespace"},
		{name: "subuid range", mutate: userns(high, high)},
		{name: "kubelet block", mutate: userns([]specs.LinuxIDMapping{{HostID: 65536 * 7, Size: 65536}}, []specs.LinuxIDMapping{{HostID: 65536 * 7, Size: 65536}})},
		// runh issue 13: nobody (65534) lands on host root.
		{name: "nobody onto host root", wantDeny: true, mutate: userns(
			[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65534}, {ContainerID: 65534, HostID: 0, Size: 1}}, high)},
		{name: "gid onto host root", wantDeny: true, mutate: userns(high, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}})},
		{name: "below the floor", wantDeny: true, mutate: userns([]specs.LinuxIDMapping{{HostID: 1000, Size: 1}}, high)},
		{name: "past the last id", wantDeny: true, mutate: userns([]specs.LinuxIDMapping{{HostID: 1<<32 - 10, Size: 65536}}, high)},
		{name: "idmapped mount onto host root", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"bind", "idmap"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 65534, HostID: 0, Size: 1}}, GIDMappings: high})
		}},
		// On-disk root's files shown as the workload's id (runh issue 13,
		// found by integration/attacks: the container rewrote root's file).
		{name: "idmapped mount of root's files onto the workload", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"bind", "idmap"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 165534, Size: 1}}, GIDMappings: high})
		}},
		{name: "idmapped mount of on-disk root onto a high range", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"bind", "idmap"},
				UIDMappings: high, GIDMappings: high})
		}},
		{name: "idmapped mount between high ranges", mutate: func(s *specs.Spec) {
			hh := []specs.LinuxIDMapping{{ContainerID: 200000, HostID: 100000, Size: 65536}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"bind", "idmap"},
				UIDMappings: hh, GIDMappings: hh})
		}},
	})
}

func TestCheckHostIDs(t *testing.T) {
	env := &Env{Policy: testPolicy()}
	for _, tc := range []struct {
		name string
		maps []specs.LinuxIDMapping
		uid  uint32
		ok   bool
	}{
		{"mapped high", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}, 65534, true},
		{"mapped to root", []specs.LinuxIDMapping{{ContainerID: 65534, HostID: 0, Size: 1}}, 65534, false},
		{"unmapped", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 10}}, 65534, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec()
			s.Process.User = specs.User{UID: tc.uid, GID: 0}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = tc.maps
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			if err := CheckHostIDs.Verify(env, s); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRuleCgroupsPath(t *testing.T) {
	path := func(p string) func(*specs.Spec) { return func(s *specs.Spec) { s.Linux.CgroupsPath = p } }
	// This test process's own cgroup holds a process (this one).
	own := ""
	if data, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && (parts[1] == "memory" || parts[1] == "pids" || parts[1] == "") {
				own = parts[2]
				break
			}
		}
	}
	cases := []ruleCase{
		{name: "unset"},
		{name: "new docker leaf", mutate: path("/docker/371a5a2a8998dffea469f9fedfd6606e839c7ec654d6cdb476efddfc5d3d3b10")},
		{name: "new systemd scope", mutate: path("system.slice:docker:371a5a2a8998")},
		{name: "root", wantDeny: true, mutate: path("/")},
		{name: "dot dot", wantDeny: true, mutate: path("/docker/../")},
		{name: "escape", wantDeny: true, mutate: path("a/../../b")},
	}
	if own != "" && own != "/" {
		cases = append(cases, ruleCase{name: "a cgroup with processes (this test's own)", wantDeny: true, mutate: path(own)})
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/cgroup.procs"); err == nil {
		cases = append(cases, ruleCase{name: "the root's children", wantDeny: true, mutate: path("/.")})
	}
	runRuleCases(t, RuleCgroupsPath, cases)
}

func TestCgroupRelPath(t *testing.T) {
	for in, want := range map[string]string{
		"/docker/abc":             "docker/abc",
		"kubepods/pod1/abc":       "kubepods/pod1/abc",
		"system.slice:docker:abc": "system.slice/docker-abc.scope",
		"kubepods-besteffort.slice:cri-containerd:abc": "kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope",
		":runc:abc": "runc-abc.scope",
	} {
		if got, err := cgroupRelPath(in); err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/", "", "../x", "a:b/c:d"} {
		if got, err := cgroupRelPath(bad); err == nil {
			t.Errorf("%q: got %q, want an error", bad, got)
		}
	}
}

func TestMemoryCeiling(t *testing.T) {
	p := testPolicy()
	if c := p.MemoryCeiling(); c <= 0 {
		t.Fatalf("host memory ceiling %d", c)
	}
	s := baseSpec()
	huge := int64(4 << 60)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &huge}}
	env := &Env{Policy: p}
	if err := RuleCgroupLimits.Apply(env, s); err != nil {
		t.Fatal(err)
	}
	if got := *s.Linux.Resources.Memory.Limit; got != p.MemoryCeiling() {
		t.Fatalf("4 EiB became %d, want the ceiling %d", got, p.MemoryCeiling())
	}
	// A profile's maximum above the host's RAM is no maximum either.
	p.MemoryMax = 1 << 50
	if c := p.MemoryCeiling(); c != hostMemory() {
		t.Fatalf("memory_max 1 PiB: ceiling %d, want the host's %d", c, hostMemory())
	}
}

func TestRuleSysctls(t *testing.T) {
	runRuleCases(t, RuleSysctls, []ruleCase{
		{name: "safe", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.shm_rmid_forced": "1"} }},
		{name: "net with private netns", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
		}},
		{name: "net without netns", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:1]
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}},
		{name: "kernel", wantDeny: true, mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/x"} }},
	})
}

func TestRuleSeccomp(t *testing.T) {
	runRuleCases(t, RuleSeccomp, []ruleCase{
		{name: "unconfined replaced (slow path)", check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || s.Process.Args[0] == InitPath {
				t.Fatal("no profile")
			}
		}},
		{name: "allow-all replaced", mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp.DefaultAction != specs.ActErrno {
				t.Fatal("allow-all kept")
			}
		}},
		{name: "tighter client profile intersected (slow path)", mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = blockChmod()
		}, check: func(t *testing.T, s *specs.Spec) {
			allowed := map[string]bool{}
			for _, r := range s.Linux.Seccomp.Syscalls {
				for _, n := range r.Names {
					allowed[n] = allowed[n] || r.Action == specs.ActAllow
				}
			}
			if s.Linux.Seccomp.DefaultAction != specs.ActErrno || allowed["chmod"] || allowed["fchmodat"] || !allowed["read"] {
				t.Fatalf("default %s chmod %v read %v", s.Linux.Seccomp.DefaultAction, allowed["chmod"], allowed["read"])
			}
		}},
		{name: "notify profile without runh-init refused", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = blockChmod()
			s.Linux.Seccomp.ListenerPath = "/run/agent.sock"
		}},
		{name: "client mount on /dev/.runh refused", wantDeny: true, mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/.runh/filter", Type: "bind", Source: "/tmp/permissive.bpf"})
		}},
	})
}

// fastEnv is testEnv with runh-init and a filter cache: the fast path.
func fastEnv(t *testing.T) *Env {
	e := testEnv(t)
	e.Host.SeccompInit = filepath.Join(t.TempDir(), "runh-init")
	os.WriteFile(e.Host.SeccompInit, []byte("#!/bin/true\n"), 0o755)
	e.Host.SeccompCache = filepath.Join(t.TempDir(), "seccomp")
	return e
}

func TestRuleSeccompFastPath(t *testing.T) {
	e := fastEnv(t)
	s := baseSpec()
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	if err := RuleSeccomp.Apply(e, s); err != nil {
		t.Fatal(err)
	}
	n := len(s.Mounts)
	if s.Linux.Seccomp != nil || !slices.Equal(s.Process.Args, InitArgs(Expectation(e.Policy, s.Process), []string{"sh"})) ||
		s.Mounts[n-2].Source != e.Host.SeccompInit || s.Mounts[n-1].Destination != FilterPath {
		t.Fatalf("fast path not applied: args %v mounts %+v", s.Process.Args, s.Mounts[n-2:])
	}
	pre, _ := seccomp.Precompiled(runtime.GOARCH)
	if got, _ := os.ReadFile(s.Mounts[n-1].Source); !bytes.Equal(got, pre.BPF) {
		t.Fatal("cached filter differs from the precompiled one")
	}
	if err := CheckSeccomp.Verify(e, s); err != nil {
		t.Fatalf("check: %v", err)
	}
	seccompAgain(t, e, s)
	// A tampered filter fails the check.
	os.Chmod(s.Mounts[n-1].Source, 0o644)
	os.WriteFile(s.Mounts[n-1].Source, []byte("\x06\x00\x00\x00\x00\x00\xff\x7f"), 0o444)
	if err := CheckSeccomp.Verify(e, s); !errors.Is(err, ErrPolicyDenied) {
		t.Fatalf("tampered filter passed: %v", err)
	}
	// No init first in args fails the check.
	s.Process.Args = s.Process.Args[1:]
	if err := CheckSeccomp.Verify(e, s); !errors.Is(err, ErrPolicyDenied) {
		t.Fatalf("missing init passed: %v", err)
	}
}

// seccompAgain applies the rule once more on the same host: no change.
func seccompAgain(t *testing.T, e *Env, s *specs.Spec) {
	t.Helper()
	e2 := fastEnv(t)
	e2.Host.SeccompInit, e2.Host.SeccompCache = e.Host.SeccompInit, e.Host.SeccompCache
	if err := RuleSeccomp.Apply(e2, s); err != nil || len(e2.Changes) != 0 {
		t.Fatalf("not idempotent: %v %v", err, e2.Changes)
	}
}

// blockChmod is a Kubernetes Localhost profile as critest writes it: allow
// everything but chmod, for three architectures.
func blockChmod() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"chmod", "fchmod", "fchmodat"}, Action: specs.ActErrno}}}
}

// TestRuleSeccompStacks: on the fast path a client profile that denies
// something runh's allows is kept for runc to install, and runh-init stacks
// runh's on it; one that allows all runh's does is dropped (runc need not
// compile it).
func TestRuleSeccompStacks(t *testing.T) {
	e := fastEnv(t)
	s := baseSpec()
	s.Linux.Seccomp = blockChmod()
	if err := RuleSeccomp.Apply(e, s); err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 || s.Process.Args[0] != InitPath {
		t.Fatalf("client profile not kept beside runh-init: %+v %v", s.Linux.Seccomp, s.Process.Args)
	}
	if runtime.GOARCH == "amd64" && !slices.Equal(s.Linux.Seccomp.Architectures, []specs.Arch{specs.ArchX86_64}) {
		t.Fatalf("architectures %v, want the native one only", s.Linux.Seccomp.Architectures)
	}
	if err := CheckSeccomp.Verify(e, s); err != nil {
		t.Fatalf("check: %v", err)
	}
	seccompAgain(t, e, s)

	s = baseSpec()
	docker, err := seccomp.Resolve(mseccomp.DefaultProfile(), seccomp.Options{GOARCH: runtime.GOARCH})
	if err != nil {
		t.Fatal(err)
	}
	s.Linux.Seccomp = docker
	if err := RuleSeccomp.Apply(fastEnv(t), s); err != nil || s.Linux.Seccomp != nil {
		t.Fatalf("Docker's default profile, which allows all runh's does, was kept: %v", err)
	}
}

func TestRuleSeccompExec(t *testing.T) {
	e := testEnv(t)
	s := baseSpec()
	if err := RuleSeccompExec.Apply(e, s); err != nil || s.Process.Args[0] != "sh" {
		t.Fatalf("slow-path container: %v %v", err, s.Process.Args)
	}
	e.Host.ExecViaInit = true
	if err := CheckSeccompExec.Verify(e, s); !errors.Is(err, ErrPolicyDenied) {
		t.Fatal("check passed without init")
	}
	if err := RuleSeccompExec.Apply(e, s); err != nil || !slices.Equal(s.Process.Args, InitArgs(Expectation(e.Policy, s.Process), []string{"sh"})) {
		t.Fatalf("fast-path container: %v %v", err, s.Process.Args)
	}
	if err := CheckSeccompExec.Verify(e, s); err != nil {
		t.Fatal(err)
	}
}

// TestRulesDoNotAliasPolicy: a rule must copy policy data, or hardening one
// container would change the profile for the next.
func TestRulesDoNotAliasPolicy(t *testing.T) {
	e := testEnv(t)
	s := baseSpec()
	if err := RuleSeccomp.Apply(e, s); err != nil {
		t.Fatal(err)
	}
	s.Linux.Seccomp.Syscalls[0].Names[0] = "ptrace"
	if e.Policy.Seccomp.Syscalls[0].Names[0] == "ptrace" {
		t.Fatal("rule aliased the policy's profile")
	}
}

// TestUnderFDTableMatchesPattern holds the hand-written matcher to the
// pattern it replaced, on every path built from the parts that matter.
func TestUnderFDTableMatchesPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^/proc/(self|thread-self|[0-9]+)(/task/[0-9]+)?/fd(/|$)`)
	parts := []string{"proc", "self", "thread-self", "12", "task", "fd", "fdinfo", "x", "", "1a"}
	var walk func(prefix string, depth int)
	n := 0
	walk = func(prefix string, depth int) {
		for _, p := range []string{prefix, "/" + prefix} {
			if got, want := underFDTable(p), pattern.MatchString(p); got != want {
				t.Errorf("underFDTable(%q) = %v, the pattern says %v", p, got, want)
			}
			n++
		}
		if depth == 6 {
			return
		}
		for _, part := range parts {
			next := part
			if prefix != "" {
				next = prefix + "/" + part
			}
			walk(next, depth+1)
		}
	}
	walk("", 0)
	if n < 100000 {
		t.Fatalf("only %d paths", n)
	}
}

func TestEnsureFilter(t *testing.T) {
	pre, ok := seccomp.Precompiled(runtime.GOARCH)
	if !ok {
		t.Skip("no precompiled filter for", runtime.GOARCH)
	}
	dir := t.TempDir()
	path, err := EnsureFilter(dir, pre)
	if err != nil || path != filepath.Join(dir, pre.SHA256+".bpf") {
		t.Fatalf("path %q err %v", path, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, pre.BPF) {
		t.Fatal("cached filter differs")
	}
	// A stale or damaged file under the name is replaced.
	os.Chmod(path, 0o644)
	os.WriteFile(path, []byte("junk"), 0o644)
	if _, err := EnsureFilter(dir, pre); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, pre.BPF) {
		t.Fatal("damaged cache file kept")
	}
	for _, bad := range []string{"", "../../etc/x", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		f := pre
		f.SHA256 = bad
		if _, err := EnsureFilter(dir, f); err == nil {
			t.Errorf("digest %q accepted", bad)
		}
	}
}

// TestRuleHooksPinsThePath: an allowed hook reached through a symlink (or
// /proc/<pid>/exe) runs by the allowlisted path, so swapping the symlink
// after create (a poststop hook runs at delete) changes nothing.
func TestRuleHooksPinsThePath(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "L")
	os.Symlink("/usr/bin", link)
	s := baseSpec()
	s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: link + "/dockerd", Args: []string{"libnetwork-setkey", "-exec-root=/run/docker", dockerID, "23f9c4ff19c6"}}}}
	env := &Env{Policy: testPolicy(), Host: &Host{ResolveExe: func(p string) string {
		if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			return filepath.Join(r, filepath.Base(p))
		}
		return p
	}}}
	if err := RuleHooks.Apply(env, s); err != nil {
		t.Fatal(err)
	}
	if got := s.Hooks.Poststop[0].Path; got != "/usr/bin/dockerd" {
		t.Fatalf("hook path %q, want the allowlisted /usr/bin/dockerd", got)
	}
}

// TestRemoveEmptyDirs: a detached rootfs pin in which runc made mount
// points goes; one holding a file stays.
func TestRemoveEmptyDirs(t *testing.T) {
	dir := t.TempDir()
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(empty, "var", "tmp"), 0o755)
	os.MkdirAll(filepath.Join(empty, "proc"), 0o755)
	if err := removeEmptyDirs(empty, st.Dev); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatal("the empty tree is still there")
	}
	full := filepath.Join(dir, "full")
	os.MkdirAll(filepath.Join(full, "etc"), 0o755)
	os.WriteFile(filepath.Join(full, "etc", "passwd"), []byte("x"), 0o644)
	if err := removeEmptyDirs(full, st.Dev); err != unix.ENOTEMPTY {
		t.Fatalf("err = %v, want ENOTEMPTY", err)
	}
	if _, err := os.Stat(filepath.Join(full, "etc", "passwd")); err != nil {
		t.Fatal("a file was removed")
	}
}
