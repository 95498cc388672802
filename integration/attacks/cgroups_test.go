package attacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/integration/harness"
)

// memLimitOf reads a memory cgroup's limit (v1).
func memLimitOf(t *testing.T, rel string) string {
	t.Helper()
	return strings.TrimSpace(string(readFile(t, filepath.Join("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes"))))
}

func withCgroup(path string, memory int64) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux.CgroupsPath = path
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &memory}
	}
}

// v1Memory requires the cgroup v1 memory controller (hybrid or legacy).
func v1Memory(t *testing.T) {
	t.Helper()
	_, err := os.Stat("/sys/fs/cgroup/memory/cgroup.procs")
	harness.Require(t, err == nil, "the cgroup v1 memory controller (a hybrid or legacy host)")
}

// joinCgroup puts pid into the cgroup rel of hierarchy h (made if need be).
func joinCgroup(t *testing.T, h, rel string, pid int) {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup", h, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCgroupsPathOfAnotherContainer: an attacker's container names the
// cgroup of a victim (runh issue 13, rule cgroups-path): runc joins an
// existing cgroup and writes the attacker's limits into it, so the
// victim's 256 MiB memory limit would become 16 MiB. Victim V is a runh
// container (sleep 30, 256 MiB) in /runh-attack-<pid>/victim; the
// attacker's bundle names the same path with 16 MiB; runh refuses and
// V's limit stays. cgroupsPath "/" is refused too.
//
// Plain runc half: runc 1.5 refuses a create into a cgroup that holds
// processes, checking its devices hierarchy only, so the exact attack on
// a running runc container fails there too. The effect is shown on a
// victim runc does not see: a host process in the memory hierarchy only.
func TestCgroupsPathOfAnotherContainer(t *testing.T) {
	v1Memory(t)
	parent := fmt.Sprintf("runh-attack-%d", os.Getpid())
	victimPath := "/" + parent + "/victim"
	t.Cleanup(func() { removeCgroups(t, parent+"/victim", parent+"/host", parent) })

	victim := newCtr(t, "sleep", "30")
	attacker := newCtr(t, "sleep", "30")
	cleanupCtr(t, attacker, attacker.ID+"-runc")
	cleanupCtr(t, victim, victim.ID+"-runc")
	victim.Edit(withCgroup(victimPath, 256<<20))
	attacker.Edit(withCgroup(victimPath, 16<<20))

	// Plain runc, the exact attack on a running runc victim.
	mustOK(t, victim.Runc("run", "-d", victim.ID+"-runc"), "runc run -d (victim)")
	r := attacker.Runc("create", attacker.ID+"-runc")
	got := memLimitOf(t, victimPath)
	if r.Code == 0 || got != "268435456" {
		t.Logf("plain runc: the attacker's create (exit %d) left the victim's limit at %s", r.Code, got)
	} else {
		t.Logf("plain runc: %s (victim's limit still %s)", strings.TrimSpace(r.Stderr), got)
	}
	attacker.Runc("delete", "--force", attacker.ID+"-runc")
	mustOK(t, victim.Runc("delete", "--force", victim.ID+"-runc"), "runc delete (victim)")

	// Plain runc, a victim in the memory hierarchy only (a host service).
	svc := startProcess(t, "sleep", "30")
	hostPath := "/" + parent + "/host"
	joinCgroup(t, "memory", hostPath, svc.Process.Pid)
	os.WriteFile(filepath.Join("/sys/fs/cgroup/memory", hostPath, "memory.limit_in_bytes"), []byte("268435456"), 0o644)
	attacker.Edit(withCgroup(hostPath, 16<<20))
	r = attacker.Runc("create", attacker.ID+"-runc")
	if got := memLimitOf(t, hostPath); r.Code == 0 && got == "16777216" {
		t.Logf("plain runc: the attacker's create rewrote the host process's memory limit 268435456 -> %s", got)
	} else {
		t.Fatalf("plain runc did not show the effect (exit %d, limit %s): %s", r.Code, got, r.Stderr)
	}
	// runc cannot remove a cgroup that still holds the host process.
	joinCgroup(t, "memory", "/", svc.Process.Pid)
	mustOK(t, attacker.Runc("delete", "--force", attacker.ID+"-runc"), "runc delete (attacker)")
	joinCgroup(t, "memory", hostPath, svc.Process.Pid)
	os.WriteFile(filepath.Join("/sys/fs/cgroup/memory", hostPath, "memory.limit_in_bytes"), []byte("268435456"), 0o644)

	// runh: the victim is a runh container.
	mustOK(t, victim.Runh("create", victim.ID), "runh create (victim)")
	mustOK(t, victim.Runh("start", victim.ID), "runh start (victim)")
	if got := memLimitOf(t, victimPath); got != "268435456" {
		t.Fatalf("the victim's limit is %s, want 268435456", got)
	}
	for _, target := range []string{victimPath, hostPath, "/" + parent, "/"} {
		attacker.Edit(withCgroup(target, 16<<20))
		before := readFile(t, attacker.Config())
		for _, cmd := range []string{"create", "run"} {
			r := attacker.Runh(cmd, attacker.ID)
			attacker.Refused(r, before, "linux.cgroupsPath", "cgroups-path")
			noLeftovers(t, attacker, "refused "+cmd+" into "+target)
		}
	}
	if got := memLimitOf(t, victimPath); got != "268435456" {
		t.Errorf("runh: the victim's limit is %s, want 268435456", got)
	}
	if got := memLimitOf(t, hostPath); got != "268435456" {
		t.Errorf("runh: the host process's limit is %s, want 268435456", got)
	}
	t.Logf("runh: %s, %s, /%s and / refused (cgroups-path); the victim's limit stays 268435456", victimPath, hostPath, parent)
	mustOK(t, victim.Runh("delete", "--force", victim.ID), "runh delete (victim)")
	noLeftovers(t, victim, "after delete")
}

// TestCgroupsPathOtherHierarchy: the victim's cgroup holds processes only
// in a v1 hierarchy runh does not look at (runh issue 13, rule
// cgroups-path). runh judges a cgroupsPath in the memory, pids and unified
// hierarchies; runc 1.5 checks only devices; but runc joins and writes
// every hierarchy. A host service whose cgroup exists in cpu only (as
// cgcreate -g cpu:/svc makes, or a v1 systemd unit with CPUQuota= and no
// memory or tasks accounting) is open to both: the attacker's create joins
// it and rewrites its cpu.cfs_quota_us (here to 1% of a CPU).
func TestCgroupsPathOtherHierarchy(t *testing.T) {
	_, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
	harness.Require(t, err == nil, "the cgroup v1 cpu controller (a hybrid or legacy host)")
	parent := fmt.Sprintf("runh-attack-cpu-%d", os.Getpid())
	rel := "/" + parent + "/svc"
	t.Cleanup(func() { removeCgroups(t, parent+"/svc", parent) })
	quotaFile := filepath.Join("/sys/fs/cgroup/cpu", rel, "cpu.cfs_quota_us")
	quota := func() string { return strings.TrimSpace(string(readFile(t, quotaFile))) }

	svc := startProcess(t, "sleep", "30")
	joinCgroup(t, "cpu", rel, svc.Process.Pid)
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c, c.ID+"-runc")
	c.Edit(func(s *specs.Spec) {
		s.Linux.CgroupsPath = rel
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		q, p := int64(1000), uint64(100000)
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &q, Period: &p}
	})

	r := c.Runc("create", c.ID+"-runc")
	if got := quota(); r.Code == 0 && got == "1000" {
		t.Logf("plain runc: the attacker's create rewrote the host service's cpu.cfs_quota_us -1 -> %s", got)
	} else {
		t.Fatalf("plain runc did not show the effect (exit %d, quota %s): %s", r.Code, got, r.Stderr)
	}
	joinCgroup(t, "cpu", "/", svc.Process.Pid)
	mustOK(t, c.Runc("delete", "--force", c.ID+"-runc"), "runc delete")
	joinCgroup(t, "cpu", rel, svc.Process.Pid)
	os.WriteFile(quotaFile, []byte("-1"), 0o644)
	if quota() != "-1" {
		t.Fatal("cannot reset the service's quota")
	}

	before := readFile(t, c.Config())
	r = c.Runh("create", c.ID)
	if got := quota(); got != "-1" {
		t.Errorf("ATTACK SUCCEEDED against runh (create exit %d): the host service's cpu.cfs_quota_us is now %s (its process %d shares the attacker's cpu cgroup %s)\n"+
			"reproduce: mkdir /sys/fs/cgroup/cpu%s; echo PID > .../cgroup.procs; bundle with linux.cgroupsPath %q and resources.cpu quota 1000 period 100000; runh create ID",
			r.Code, got, svc.Process.Pid, rel, rel, rel)
	} else if r.Code != 0 {
		c.Refused(r, before, "linux.cgroupsPath", "cgroups-path")
		noLeftovers(t, c, "refused create")
	}
	joinCgroup(t, "cpu", "/", svc.Process.Pid)
	c.Runh("delete", "--force", c.ID)
	noLeftovers(t, c, "after delete")
}
