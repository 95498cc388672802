package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/sandbox"
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

func TestStateInitPid(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		pid  int
		okay bool
	}{
		{`{"id":"c1","init_process_pid":4242,"init_process_start":1}`, 4242, true},
		// The key after a large nested config, with braces and quotes in
		// strings, as in libcontainer's State.
		{`{"id":"c1","config":{"rootfs":"/r{}","mounts":[{"source":"\"}{","data":""}],"labels":["a=}"]},"init_process_pid":7}`, 7, true},
		{` {"init_process_pid": 12 } ` + "\n", 12, true},
		{`{"id":"c1"}`, 0, false},                                     // not started
		{`{"init_process_pid":0}`, 0, false},                          // no init
		{`{"init_process_pid":"12"}`, 0, false},                       // not a number
		{`{"init_process_pid":12`, 0, false},                          // truncated
		{`{"init_process_pid":12} {"init_process_pid":13}`, 0, false}, // trailing data
		{``, 0, false},
	} {
		pid, ok := stateInitPid([]byte(tc.doc))
		if ok != tc.okay || (ok && pid != tc.pid) {
			t.Errorf("stateInitPid(%s) = %d, %v; want %d, %v", tc.doc, pid, ok, tc.pid, tc.okay)
		}
	}
}

// TestV1DirAgreesWithMountinfo: for this test's own process, the usual
// mount point (proven by cgroup.procs) and the mountinfo route find the
// same cgroup directory of each v1 controller runh reads.
func TestV1DirAgreesWithMountinfo(t *testing.T) {
	cg, err := readProcCgroup(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, ctl := range []string{"memory", "pids"} {
		path, ok := cg.v1[ctl]
		mnt, mounted := cgroupMounts()[ctl]
		if !ok || !mounted {
			continue // a cgroup v2-only host has none
		}
		dir, err := cg.v1Dir(ctl, path)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(mnt, path); dir != want {
			t.Errorf("%s: v1Dir = %s, mountinfo says %s", ctl, dir, want)
		}
		if !inCgroup(dir, os.Getpid()) {
			t.Errorf("%s: this process is not in %s/cgroup.procs", ctl, dir)
		}
		if inCgroup(dir, 1) && path != "/" {
			t.Errorf("%s: pid 1 is in this test's cgroup %s", ctl, dir)
		}
		checked++
	}
	t.Logf("checked %d v1 controllers", checked)
}

// cgroupMode agrees with the mount table: where cgroup2 is mounted.
func TestCgroupModeMatchesMounts(t *testing.T) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	cg2 := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if sep := slices.Index(f, "-"); sep > 4 && sep+1 < len(f) && f[sep+1] == "cgroup2" {
			cg2[f[4]] = true
		}
	}
	want := cgroupLegacy
	if cg2["/sys/fs/cgroup"] {
		want = cgroupUnified
	} else if cg2["/sys/fs/cgroup/unified"] {
		want = cgroupHybrid
	}
	if got := cgroupMode(); got != want {
		t.Fatalf("cgroupMode %d, the mount table says %d", got, want)
	}
	t.Logf("cgroup mode %d (0 legacy, 1 hybrid, 2 unified)", want)
}

// TestVerifySeccomp: a process that starts through runh-init is checked for
// runh's init and filter in its root whether or not a client profile is
// stacked under runh's; with one, Seccomp 2 (the client's filter) is needed
// too but is not enough. This test's own root has no /dev/.runh, so every
// fast-path case fails on the files.
func TestVerifySeccomp(t *testing.T) {
	init := sandbox.InitArgs("uid=65534", []string{"sh"})
	mounts := []specs.Mount{{Destination: sandbox.InitPath, Source: "/bin/true"}, {Destination: sandbox.FilterPath, Source: "/dev/null"}}
	client := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for _, tc := range []struct {
		name    string
		seccomp string
		args    []string
		profile *specs.LinuxSeccomp
		wantErr string
	}{
		{"runc installs the profile", "2", []string{"sh"}, client, ""},
		{"runc installed nothing", "0", []string{"sh"}, client, "Seccomp is \"0\""},
		{"fast path, files missing", "0", init, nil, "no seccomp filter"},
		{"stacked, client filter only", "2", init, client, "no seccomp filter"},
		{"stacked, no filter at all", "0", init, client, "Seccomp is \"0\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Process: &specs.Process{Args: tc.args}, Mounts: mounts, Linux: &specs.Linux{Seccomp: tc.profile}}
			err := verifySeccomp(os.Getpid(), map[string]string{"Seccomp": tc.seccomp}, s)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestKernelReportsSeccompFilters agrees with this kernel's
// /proc/self/status.
func TestKernelReportsSeccompFilters(t *testing.T) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	release, ok := kernelReportsSeccompFilters()
	if has := strings.Contains(string(data), "\nSeccomp_filters:"); ok != has {
		t.Fatalf("kernel %s: fast path %v, but Seccomp_filters reported: %v", release, ok, has)
	}
}
