package sandbox

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specTypePaths lists every field path of t as the surface table names
// them, recursing through pointers, structs, slices, arrays and maps. It
// is written apart from compileSurface, so a bug there is not mirrored here.
func specTypePaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		specTypePaths(t.Elem(), prefix+"[]", out)
		return
	case reflect.Map:
		specTypePaths(t.Elem(), prefix+"{}", out)
		return
	case reflect.Struct:
	default:
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			specTypePaths(f.Type, prefix, out) // encoding/json flattens it
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		*out = append(*out, path)
		specTypePaths(f.Type, path, out)
	}
}

// parentPaths are the paths above p: "a[].b.c" has "a[].b" and "a".
func parentPaths(p string) []string {
	var out []string
	for {
		i := strings.LastIndexAny(p, ".[{")
		if i < 0 {
			return out
		}
		p = p[:i]
		out = append(out, p)
	}
}

// TestSurfaceClassifiesEverySpecField: every field of specs.Spec has
// exactly one class (unless a Refused field above it covers it), and every
// entry names a real field. Bumping runtime-spec fails here until each new
// field is decided.
func TestSurfaceClassifiesEverySpecField(t *testing.T) {
	var paths []string
	specTypePaths(reflect.TypeFor[specs.Spec](), "", &paths)
	if len(paths) < 300 {
		t.Fatalf("only %d field paths: the walk is broken", len(paths))
	}
	real := map[string]bool{}
	for _, p := range paths {
		real[p] = true
	}
	table := map[string]SurfaceEntry{}
	for _, e := range surface {
		if _, dup := table[e.Path]; dup {
			t.Errorf("%s: classified twice", e.Path)
		}
		table[e.Path] = e
	}
	refusedAbove := func(p string) string {
		for _, up := range parentPaths(p) {
			if e, ok := table[up]; ok && e.Class == Refused {
				return up
			}
		}
		return ""
	}
	covered := 0
	for _, p := range paths {
		_, ok := table[p]
		switch above := refusedAbove(p); {
		case above != "" && ok:
			t.Errorf("%s: classified, but %s above it is refused: remove the entry", p, above)
		case above != "":
			covered++
		case !ok:
			t.Errorf("%s: field has no class: decide hardened, checked, allowed or refused in sandbox/surface.go", p)
		}
	}
	for _, e := range surface {
		if !real[e.Path] {
			t.Errorf("%s: the table names no field of specs.Spec", e.Path)
		}
	}
	t.Logf("%d field paths: %d classified, %d covered by a refused field above", len(paths), len(surface), covered)
}

// ruleNames are the Name of every Rule literal in the package's sources.
func ruleNames(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "Rule" {
				return true
			}
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
						if v, ok := kv.Value.(*ast.BasicLit); ok {
							s, _ := strconv.Unquote(v.Value)
							names[s] = true
						}
					}
				}
			}
			return true
		})
	}
	return names
}

// TestSurfaceEntries: hardened and checked fields name an existing rule,
// allowed and refused ones say why; SurfaceTable is the table, sorted.
func TestSurfaceEntries(t *testing.T) {
	rules := ruleNames(t)
	if !rules["spec-surface"] || !rules["non-root-user"] {
		t.Fatalf("rule names not found in the sources: %v", rules)
	}
	for _, e := range surface {
		switch e.Class {
		case Hardened, Checked:
			if !rules[e.Rule] {
				t.Errorf("%s: %s by rule %q, which does not exist", e.Path, e.Class, e.Rule)
			}
		case Allowed, Refused:
			if e.Rule != "" {
				t.Errorf("%s: %s fields name no rule (%q)", e.Path, e.Class, e.Rule)
			}
		default:
			t.Errorf("%s: class %v", e.Path, e.Class)
		}
		if e.Reason == "" {
			t.Errorf("%s: no reason", e.Path)
		}
	}
	got := SurfaceTable()
	if len(got) != len(surface) || !slices.IsSortedFunc(got, func(a, b SurfaceEntry) int { return strings.Compare(a.Path, b.Path) }) {
		t.Fatalf("SurfaceTable: %d entries, sorted %v", len(got), slices.IsSortedFunc(got, func(a, b SurfaceEntry) int { return strings.Compare(a.Path, b.Path) }))
	}
	got[0].Reason = "changed"
	if SurfaceTable()[0].Reason == "changed" {
		t.Fatal("SurfaceTable aliases the table")
	}
}

// surfaceCase is a rule table case: deny is the denied field, or "" when
// the spec must pass.
type surfaceCase struct {
	name   string
	mutate func(*specs.Spec)
	deny   string
	policy func(*Policy)
	check  func(*testing.T, *specs.Spec, *Env)
}

func runSurfaceCases(t *testing.T, r Rule, cases []surfaceCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := baseSpec()
			if tc.mutate != nil {
				tc.mutate(s)
			}
			e := testEnv(t)
			if tc.policy != nil {
				tc.policy(e.Policy)
			}
			err := r.Apply(e, s)
			if tc.deny != "" {
				var d *Denial
				if !errors.As(err, &d) || d.Field != tc.deny {
					t.Fatalf("want a denial of %s, got %v", tc.deny, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, s, e)
			}
			e2 := testEnv(t)
			if tc.policy != nil {
				tc.policy(e2.Policy)
			}
			if err := r.Apply(e2, s); err != nil || len(e2.Changes) != 0 {
				t.Fatalf("second apply: err %v, changes %v", err, e2.Changes)
			}
		})
	}
}

func TestRuleSpecSurface(t *testing.T) {
	u32 := func(v uint32) *uint32 { return &v }
	runSurfaceCases(t, RuleSpecSurface, []surfaceCase{
		{name: "runc spec"},
		{name: "everything allowed or checked", mutate: func(s *specs.Spec) {
			s.Hostname, s.Annotations = "box", map[string]string{"io.kubernetes.cri.sandbox-id": "x"}
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE}
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch}
			s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0"}
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux}
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
			s.Linux.Resources = &specs.LinuxResources{
				CPU:     &specs.LinuxCPU{Shares: new(uint64), Cpus: "0-1"},
				BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}}}},
				Rdma:    map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(2)}},
				Unified: map[string]string{"cpu.weight": "100"},
			}
			s.Mounts[0].UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}},
		{name: "empty sections are not set", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{}
			s.Process.CommandLine = ""
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{}}
		}},
		{name: "net devices", deny: "linux.netDevices", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth0": {Name: "eth0"}}
		}},
		{name: "an empty intelRdt is set", deny: "linux.intelRdt", mutate: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }},
		{name: "realtime runtime", deny: "linux.resources.cpu.realtimeRuntime", mutate: func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(950000)}}
		}},
		{name: "realtime period", deny: "linux.resources.cpu.realtimePeriod", mutate: func(s *specs.Spec) {
			p := uint64(1000000)
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: &p}}
		}},
		{name: "net_cls class", deny: "linux.resources.network", mutate: func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0x100001)}}
		}},
		{name: "windows command line", deny: "process.commandLine", mutate: func(s *specs.Spec) { s.Process.CommandLine = "cmd /c dir" }},
		{name: "windows user name", deny: "process.user.username", mutate: func(s *specs.Spec) { s.Process.User.Username = "admin" }},
		{name: "windows section", deny: "windows", mutate: func(s *specs.Spec) { s.Windows = &specs.Windows{} }},
		{name: "vm section", deny: "vm", mutate: func(s *specs.Spec) { s.VM = &specs.VM{Kernel: specs.VMKernel{Path: "/k"}} }},
		{name: "solaris, zos, freebsd", deny: "solaris", mutate: func(s *specs.Spec) {
			s.Solaris, s.ZOS, s.FreeBSD = &specs.Solaris{}, &specs.ZOS{}, &specs.FreeBSD{}
		}},
		{name: "no process, no linux", mutate: func(s *specs.Spec) { s.Process, s.Linux = nil, nil }},
	})
}

// TestSurfaceWalkPaths: a refused field below a slice or a map is named
// with its index or key, and a field missing from the table is refused.
func TestSurfaceWalkPaths(t *testing.T) {
	byPath := map[string]*SurfaceEntry{}
	for i := range surface {
		byPath[surface[i].Path] = &surface[i]
	}
	refuse := func(path string) map[string]*SurfaceEntry {
		m := make(map[string]*SurfaceEntry, len(byPath))
		for k, v := range byPath {
			m[k] = v
		}
		m[path] = &SurfaceEntry{Path: path, Class: Refused, Reason: "test"}
		return m
	}
	s := baseSpec()
	s.Mounts[2].UIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 1}}
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {}, "monotonic": {Secs: 1}}
	v := reflect.ValueOf(s).Elem()
	for _, tc := range []struct{ refused, want string }{
		{"mounts[].uidMappings", "mounts[2].uidMappings"},
		{"mounts[].uidMappings[].hostID", "mounts[2].uidMappings[0].hostID"},
		{"linux.timeOffsets{}.secs", "linux.timeOffsets.monotonic.secs"},
	} {
		hit := compileSurface(refuse(tc.refused)).walk(v)
		if hit == nil || hit.path() != tc.want || hit.entry == nil || hit.entry.Class != Refused {
			t.Errorf("refusing %s: hit %+v, want %s", tc.refused, hit, tc.want)
		}
	}
	missing := make(map[string]*SurfaceEntry, len(byPath))
	for k, v := range byPath {
		if k != "process.env" {
			missing[k] = v
		}
	}
	s.Process.Env = []string{"A=1"}
	hit := compileSurface(missing).walk(v)
	if hit == nil || hit.path() != "process.env" || hit.entry != nil {
		t.Fatalf("unclassified process.env: %+v", hit)
	}
	if hit := compiledSurface().walk(v); hit != nil {
		t.Fatalf("the real table refused %s", hit.path())
	}
}

// TestSpecSurfaceDenialMessage: the message says the class, or that the
// field is not classified.
func TestSpecSurfaceDenialMessage(t *testing.T) {
	s := baseSpec()
	s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth0": {}}
	err := RuleSpecSurface.Apply(testEnv(t), s)
	if err == nil || !strings.Contains(err.Error(), "(class refused)") || !strings.Contains(err.Error(), "host network interface") {
		t.Fatalf("message %v", err)
	}
}

// TestSpecSurfaceExec: exec processes are judged too (HardenProcess runs
// process rules only).
func TestSpecSurfaceExec(t *testing.T) {
	p := baseSpec().Process
	p.CommandLine = "cmd"
	err := Pipeline{Profile: "restricted", Rules: []Rule{RuleSpecSurface}, ProcessOnly: true}.Run(testEnv(t), &specs.Spec{Process: p})
	var d *Denial
	if !errors.As(err, &d) || d.Field != "process.commandLine" || d.Rule != "spec-surface" {
		t.Fatalf("exec: %v", err)
	}
}

func TestRuleIOPriority(t *testing.T) {
	io := func(c specs.IOPriorityClass, prio int) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: c, Priority: prio} }
	}
	runSurfaceCases(t, RuleIOPriority, []surfaceCase{
		{name: "unset"},
		{name: "best effort", mutate: io(specs.IOPRIO_CLASS_BE, 4)},
		{name: "best effort highest", mutate: io(specs.IOPRIO_CLASS_BE, 0)},
		{name: "idle", mutate: io(specs.IOPRIO_CLASS_IDLE, 7)},
		{name: "realtime", deny: "process.ioPriority.class", mutate: io(specs.IOPRIO_CLASS_RT, 0)},
		{name: "unknown class", deny: "process.ioPriority.class", mutate: io("IOPRIO_CLASS_NONE", 0)},
		{name: "priority 8", deny: "process.ioPriority.priority", mutate: io(specs.IOPRIO_CLASS_BE, 8)},
		{name: "negative priority", deny: "process.ioPriority.priority", mutate: io(specs.IOPRIO_CLASS_IDLE, -1)},
	})
}

func TestRuleScheduler(t *testing.T) {
	sched := func(sc specs.Scheduler) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Process.Scheduler = &sc }
	}
	rlimit := func(typ string, v uint64) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: typ, Soft: v, Hard: v})
		}
	}
	runSurfaceCases(t, RuleScheduler, []surfaceCase{
		{name: "unset"},
		{name: "other, nice 10", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: 10})},
		{name: "batch", mutate: sched(specs.Scheduler{Policy: specs.SchedBatch})},
		{name: "idle, reset on fork", mutate: sched(specs.Scheduler{Policy: specs.SchedIdle, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}})},
		{name: "nice 19", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: 19})},
		{name: "fifo", deny: "process.scheduler.policy", mutate: sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 50})},
		{name: "rr", deny: "process.scheduler.policy", mutate: sched(specs.Scheduler{Policy: specs.SchedRR, Priority: 1})},
		{name: "deadline", deny: "process.scheduler.policy", mutate: sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 1e7, Period: 1e7})},
		{name: "iso", deny: "process.scheduler.policy", mutate: sched(specs.Scheduler{Policy: specs.SchedISO})},
		{name: "empty policy", deny: "process.scheduler.policy", mutate: sched(specs.Scheduler{})},
		{name: "negative nice", deny: "process.scheduler.nice", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: -1})},
		{name: "nice 20", deny: "process.scheduler.nice", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: 20})},
		{name: "priority with other", deny: "process.scheduler.priority", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Priority: 1})},
		{name: "deadline fields with other", deny: "process.scheduler", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Runtime: 1})},
		{name: "util clamp", deny: "process.scheduler.flags[1]", mutate: sched(specs.Scheduler{Policy: specs.SchedOther,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagUtilClampMin}})},
		{name: "keep policy", deny: "process.scheduler.flags[0]", mutate: sched(specs.Scheduler{Policy: specs.SchedOther,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagKeepPolicy}})},
		{name: "RLIMIT_RTPRIO", deny: "process.rlimits[1]", mutate: rlimit("RLIMIT_RTPRIO", 1)},
		{name: "RLIMIT_RTPRIO 0", mutate: rlimit("RLIMIT_RTPRIO", 0)},
		{name: "RLIMIT_NICE 20 (nice 0)", mutate: rlimit("RLIMIT_NICE", 20)},
		{name: "RLIMIT_NICE 21 (nice -1)", deny: "process.rlimits[1]", mutate: rlimit("RLIMIT_NICE", 21)},
	})
}

func TestRulePersonality(t *testing.T) {
	pers := func(d specs.LinuxPersonalityDomain, flags ...specs.LinuxPersonalityFlag) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: d, Flags: flags} }
	}
	runSurfaceCases(t, RulePersonality, []surfaceCase{
		{name: "unset"},
		{name: "no linux", mutate: func(s *specs.Spec) { s.Linux = nil }},
		{name: "linux", mutate: pers(specs.PerLinux)},
		{name: "linux32", mutate: pers(specs.PerLinux32)},
		{name: "empty flags list", mutate: pers(specs.PerLinux32, []specs.LinuxPersonalityFlag{}...)},
		{name: "no ASLR", deny: "linux.personality.flags", mutate: pers(specs.PerLinux, "ADDR_NO_RANDOMIZE")},
		{name: "read implies exec", deny: "linux.personality.flags", mutate: pers(specs.PerLinux, "READ_IMPLIES_EXEC")},
		{name: "other domain", deny: "linux.personality.domain", mutate: pers("SVR4")},
		{name: "empty domain", deny: "linux.personality.domain", mutate: pers("")},
	})
}

func TestRuleCgroupUnified(t *testing.T) {
	unified := func(kv ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			m := map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			s.Linux.Resources = &specs.LinuxResources{Unified: m}
		}
	}
	runSurfaceCases(t, RuleCgroupUnified, []surfaceCase{
		{name: "unset"},
		{name: "no resources", mutate: func(s *specs.Spec) { s.Linux.Resources = nil }},
		{name: "cpu and io", mutate: unified("cpu.weight", "50", "cpu.max", "max 100000", "cpu.idle", "1", "io.weight", "default 100", "io.max", "8:0 rbps=1048576", "cpuset.cpus", "0-1", "cpuset.mems", "0")},
		{name: "memory.max lifts the floor", deny: "linux.resources.unified.memory.max", mutate: unified("memory.max", "max")},
		{name: "memory.high", deny: "linux.resources.unified.memory.high", mutate: unified("cpu.weight", "50", "memory.high", "1G")},
		{name: "pids.max", deny: "linux.resources.unified.pids.max", mutate: unified("pids.max", "max")},
		{name: "cgroup.procs", deny: "linux.resources.unified.cgroup.procs", mutate: unified("cgroup.procs", "1")},
		{name: "partition", deny: "linux.resources.unified.cpuset.cpus.partition", mutate: unified("cpuset.cpus.partition", "isolated")},
		{name: "path in key", deny: "linux.resources.unified.../cpu.max", mutate: unified("../cpu.max", "max")},
		{name: "smallest key named", deny: "linux.resources.unified.hugetlb.2MB.max", mutate: unified("pids.max", "max", "hugetlb.2MB.max", "max", "rdma.max", "x")},
	})
}

func TestRuleCoreDumps(t *testing.T) {
	core := func(s *specs.Spec) specs.POSIXRlimit {
		for _, rl := range s.Process.Rlimits {
			if rl.Type == "RLIMIT_CORE" {
				return rl
			}
		}
		return specs.POSIXRlimit{Soft: 1}
	}
	zero := func(t *testing.T, s *specs.Spec, e *Env) {
		if rl := core(s); rl.Soft != 0 || rl.Hard != 0 || len(e.Changes) != 1 {
			t.Fatalf("RLIMIT_CORE %+v, changes %v", rl, e.Changes)
		}
	}
	runSurfaceCases(t, RuleCoreDumps, []surfaceCase{
		{name: "added", check: func(t *testing.T, s *specs.Spec, e *Env) {
			zero(t, s, e)
			if len(s.Process.Rlimits) != 2 || s.Process.Rlimits[0].Type != "RLIMIT_NOFILE" {
				t.Fatalf("rlimits %+v", s.Process.Rlimits)
			}
		}},
		{name: "unlimited set to 0", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)})
		}, check: zero},
		{name: "already 0", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE"}}
		}, check: func(t *testing.T, s *specs.Spec, e *Env) {
			if len(e.Changes) != 0 || len(s.Process.Rlimits) != 1 {
				t.Fatalf("changed: %v", e.Changes)
			}
		}},
		{name: "duplicates all zeroed", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 1, Hard: 1}, {Type: "RLIMIT_CORE", Hard: 5}}
		}, check: func(t *testing.T, s *specs.Spec, e *Env) {
			for _, rl := range s.Process.Rlimits {
				if rl.Soft != 0 || rl.Hard != 0 {
					t.Fatalf("rlimits %+v", s.Process.Rlimits)
				}
			}
		}},
		{name: "policy keeps core dumps", policy: func(p *Policy) { p.CoreDumps = true }, mutate: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: 100, Hard: 100})
		}, check: func(t *testing.T, s *specs.Spec, e *Env) {
			if rl := core(s); rl.Soft != 100 || len(e.Changes) != 0 {
				t.Fatalf("RLIMIT_CORE %+v", rl)
			}
		}},
		{name: "no process", mutate: func(s *specs.Spec) { s.Process = nil }},
	})
}

func TestRulePseudoMounts(t *testing.T) {
	add := func(ms ...specs.Mount) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Mounts = append(s.Mounts, ms...) }
	}
	devpts := func(opts ...string) specs.Mount {
		return specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: opts}
	}
	std := []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}
	runSurfaceCases(t, RulePseudoMounts, []surfaceCase{
		{name: "runc spec"},
		{name: "engines' devpts and mqueue", mutate: add(devpts(std...), specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"})},
		{name: "unclean destination", mutate: func(s *specs.Spec) { s.Mounts[0].Destination = "/proc/" }},
		{name: "cgroup2", mutate: func(s *specs.Spec) { s.Mounts[3].Type = "cgroup2" }},
		{name: "proc elsewhere", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/mnt/proc", Type: "proc", Source: "proc"})},
		{name: "proc hidden in a path", deny: "mounts[0]", mutate: func(s *specs.Spec) { s.Mounts[0].Destination = "/proc/../host" }},
		{name: "second proc", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"})},
		{name: "sysfs elsewhere", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/tmp/sys", Type: "sysfs", Source: "sysfs"})},
		{name: "second cgroup as cgroup2", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup"})},
		{name: "cgroup elsewhere", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/run/cg", Type: "cgroup2", Source: "cgroup"})},
		{name: "mqueue elsewhere", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/mq", Type: "mqueue", Source: "mqueue"})},
		{name: "relative destination", deny: "mounts[0]", mutate: func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }},
		{name: "bind typed proc is a bind", mutate: add(specs.Mount{Destination: "/mnt/x", Type: "proc", Source: "/srv/x", Options: []string{"rbind"}})},
		{name: "devpts without newinstance", deny: "mounts[4]", mutate: add(devpts("nosuid", "mode=0620", "gid=5"))},
		{name: "devpts gid 0", deny: "mounts[4]", mutate: add(devpts("newinstance", "gid=0"))},
		{name: "devpts mode 0666", deny: "mounts[4]", mutate: add(devpts("newinstance", "mode=0666"))},
		{name: "devpts mode 0660", deny: "mounts[4]", mutate: add(devpts("newinstance", "mode=660"))},
		{name: "devpts mode not octal", deny: "mounts[4]", mutate: add(devpts("newinstance", "mode=0689"))},
		{name: "devpts mode 0600, no gid", mutate: add(devpts("newinstance", "mode=600"))},
		{name: "devpts ptmxmode 0777 allowed", mutate: add(devpts("newinstance", "ptmxmode=0777", "mode=0620", "gid=5"))},
		{name: "devpts elsewhere", deny: "mounts[4]", mutate: add(specs.Mount{Destination: "/dev/pts2", Type: "devpts", Source: "devpts", Options: std})},
		{name: "second devpts", deny: "mounts[5]", mutate: add(devpts(std...), devpts(std...))},
	})
}

func TestRuleAnnotations(t *testing.T) {
	ann := func(kv ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Annotations = map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				s.Annotations[kv[i]] = kv[i+1]
			}
		}
	}
	runSurfaceCases(t, RuleAnnotations, []surfaceCase{
		{name: "none"},
		{name: "engines'", mutate: ann("io.kubernetes.cri.sandbox-id", "x", "org.opencontainers.image.stopSignal", "SIGTERM", "io.podman.annotations.privileged", "FALSE")},
		{name: "systemd property", deny: "annotations.org.systemd.property.TasksMax", mutate: ann("org.systemd.property.TasksMax", "uint64 18446744073709551615")},
		{name: "criu config", deny: "annotations.org.criu.config", mutate: ann("org.criu.config", "/srv/criu.conf")},
		{name: "bundle", deny: "annotations.bundle", mutate: ann("bundle", "/elsewhere")},
		{name: "lookalike", mutate: ann("org.systemd.propertyX", "1", "bundles", "x")},
	})
}

// BenchmarkSpecSurface: the surface rule on a real Docker config.json, as
// it runs on every create. Run with -benchmem.
func BenchmarkSpecSurface(b *testing.B) {
	s, _, err := LoadSpec(filepath.Join("..", "testdata", "clients", "docker-d37e1de02db5-config.json"))
	if err != nil {
		b.Fatal(err)
	}
	e := &Env{Policy: &Policy{}}
	if err := RuleSpecSurface.Apply(e, s); err != nil { // compiles the table
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := RuleSpecSurface.Apply(e, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpecSurfaceCold: compiling the table, once per runh process.
func BenchmarkSpecSurfaceCold(b *testing.B) {
	byPath := map[string]*SurfaceEntry{}
	b.ReportAllocs()
	for b.Loop() {
		clear(byPath)
		for i := range surface {
			byPath[surface[i].Path] = &surface[i]
		}
		compileSurface(byPath)
	}
}
