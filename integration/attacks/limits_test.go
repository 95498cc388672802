package attacks

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// memTotal is the host's RAM in bytes (/proc/meminfo MemTotal).
func memTotal(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}

// memoryLimitOfPid is the memory limit of pid's cgroup, read from the
// host: v1 memory.limit_in_bytes, or v2 memory.max ("max" as -1).
func memoryLimitOfPid(t *testing.T, pid int) int64 {
	t.Helper()
	data := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, l := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[1] == "memory" || strings.Contains(","+parts[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		case parts[0] == "0" && parts[1] == "":
			if _, err := os.Stat("/sys/fs/cgroup/memory/cgroup.procs"); err == nil {
				continue // hybrid: the v1 memory controller has it
			}
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		default:
			continue
		}
		v := strings.TrimSpace(string(readFile(t, file)))
		if v == "max" {
			return -1
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %q", file, v)
		}
		return n
	}
	t.Fatalf("pid %d has no memory cgroup:\n%s", pid, data)
	return 0
}

// TestMemoryLimitAboveRAM: a memory limit no host can honour
// (runh issue 13, rule cgroup-limits): linux.resources.memory.limit = 4 EiB is no
// limit at all, and one container can take a small node down. Plain runc
// writes it (the kernel shows "unlimited"); runh clamps it to MemTotal.
func TestMemoryLimitAboveRAM(t *testing.T) {
	total := memTotal(t)
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c, c.ID+"-runc")
	huge := int64(4) << 60
	c.Edit(func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &huge}
	})

	mustOK(t, c.Runc("create", c.ID+"-runc"), "runc create")
	got := memoryLimitOfPid(t, initPid(t, c, c.ID+"-runc"))
	if got != -1 && got <= total {
		t.Fatalf("plain runc: the limit is %d, within MemTotal %d", got, total)
	}
	t.Logf("plain runc: a 4 EiB limit gives the container %d bytes (MemTotal %d): unlimited", got, total)
	mustOK(t, c.Runc("delete", "--force", c.ID+"-runc"), "runc delete")

	before := readFile(t, c.Config())
	mustOK(t, c.Runh("create", c.ID), "runh create")
	mustOK(t, c.Runh("start", c.ID), "runh start")
	got = memoryLimitOfPid(t, initPid(t, c, c.ID))
	if got < 0 || got > total {
		t.Errorf("runh: the container's memory limit is %d, above MemTotal %d", got, total)
	}
	t.Logf("runh: the container's memory limit is %d (MemTotal %d)", got, total)
	mustOK(t, c.Runh("delete", "--force", c.ID), "runh delete")
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
	noLeftovers(t, c, "after delete")
}
