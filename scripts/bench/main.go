// Command bench compares runh with plain runc on a busybox bundle running
// `true`, interleaved round-robin in one run so that machine noise hits every
// variant alike, and prints medians and ratios. It is a benchmark, not a
// test: nothing here asserts on timings.
//
//	sudo go run ./scripts/bench [-rounds 30] [-out bench-results.md]
//
// Modes: as is, pinned to one CPU (taskset -c 0, re-executing itself), and
// under a 50% CPU quota (a cgroup v1/v2 cpu limit on a parent cgroup that
// the runner and every container sit in), which emulates a small edge board.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	mseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/seccomp"
)

var (
	rounds = flag.Int("rounds", 30, "interleaved rounds per mode")
	out    = flag.String("out", "", "also write the results (markdown) to this file")
	modes  = flag.String("modes", "normal,one-cpu,half-cpu", "comma-separated: normal, one-cpu, half-cpu")
	mode   = flag.String("mode", "", "internal: run one mode in this process")
	work   = flag.String("work", "_build/bench", "work directory")
	base   = flag.String("baseline", "", "directory of another build's bin/ (runh, runh-core, runh-init, runc): its runh runs as variant runh-run-baseline, interleaved with this one")
)

const cgroupName = "runh-bench"

func main() {
	flag.Parse()
	top, _ := filepath.Abs(".")
	bin := func(n string) string { return filepath.Join(top, "bin", n) }
	if err := os.MkdirAll(*work, 0o755); err != nil {
		fatal(err)
	}
	w, _ := filepath.Abs(*work)
	if *mode != "" {
		if err := runMode(*mode, w, bin); err != nil {
			fatal(err)
		}
		return
	}
	if os.Geteuid() != 0 {
		fatal(fmt.Errorf("bench runs containers: run it as root"))
	}
	if err := prepare(w, bin); err != nil {
		fatal(err)
	}
	var report strings.Builder
	host, _ := os.Hostname()
	cpu := cpuModel()
	fmt.Fprintf(&report, "runh bench, %s, %s, %d CPUs (%s), kernel %s, %d rounds per mode\n\n",
		time.Now().UTC().Format("2006-01-02"), host, goruntime.NumCPU(), cpu, kernel(), *rounds)
	for _, m := range strings.Split(*modes, ",") {
		args := []string{"-mode", m, "-rounds", strconv.Itoa(*rounds), "-work", w, "-baseline", *base}
		self, _ := os.Executable()
		var cmd *exec.Cmd
		if m == "one-cpu" {
			cmd = exec.Command("taskset", append([]string{"-c", "0", self}, args...)...)
		} else {
			cmd = exec.Command(self, args...)
		}
		cmd.Stderr = os.Stderr
		res, err := cmd.Output()
		if err != nil {
			fatal(fmt.Errorf("mode %s: %w", m, err))
		}
		report.Write(res)
	}
	report.WriteString(sizeAndRSS(w, bin))
	removeCgroups()
	fmt.Print(report.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report.String()), 0o644); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// variant is one bundle, run with one runtime.
type variant struct {
	name, runtime, bundle, what string
	// globals go before the command (runh's --runh-config).
	globals []string
}

func variants(w string, bin func(string) string) []variant {
	vs := []variant{
		{"runc-plain", bin("runc"), w + "/plain", "runc, no hardening at all (the floor)", nil},
		{"runc-docker", bin("runc"), w + "/docker", "runc, Docker's default profile (x86_64, x86, x32)", nil},
		{"runc-docker-native", bin("runc"), w + "/docker-native", "runc, Docker's default profile, native arch only", nil},
		{"runc-runh-json", bin("runc"), w + "/runh-json", "runc, runh's profile passed as JSON (runc compiles it)", nil},
		{"runh-run", bin("runh"), w + "/runh", "runh run, restricted (precompiled filter; the default audit log)", nil},
		{"runh-run-metrics", bin("runh"), w + "/runh", "runh run, restricted, with an operator config that also sets metrics_dir", []string{"--runh-config", w + "/" + metricsConfig}},
		{"runc-hardened", bin("runc"), w + "/hardened", "runc on the config.json runh wrote (the spec's own cost, without runh's process)", nil},
		{"runc-plain-userns", bin("runc"), w + "/plain-userns", "runc, no hardening, in a user namespace of its own (the kernel's cost of one)", nil},
		{"runh-run-userns", bin("runh"), w + "/runh", "runh run, profile userns (a pool range, idmapped rootfs)", []string{"--runh-profile", "userns"}},
	}
	if *base != "" {
		vs = append(vs, variant{"runh-run-baseline", filepath.Join(*base, "runh"), w + "/runh", "runh run, restricted, the -baseline build", nil})
	}
	return vs
}

// prepare builds the rootfs and one bundle per variant.
func prepare(w string, bin func(string) string) error {
	rootfs := w + "/rootfs"
	if _, err := os.Stat(rootfs + "/bin/busybox"); err != nil {
		for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp", "run", "var/tmp"} {
			os.MkdirAll(filepath.Join(rootfs, d), 0o755)
		}
		bb, err := exec.LookPath("busybox")
		if err != nil {
			return err
		}
		data, _ := os.ReadFile(bb)
		os.WriteFile(rootfs+"/bin/busybox", data, 0o755)
		os.Symlink("busybox", rootfs+"/bin/true")
		os.Symlink("busybox", rootfs+"/bin/sleep")
	}
	base, err := runcSpec(bin("runc"), w)
	if err != nil {
		return err
	}
	base.Root = &specs.Root{Path: rootfs, Readonly: true}
	base.Process.Terminal = false
	base.Process.Args = []string{"true"}
	bounding := base.Process.Capabilities.Bounding
	docker := func(compat bool) *specs.LinuxSeccomp {
		p, err := seccomp.Resolve(mseccomp.DefaultProfile(), seccomp.Options{GOARCH: goruntime.GOARCH, Bounding: bounding, Compat: compat})
		if err != nil {
			fatal(err)
		}
		return p
	}
	runhProfile, err := seccomp.Resolve(seccomp.Default(), seccomp.Options{GOARCH: goruntime.GOARCH})
	if err != nil {
		return err
	}
	for dir, sc := range map[string]*specs.LinuxSeccomp{
		"plain": nil, "docker": docker(true), "docker-native": docker(false), "runh-json": runhProfile, "runh": nil,
	} {
		s := *base
		l := *base.Linux
		l.Seccomp = sc
		l.CgroupsPath = "/" + cgroupName + "/" + dir
		s.Linux = &l
		if err := writeJSON(filepath.Join(w, dir, "config.json"), &s); err != nil {
			return err
		}
	}
	// plain in a user namespace, on a range of its own above runh's pool.
	pu := *base
	lu := *base.Linux
	lu.CgroupsPath = "/" + cgroupName + "/plain-userns"
	lu.Namespaces = append(slices.Clone(lu.Namespaces), specs.LinuxNamespace{Type: specs.UserNamespace})
	lu.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0x7fff0000, Size: 65536}}
	lu.GIDMappings = lu.UIDMappings
	pu.Linux = &lu
	if err := writeJSON(filepath.Join(w, "plain-userns", "config.json"), &pu); err != nil {
		return err
	}
	// The operator config of runh-run-metrics: the audit log and runh.prom
	// in the work directory.
	aw, err := filepath.Abs(w)
	if err != nil {
		return err
	}
	os.MkdirAll(aw+"/metrics", 0o755)
	cfg := fmt.Sprintf("audit_log = %q\nmetrics_dir = %q\n", aw+"/audit/audit.jsonl", aw+"/metrics")
	if err := os.WriteFile(w+"/"+metricsConfig, []byte(cfg), 0o644); err != nil {
		return err
	}
	// runh rewrites its bundle's config.json; every runh call gets this
	// client config afresh, as from an engine.
	return copyFile(w+"/runh/config.json", w+"/"+clientConfig)
}

// metricsConfig is runh-run-metrics' operator config.
const metricsConfig = "runh-metrics.toml"

// clientConfig is the runh bundle's config.json as the client wrote it.
const clientConfig = "runh-client.json"

func runcSpec(runc, w string) (*specs.Spec, error) {
	dir := w + "/spec"
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command(runc, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("runc spec: %v %s", err, out)
	}
	data, err := os.ReadFile(dir + "/config.json")
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	return &s, json.Unmarshal(data, &s)
}

func writeJSON(path string, v any) error {
	os.MkdirAll(filepath.Dir(path), 0o755)
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// runMode measures every variant, interleaved, in this process.
func runMode(m, w string, bin func(string) string) error {
	// Be a subreaper, as containerd's shim and conmon are: a container's
	// init is reparented to us when runc exits, and we reap it at once
	// (this VM's pid 1 reaps slowly).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	if m == "half-cpu" {
		cleanup, err := cpuQuota(50)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	state := w + "/state-" + m
	os.RemoveAll(state)
	defer os.RemoveAll(state)
	env := os.Environ()
	vs := variants(w, bin)
	times := map[string][]time.Duration{}
	var order []string
	record := func(name string, c cost) {
		if _, ok := times[name]; !ok {
			order = append(order, name)
		}
		times[name] = append(times[name], c.wall)
		times[name+"/cpu"] = append(times[name+"/cpu"], c.cpu)
	}
	// run returns the wall time and the CPU time (user+sys of the runtime
	// and every descendant it waited for). CPU time is the steadier of the
	// two on a shared VM: it does not count time spent waiting for a CPU.
	run := func(rt string, args ...string) (cost, error) {
		cmd := exec.Command(rt, append([]string{"--root", state}, args...)...)
		cmd.Env = env
		// nil stdout is /dev/null: a pipe would be held open by a detached
		// container and Wait would never return.
		cmd.Stderr = os.Stderr
		start := time.Now()
		err := cmd.Run()
		c := cost{wall: time.Since(start)}
		if cmd.ProcessState != nil {
			c.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		return c, err
	}
	// A long-lived container for the pass-through comparison.
	if _, err := run(bin("runc"), "run", "--detach", "--bundle", w+"/plain-sleep", "sleeper"); err != nil {
		if err := sleeperBundle(w); err != nil {
			return err
		}
		if _, err := run(bin("runc"), "run", "--detach", "--bundle", w+"/plain-sleep", "sleeper"); err != nil {
			return fmt.Errorf("sleeper: %w", err)
		}
	}
	defer run(bin("runc"), "delete", "--force", "sleeper")
	// Engines write a new config.json for every container, so runh gets the
	// client's config before each call (outside the timing) and hardens and
	// saves it each time, as it does behind an engine.
	fresh := func() error { return copyFile(w+"/"+clientConfig, w+"/runh/config.json") }
	// The hardened bundle is what runh wrote for the runh variant.
	if err := fresh(); err != nil {
		return err
	}
	if _, err := run(bin("runh"), "run", "--bundle", w+"/runh", "harden-once"); err != nil {
		return fmt.Errorf("runh: %w", err)
	}
	if err := copyFile(w+"/runh/config.json", w+"/hardened/config.json"); err != nil {
		return err
	}
	// Every measurement of a round is one job; the jobs run in a new random
	// order each round (fixed seed, so a run can be repeated). A fixed order
	// biased the results: on this VM a container start is several ms slower
	// or faster depending on what ran just before it.
	type job struct {
		name string
		do   func(i int) error
	}
	var jobs []job
	for _, v := range vs {
		jobs = append(jobs, job{v.name, func(i int) error {
			if filepath.Base(v.runtime) == "runh" {
				if err := fresh(); err != nil {
					return err
				}
			}
			d, err := run(v.runtime, append(append([]string{}, v.globals...), "run", "--bundle", v.bundle, fmt.Sprintf("%s-%d", v.name, i))...)
			if err == nil && i > 0 { // round 0 warms caches (and runh's filter cache)
				record(v.name, d)
			}
			return err
		}})
	}
	for _, rt := range []struct{ name, bin, bundle string }{
		{"cycle-runc", bin("runc"), w + "/plain"}, {"cycle-runh", bin("runh"), w + "/runh"},
	} {
		jobs = append(jobs, job{rt.name, func(i int) error {
			if rt.bin == bin("runh") {
				if err := fresh(); err != nil {
					return err
				}
			}
			steps, err := cycle(run, rt.bin, rt.bundle, fmt.Sprintf("%s-%d", rt.name, i), state)
			if err == nil && i > 0 {
				var total cost
				for j, d := range steps {
					record(fmt.Sprintf("%s-%d", rt.name, j), d)
					total.wall += d.wall
					total.cpu += d.cpu
				}
				record(rt.name, total)
			}
			return err
		}})
	}
	for _, rt := range []struct{ name, bin string }{{"state-runc", bin("runc")}, {"state-runh", bin("runh")}} {
		jobs = append(jobs, job{rt.name, func(i int) error {
			d, err := run(rt.bin, "state", "sleeper")
			if err == nil && i > 0 {
				record(rt.name, d)
			}
			return err
		}})
	}
	rng := rand.New(rand.NewPCG(1, uint64(len(m))))
	for i := 0; i < *rounds+1; i++ {
		rng.Shuffle(len(jobs), func(a, b int) { jobs[a], jobs[b] = jobs[b], jobs[a] })
		for _, j := range jobs {
			if err := j.do(i); err != nil {
				return fmt.Errorf("%s: %w", j.name, err)
			}
		}
	}
	med := map[string]float64{}
	for _, n := range order {
		med[n] = median(times[n])
		med[n+"/cpu"] = median(times[n+"/cpu"])
	}
	row := func(what, name, base string) {
		fmt.Printf("| %s | %.1f | %.2f× | %.1f | %.2f× |\n", what, med[name], med[name]/med[base], med[name+"/cpu"], med[name+"/cpu"]/med[base+"/cpu"])
	}
	fmt.Printf("### mode: %s\n\n| variant | wall ms | wall vs runc | CPU ms | CPU vs runc |\n|---|---:|---:|---:|---:|\n", m)
	for _, v := range vs {
		row(v.name+": "+v.what, v.name, "runc-plain")
	}
	row("engine path (create, start, wait, delete): runc on the plain bundle", "cycle-runc", "cycle-runc")
	row("engine path: runh (with post-create verification)", "cycle-runh", "cycle-runc")
	for j, step := range []string{"create", "start", "wait", "delete"} {
		row("engine path step "+step+": runh vs runc", fmt.Sprintf("cycle-runh-%d", j), fmt.Sprintf("cycle-runc-%d", j))
	}
	fmt.Printf("| `state` pass-through: runc / runh | %.2f / %.2f | +%.2f ms | | |\n\n", med["state-runc"], med["state-runh"], med["state-runh"]-med["state-runc"])
	fmt.Printf("runh-run vs runc-docker: %.2f× faster (CPU: %.2f× less)\n\n", med["runc-docker"]/med["runh-run"], med["runc-docker/cpu"]/med["runh-run/cpu"])
	return nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	os.MkdirAll(filepath.Dir(to), 0o755)
	return os.WriteFile(to, data, 0o644)
}

func sleeperBundle(w string) error {
	data, err := os.ReadFile(w + "/plain/config.json")
	if err != nil {
		return err
	}
	var s specs.Spec
	json.Unmarshal(data, &s)
	s.Process.Args = []string{"sleep", "3600"}
	s.Linux.CgroupsPath = "/" + cgroupName + "/sleeper"
	return writeJSON(w+"/plain-sleep/config.json", &s)
}

// cycle is what engines do: create (with a pid file), start, wait for the
// init to exit, delete. It returns the time of each of the four steps.
// cost is what one call took: wall-clock and CPU time.
type cost struct{ wall, cpu time.Duration }

func cycle(run func(string, ...string) (cost, error), rt, bundle, id, state string) ([]cost, error) {
	pidFile := filepath.Join(state, id+".pid")
	dc, err := run(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	ds, err := run(rt, "start", id)
	if err != nil {
		return nil, err
	}
	// The init is our child now (we are a subreaper): wait for it.
	t := time.Now()
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	if _, err := syscall.Wait4(pid, &ws, 0, &ru); err != nil {
		return nil, fmt.Errorf("wait for %s: %w", id, err)
	}
	dw := cost{time.Since(t), time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	dd, err := run(rt, "delete", id)
	if err != nil {
		return nil, err
	}
	os.Remove(pidFile)
	return []cost{dc, ds, dw, dd}, nil
}

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n == 0 {
		return 0
	}
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return float64(m) / float64(time.Millisecond)
}

// cpuQuota puts this process (and so every runtime and container it starts,
// which use cgroupsPath /runh-bench/...) under a CPU quota of pct percent of
// one CPU.
// The period is 10 ms, not the kernel's default 100 ms: a container start
// takes ~30 ms of CPU, and with a 100 ms period whether a start fits in one
// period's quota or waits out the next decided its wall time (medians that
// jumped by 30 ms from run to run). A short period spreads the limit evenly,
// as a slow core would.
func cpuQuota(pct int) (func(), error) {
	if dir := "/sys/fs/cgroup/cpu,cpuacct"; exists(dir) || exists("/sys/fs/cgroup/cpu") {
		if !exists(dir) {
			dir = "/sys/fs/cgroup/cpu"
		}
		cg := filepath.Join(dir, cgroupName)
		os.Mkdir(cg, 0o755)
		if err := os.WriteFile(cg+"/cpu.cfs_period_us", []byte("10000"), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(cg+"/cpu.cfs_quota_us", []byte(strconv.Itoa(pct*100)), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(cg+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return nil, err
		}
		return func() {
			os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644)
			os.WriteFile(cg+"/cpu.cfs_quota_us", []byte("-1"), 0o644)
		}, nil
	}
	cg := "/sys/fs/cgroup/" + cgroupName
	os.Mkdir(cg, 0o755)
	if err := os.WriteFile(cg+"/cpu.max", []byte(fmt.Sprintf("%d 10000", pct*100)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(cg+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	return func() {
		os.WriteFile("/sys/fs/cgroup/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644)
		os.WriteFile(cg+"/cpu.max", []byte("max 100000"), 0o644)
	}, nil
}

// removeCgroups deletes the (empty) runh-bench cgroups the containers used,
// children first, in every hierarchy.
func removeCgroups() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupName + "/*")
	more, _ := filepath.Glob("/sys/fs/cgroup/" + cgroupName + "/*")
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupName)
	for _, d := range append(append(dirs, more...), append(parents, "/sys/fs/cgroup/"+cgroupName)...) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			os.Remove(d)
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// sizeAndRSS reports the stripped binary sizes and runh's peak RSS on the
// harden path (create with /bin/true standing in for runc, so the child
// adds next to nothing).
func sizeAndRSS(w string, bin func(string) string) string {
	var b strings.Builder
	b.WriteString("### size and memory\n\n")
	for _, n := range []string{"runh", "runh-core", "runh-init", "runc"} {
		if fi, err := os.Stat(bin(n)); err == nil {
			fmt.Fprintf(&b, "- %s: %.2f MiB\n", n, float64(fi.Size())/(1<<20))
		}
	}
	os.MkdirAll(w+"/rss", 0o755)
	data, _ := os.ReadFile(w + "/runh/config.json")
	os.WriteFile(w+"/rss/config.json", data, 0o644)
	cmd := exec.Command(bin("runh"), "--root", w+"/rss-state", "create", "--bundle", w+"/rss", "rss")
	cmd.Run()
	exec.Command(bin("runc"), "--root", w+"/rss-state", "delete", "--force", "rss").Run()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintf(&b, "- runh peak RSS on create (harden, save, verify attempt): %.1f MiB\n", float64(ru.Maxrss)/1024)
	}
	return b.String()
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	var u syscall.Utsname
	syscall.Uname(&u)
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
