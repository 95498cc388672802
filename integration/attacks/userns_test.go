package attacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ontoHostRoot is a user namespace whose mapping puts container uid 65534
// (the uid runh's non-root rule gives the workload) on host uid 0.
func ontoHostRoot(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65534}, {ContainerID: 65534, HostID: 0, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// TestUsernsMappingOntoHostRoot: a user namespace mapping onto host root
// (runh issue 13). With uidMappings [{0,100000,65534},{65534,0,1}] runh's
// own rewrite of the process to uid 65534 would land the workload on host
// uid 0. Plain runc runs it (the host sees the container's init as uid 0);
// runh refuses linux.uidMappings under rule id-mappings.
func TestUsernsMappingOntoHostRoot(t *testing.T) {
	rfs := privateRootfs(t)
	c := newCtr(t, "sleep", "30")
	cleanupCtr(t, c)
	c.Edit(func(s *specs.Spec) {
		s.Root.Path = rfs
		ontoHostRoot(s)
		s.Process.User = specs.User{UID: 65534, GID: 0}
	})

	// Plain runc: the init, uid 65534 inside, is uid 0 on the host.
	mustOK(t, c.Runc("create", c.ID), "runc create")
	mustOK(t, c.Runc("start", c.ID), "runc start")
	pid := initPid(t, c, c.ID)
	uid := statusField(t, pid, "Uid")
	if uid != "0 0 0 0" {
		t.Fatalf("plain runc: the container's init (pid %d) has host Uid %q, want 0", pid, uid)
	}
	t.Logf("plain runc: container uid 65534 is host Uid %q (pid %d, /proc/%d/status)", uid, pid, pid)
	mustOK(t, c.Runc("delete", "--force", c.ID), "runc delete")

	// runh refuses the mapping.
	before := readFile(t, c.Config())
	r := c.Runh("create", c.ID)
	c.Refused(r, before, "linux.uidMappings", "id-mappings")
	noLeftovers(t, c, "refused create")
	t.Logf("runh: %s", strings.TrimSpace(r.Stderr))

	// run, with the client asking for uid 0 (runh's rewrite to 65534 is
	// what would reach host root): refused the same way.
	c.Edit(func(s *specs.Spec) { s.Process.User = specs.User{} })
	before = readFile(t, c.Config())
	r = c.Runh("run", c.ID)
	c.Refused(r, before, "linux.uidMappings", "id-mappings")
	noLeftovers(t, c, "refused run")
}

// TestIdmappedMountOntoHostRoot: an idmapped bind mount with a mapping
// onto host uid 0 (runh issue 13): runh refuses mounts[i].uidMappings
// under rule id-mappings, both as options ["bind","idmap"] and as type
// bind with the mapping fields alone.
//
// Plain runc half: runc writes a mount's mapping as the uid_map of the
// mount's user namespace, "containerID hostID size", so on-disk id
// containerID shows as host id hostID in the mount. This mapping
// ({65534 -> 0}) shows the volume's nobody-owned files as host root's;
// the container's own user (65534 in a user namespace on 100000+) has no
// on-disk id in it and cannot write at all. The dangerous direction, an
// on-disk 0 shown as the container's user, is TestIdmappedMountOnDiskRoot.
func TestIdmappedMountOntoHostRoot(t *testing.T) {
	rfs := privateRootfs(t)
	vol := filepath.Join(filepath.Dir(rfs), "vol")
	if err := os.Mkdir(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(vol, 0o777)
	c := newCtr(t, "sh", "-c", "touch /mnt/made-in-container && ls -ln /mnt/made-in-container")
	cleanupCtr(t, c)
	var idx int
	c.Edit(func(s *specs.Spec) {
		s.Root.Path = rfs
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Process.User = specs.User{UID: 65534, GID: 65534}
		idx = len(s.Mounts)
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/mnt", Type: "bind", Source: vol, Options: []string{"bind", "idmap"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 65534, HostID: 0, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 65534, HostID: 0, Size: 1}},
		})
	})

	made := filepath.Join(vol, "made-in-container")
	r := c.Runc("run", c.ID)
	if owner, err := fileOwner(made); r.Code == 0 && err == nil {
		t.Logf("plain runc: the container made %s, host owner %d", made, owner)
	} else {
		t.Logf("plain runc: no host-root effect with this direction (exit %d: %s); see TestIdmappedMountOnDiskRoot", r.Code, strings.TrimSpace(r.Stdout+r.Stderr))
	}
	os.Remove(made)

	before := readFile(t, c.Config())
	r = c.Runh("run", c.ID)
	c.Refused(r, before, fmt.Sprintf("mounts[%d].uidMappings", idx), "id-mappings")
	noLeftovers(t, c, "refused run (idmap option)")
	if _, err := os.Stat(made); err == nil {
		t.Error("runh's refused run made the file")
	}

	c.Edit(func(s *specs.Spec) { s.Mounts[idx].Options = []string{"rbind"} })
	before = readFile(t, c.Config())
	r = c.Runh("create", c.ID)
	c.Refused(r, before, fmt.Sprintf("mounts[%d].uidMappings", idx), "id-mappings")
	noLeftovers(t, c, "refused create (mapping fields)")
}

// TestIdmappedMountOnDiskRoot: an idmapped bind mount that shows the
// volume's host-root files as the container's own user (runh issue 13,
// rule id-mappings). runc writes a mount's mapping as "containerID hostID
// size" (on-disk containerID shows as host id hostID), so
// {containerID: 0, hostID: 165534} makes on-disk uid 0 the container's
// uid 65534 (host 165534 through the container's own, allowed, user
// namespace [{0,100000,65536}]). Every host id in both mappings is at or
// above the floor, yet the container's user owns the volume's root files:
// it rewrites a root-owned file and leaves a setuid-root executable on the
// host. The volume can be any host directory that is not on the
// host-mounts list (/usr/local/bin, /opt, /var/lib/...).
func TestIdmappedMountOnDiskRoot(t *testing.T) {
	rfs := privateRootfs(t)
	vol := filepath.Join(filepath.Dir(rfs), "vol") // root's, 0755
	if err := os.Mkdir(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	hostBin := filepath.Join(vol, "host-binary")
	if err := os.WriteFile(hostBin, []byte("#!/bin/sh\necho original\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCtr(t, "sh", "-c", "id -u; echo pwned >> /mnt/host-binary; touch /mnt/suid-root && chmod 4755 /mnt/suid-root; ls -ln /mnt; grep Seccomp: /proc/self/status")
	cleanupCtr(t, c)
	var idx int
	c.Edit(func(s *specs.Spec) {
		s.Root.Path = rfs
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Process.User = specs.User{UID: 65534, GID: 65534}
		idx = len(s.Mounts)
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/mnt", Type: "bind", Source: vol, Options: []string{"bind", "idmap"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 165534, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 165534, Size: 1}},
		})
	})
	suid := filepath.Join(vol, "suid-root")
	effect := func() string {
		var what []string
		if fi, err := os.Stat(suid); err == nil {
			if owner, _ := fileOwner(suid); owner == 0 && fi.Mode()&os.ModeSetuid != 0 {
				what = append(what, fmt.Sprintf("%s is a setuid-root file on the host (%v)", suid, fi.Mode()))
			}
		}
		if data, _ := os.ReadFile(hostBin); strings.Contains(string(data), "pwned") {
			what = append(what, fmt.Sprintf("root-owned %s was rewritten", hostBin))
		}
		return strings.Join(what, "; ")
	}
	reset := func() {
		os.Remove(suid)
		os.WriteFile(hostBin, []byte("#!/bin/sh\necho original\n"), 0o755)
	}

	r := c.Runc("run", c.ID+"-runc")
	if e := effect(); e == "" {
		t.Fatalf("plain runc did not show the effect (exit %d):\n%s%s", r.Code, r.Stdout, r.Stderr)
	} else {
		t.Logf("plain runc: %s", e)
	}
	reset()

	before := readFile(t, c.Config())
	r = c.Runh("run", c.ID)
	if e := effect(); e != "" {
		t.Errorf("ATTACK SUCCEEDED against runh (exit %d): %s\ncontainer said:\n%s%s\nconfig: mounts[%d] = bind of %s with options [bind idmap], uidMappings/gidMappings [{containerID 0, hostID 165534, size 1}], linux.uidMappings/gidMappings [{0,100000,65536}], a user namespace",
			r.Code, e, r.Stdout, r.Stderr, idx, vol)
	} else if r.Code != 0 {
		c.Refused(r, before, fmt.Sprintf("mounts[%d]", idx), "id-mappings")
		noLeftovers(t, c, "refused run")
	}
	reset()
	if after := readFile(t, c.Config()); string(after) != string(before) {
		t.Error("config.json changed")
	}
}
