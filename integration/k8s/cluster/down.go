package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// down stops the cluster and removes what up made, then checks that
// nothing is left: a leftover is an error, not a warning.
func down() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	var pre preState
	b, err := os.ReadFile(path("pre.json"))
	if err == nil {
		err = json.Unmarshal(b, &pre)
	}
	havePre := err == nil
	if pid, ok := alive(path("supervisor.pid")); ok {
		logf("stopping the supervisor (pid %d): pods, then the components", pid)
		syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(3 * time.Minute)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Whatever the cluster started and is still running: processes that
	// name the state dir (components, shims), and those in the kubelet's
	// cgroups (containers whose shim died).
	killLeftovers(pre)
	if _, err := os.Stat(k8sBin("kube-proxy")); err == nil {
		exec.Command(k8sBin("kube-proxy"), "--cleanup").Run()
	}
	unmountUnder(stateDir)
	for _, ns := range names("/run/netns") {
		if havePre && !slices.Contains(pre.Netns, ns) && strings.HasPrefix(ns, "cni-") {
			unix.Unmount("/run/netns/"+ns, unix.MNT_DETACH)
			os.Remove("/run/netns/" + ns)
		}
	}
	for _, l := range []string{podBridge, apiDummy} {
		exec.Command("ip", "link", "del", l).Run()
	}
	if havePre {
		restoreIPTables(pre)
		removeCgroups(pre)
		for s, v := range pre.Sysctls {
			os.WriteFile("/proc/sys/"+s, []byte(v), 0o644)
		}
		if pre.ContainerdConfig {
			if b, err := os.ReadFile(path("backup", "config.toml")); err == nil {
				writeFileAtomic(hostContainerdConfig, b)
			}
		} else {
			os.Remove(hostContainerdConfig)
		}
		// runh install's backups of the config, made by the installer.
		bk, _ := filepath.Glob(hostContainerdConfig + ".runh-backup-*")
		for _, f := range bk {
			os.Remove(f)
		}
		if !pre.OptRunh {
			os.RemoveAll(hostRunhDir)
		}
		for _, n := range names("/var/log/containers") {
			if !slices.Contains(pre.VarLogContainers, n) {
				os.Remove(filepath.Join("/var/log/containers", n))
			}
		}
		for _, n := range names("/run/containerd/runc/k8s.io") {
			if !slices.Contains(pre.RuncK8s, n) {
				os.RemoveAll(filepath.Join("/run/containerd/runc/k8s.io", n))
			}
		}
		if !pre.RuncK8sDir {
			os.Remove("/run/containerd/runc/k8s.io")
		}
	}
	os.Remove(hostPidfile)
	left := leftovers(pre, havePre)
	if err := os.RemoveAll(stateDir); err != nil {
		left = append(left, err.Error())
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  "))
	}
	logf("stopped; nothing left behind")
	return nil
}

// otherPids lists every process but this one.
func otherPids() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killLeftovers(pre preState) {
	for _, pid := range otherPids() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if strings.Contains(string(cmdline), stateDir) || (len(pre.Cgroups) == 0 && strings.Contains(string(cg), ":/kubepods")) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(300 * time.Millisecond)
}

// unmountUnder detaches every mount below dir, deepest first (the
// kubelet's volumes, containerd's snapshots and shm mounts).
func unmountUnder(dir string) {
	for i := 0; i < 3; i++ {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return
		}
		sort.Slice(mps, func(a, b int) bool { return len(mps[a]) > len(mps[b]) })
		for _, m := range mps {
			unix.Unmount(m, unix.MNT_DETACH)
		}
	}
}

func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out
}

// restoreIPTables deletes the rules and chains that appeared since up
// (kube-proxy's KUBE-*, the kubelet's canaries, CNI's), leaving every
// other rule alone.
func restoreIPTables(pre preState) {
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			before := pre.IPTables[bin+" "+table]
			now := iptablesLines(bin, table)
			var chains []string
			for _, l := range now {
				if slices.Contains(before, l) || !clusterRule(l) {
					continue
				}
				if strings.HasPrefix(l, ":") {
					chains = append(chains, l[1:])
					continue
				}
				if args, err := shellSplit(l[3:]); err == nil {
					exec.Command(bin, append([]string{"-w", "-t", table, "-D"}, args...)...).Run()
				}
			}
			for _, c := range chains {
				exec.Command(bin, "-w", "-t", table, "-F", c).Run()
			}
			for _, c := range chains {
				exec.Command(bin, "-w", "-t", table, "-X", c).Run()
			}
		}
	}
}

// clusterRule: only the cluster's own chains and the rules that name
// them are touched; other daemons (Docker) change theirs meanwhile.
func clusterRule(l string) bool { return strings.Contains(l, "KUBE-") || strings.Contains(l, "CNI-") }

// shellSplit splits an iptables-save rule: words, and "quoted" words
// with \" and \\ escapes.
func shellSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			quoted, inWord = !quoted, true
		case !quoted && c == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// removeCgroups removes the kubelet's kubepods trees, deepest first, in
// every hierarchy where up did not find one.
func removeCgroups(pre preState) {
	for _, root := range kubepodsCgroups() {
		if slices.Contains(pre.Cgroups, root) {
			continue
		}
		var dirs []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			for try := 0; try < 20; try++ {
				if err := os.Remove(dirs[i]); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// leftovers lists what down should have removed and did not.
func leftovers(pre preState, havePre bool) []string {
	var left []string
	for _, m := range mountsUnder(stateDir) {
		left = append(left, "mount "+m)
	}
	for _, l := range []string{podBridge, apiDummy} {
		if exec.Command("ip", "link", "show", l).Run() == nil {
			left = append(left, "interface "+l)
		}
	}
	for _, pid := range otherPids() {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(b), stateDir) {
			left = append(left, fmt.Sprintf("process %d %s", pid, strings.ReplaceAll(string(b), "\x00", " ")))
		}
	}
	if !havePre {
		return left
	}
	for _, c := range kubepodsCgroups() {
		if !slices.Contains(pre.Cgroups, c) {
			left = append(left, "cgroup "+c)
		}
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			for _, l := range iptablesLines(bin, table) {
				if clusterRule(l) && !slices.Contains(pre.IPTables[bin+" "+table], l) {
					left = append(left, fmt.Sprintf("%s -t %s: %s", bin, table, l))
				}
			}
		}
	}
	if _, err := os.Stat(hostRunhDir); err == nil && !pre.OptRunh {
		left = append(left, hostRunhDir)
	}
	return left
}
