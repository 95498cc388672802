package sandbox

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hardenedSpec passes every check.
func hardenedSpec(t *testing.T) *specs.Spec {
	t.Helper()
	s := baseSpec()
	e := testEnv(t)
	for _, r := range []Rule{RuleUser, RuleCapabilities, RuleNoNewPrivileges, RuleReadonlyRootfs, RuleNamespaces, RuleCgroupLimits, RuleDevices, RuleSeccomp} {
		if err := r.Apply(e, s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestChecks(t *testing.T) {
	cases := []struct {
		check  Check
		name   string
		weaken func(*specs.Spec)
	}{
		{CheckNonRoot, "uid 0", func(s *specs.Spec) { s.Process.User.UID = 0 }},
		{CheckNonRoot, "gid 0", func(s *specs.Spec) { s.Process.User.GID = 0 }},
		{CheckNonRoot, "group 0", func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{0} }},
		{CheckCapabilities, "sys_admin bounding", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_SYS_ADMIN"} }},
		{CheckCapabilities, "ambient", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"CAP_NET_RAW"} }},
		{CheckNoNewPrivileges, "nnp off", func(s *specs.Spec) { s.Process.NoNewPrivileges = false }},
		{CheckReadonlyRootfs, "writable", func(s *specs.Spec) { s.Root.Readonly = false }},
		{CheckSeccomp, "none", func(s *specs.Spec) { s.Linux.Seccomp = nil }},
		{CheckSeccomp, "allow default", func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActAllow }},
		{CheckSeccomp, "log default", func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActLog }},
		{CheckNamespaces, "no netns", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:1] }},
		{CheckLimits, "no memory", func(s *specs.Spec) { s.Linux.Resources.Memory = nil }},
		{CheckLimits, "unlimited pids", func(s *specs.Spec) { s.Linux.Resources.Pids.Limit = i64(-1) }},
		{CheckLimits, "pids above max", func(s *specs.Spec) { s.Linux.Resources.Pids.Limit = i64(5000) }},
		{CheckDevices, "allow all", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Allow = true }},
		{CheckDevices, "host disk", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8}} }},
	}
	for _, tc := range cases {
		t.Run(tc.check.Name+"/"+tc.name, func(t *testing.T) {
			s := hardenedSpec(t)
			if err := tc.check.Verify(testEnv(t), s); err != nil {
				t.Fatalf("hardened spec fails: %v", err)
			}
			tc.weaken(s)
			if err := tc.check.Verify(testEnv(t), s); !errors.Is(err, ErrPolicyDenied) {
				t.Fatalf("weakened spec passes: %v", err)
			}
		})
	}
}

// TestHardenChecksCatchBrokenRule: a rule that forgets its job cannot
// produce a weaker container, because the checks run after it.
func TestHardenChecksCatchBrokenRule(t *testing.T) {
	broken := RuleUser
	broken.Apply = func(*Env, *specs.Spec) error { return nil }
	s := baseSpec()
	err := Pipeline{Profile: "test", Rules: []Rule{broken, RuleNoNewPrivileges}, Checks: []Check{CheckNonRoot}}.Run(testEnv(t), s)
	var d *Denial
	if !errors.As(err, &d) || d.Rule != "check-non-root" || d.Profile != "test" {
		t.Fatalf("want check-non-root denial, got %v", err)
	}
}

// TestHardenCollectAll reports every denial for runh check.
func TestHardenCollectAll(t *testing.T) {
	s := baseSpec()
	s.Process.Cwd = "/proc/self/fd/3"
	s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "x"}
	err := Pipeline{Profile: "test", Rules: []Rule{RuleCwdFD, RuleSysctls}, Mode: CollectAll}.Run(testEnv(t), s)
	var ds Denials
	if !errors.As(err, &ds) || len(ds) != 2 || !errors.Is(err, ErrPolicyDenied) {
		t.Fatalf("want 2 denials, got %v", err)
	}
}

func TestDenialMessage(t *testing.T) {
	d := &Denial{Profile: "restricted", Field: "mounts[3]", Rule: "host-mounts", Reason: "bind mount of host path /var/run/docker.sock is not allowed"}
	want := `denied by profile "restricted": mounts[3]: bind mount of host path /var/run/docker.sock is not allowed (rule host-mounts)`
	if d.Error() != want {
		t.Fatalf("got %q", d.Error())
	}
}
