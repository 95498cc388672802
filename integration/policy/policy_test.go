// Package policy runs runh's operator policy (config.toml, profiles.d,
// handler names, runh.io/ overrides, audit mode, the audit log and the
// metrics) on real containers with the pinned runc. It needs root and the
// built binaries (make build).
package policy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/runh-dev/runh/integration/harness"
)

var (
	rootfs    string
	rootfsErr error
)

func TestMain(m *testing.M) { harness.Main(m, "runh-policy", &rootfs, &rootfsErr) }

// node is one operator setup: a config, profiles.d, an audit log and a
// metrics directory, all in a temporary directory, and runh's handler
// symlinks next to a link to the built front.
type node struct {
	t                                     *testing.T
	dir, config, audit, metrics, profiles string
}

func newNode(t *testing.T, top string, files map[string]string) *node {
	t.Helper()
	harness.Prerequisites(t, rootfs, rootfsErr)
	n := &node{t: t, dir: t.TempDir()}
	n.config = filepath.Join(n.dir, "config.toml")
	n.audit = filepath.Join(n.dir, "log", "audit.jsonl")
	n.metrics = filepath.Join(n.dir, "metrics")
	n.profiles = filepath.Join(n.dir, "profiles.d")
	os.MkdirAll(n.metrics, 0o755)
	os.MkdirAll(n.profiles, 0o755)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(n.profiles, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body := fmt.Sprintf("%s\naudit_log = %q\nmetrics_dir = %q\nprofiles_dir = %q\n", top, n.audit, n.metrics, n.profiles)
	if err := os.WriteFile(n.config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// runh runs runh called as name (runh, or runh-PROFILE through a symlink)
// with this node's config, on c.
func (n *node) runh(c *harness.Ctr, name string, args ...string) harness.Result {
	n.t.Helper()
	bin := harness.Runh
	if name != "runh" {
		bin = filepath.Join(n.dir, name)
		if _, err := os.Lstat(bin); err != nil {
			if err := os.Symlink(harness.Runh, bin); err != nil {
				n.t.Fatal(err)
			}
		}
	}
	return c.Exec(bin, append([]string{"--runh-config", n.config}, args...)...)
}

func (n *node) records() []map[string]any {
	n.t.Helper()
	f, err := os.Open(n.audit)
	if err != nil {
		return nil
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			n.t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// limitsProbe prints the container's memory and pids limits as it sees
// them (its own cgroup namespace), its ids and its hardening.
var limitsProbe = []string{"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"}

func runProbe(t *testing.T, n *node, name string, edit func(*specs.Spec)) (harness.Result, []string) {
	t.Helper()
	c := harness.NewCtr(t, rootfs, limitsProbe...)
	if edit != nil {
		c.Edit(edit)
	}
	r := n.runh(c, name, "run", "--bundle", c.Bundle, c.ID)
	return r, strings.Fields(r.Stdout)
}

func wantProbe(t *testing.T, r harness.Result, got []string, mem, pids string) {
	t.Helper()
	want := []string{mem, pids, "65534", "CapEff:", "0000000000000000", "NoNewPrivs:", "1", "Seccomp:", "2"}
	if r.Code != 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("code %d, inside %q, want %q\nstderr: %s", r.Code, got, want, r.Stderr)
	}
}

// TestProfilesByHandlerName: each profile, chosen by the name runh is run
// under, shows its limits inside the container, with the floor intact.
func TestProfilesByHandlerName(t *testing.T) {
	n := newNode(t, "", map[string]string{
		"tiny.toml": "extends = \"edge\"\nmemory_default = \"40Mi\"\nmemory_max = \"48Mi\"\npids_default = 40\n",
	})
	for _, tc := range []struct{ name, mem, pids string }{
		{"runh", "268435456", "512"},
		{"runh-edge", "67108864", "128"},
		{"runh-tiny", "41943040", "40"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, got := runProbe(t, n, tc.name, nil)
			wantProbe(t, r, got, tc.mem, tc.pids)
		})
	}
	recs := n.records()
	if len(recs) != 3 || recs[1]["profile"] != "edge" || recs[2]["profile"] != "tiny" || recs[2]["op"] != "run" {
		t.Fatalf("audit records %v", recs)
	}
}

// TestFloorLoweringProfilesRefused: a profile file that tries to lower the
// floor stops every create (the config does not load), naming the file
// and the key, and leaves nothing.
func TestFloorLoweringProfilesRefused(t *testing.T) {
	unconfined := filepath.Join(t.TempDir(), "unconfined.json")
	os.WriteFile(unconfined, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644)
	for _, tc := range []struct{ file, body, key string }{
		{"root.toml", "extends = \"restricted\"\nuid = 0\n", "uid"},
		{"open.toml", "extends = \"restricted\"\nseccomp_profile = \"" + unconfined + "\"\n", "seccomp_profile"},
		{"rw.toml", "extends = \"restricted\"\nreadonly_rootfs = false\n", "readonly_rootfs"},
		{"etc.toml", "extends = \"restricted\"\nbind_sources = [\"/etc\"]\n", "bind_sources"},
		{"admin.toml", "extends = \"restricted\"\ncapabilities = [\"CAP_SYS_ADMIN\"]\n", "capabilities"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			n := newNode(t, "", map[string]string{tc.file: tc.body})
			c := harness.NewCtr(t, rootfs, "true")
			before, _ := os.ReadFile(c.Config())
			r := n.runh(c, "runh", "create", "--bundle", c.Bundle, c.ID)
			c.Refused(r, before, tc.file, tc.key)
		})
	}
}

// TestOverrides: a tightening annotation takes effect; a loosening one is
// refused, naming it.
func TestOverrides(t *testing.T) {
	n := newNode(t, "", nil)
	r, got := runProbe(t, n, "runh-edge", func(s *specs.Spec) {
		s.Annotations = map[string]string{"runh.io/memory": "32Mi", "runh.io/pids": "16"}
	})
	wantProbe(t, r, got, "33554432", "16")

	c := harness.NewCtr(t, rootfs, "true")
	c.Edit(func(s *specs.Spec) { s.Annotations = map[string]string{"runh.io/memory": "4Gi"} })
	before, _ := os.ReadFile(c.Config())
	c.Refused(n.runh(c, "runh-edge", "create", "--bundle", c.Bundle, c.ID), before, "annotations.runh.io/memory", "overrides")

	c = harness.NewCtr(t, rootfs, "true")
	c.Edit(func(s *specs.Spec) { s.Annotations = map[string]string{"runh.io/profile": "restricted"} })
	before, _ = os.ReadFile(c.Config())
	c.Refused(n.runh(c, "runh-edge", "create", "--bundle", c.Bundle, c.ID), before, "annotations.runh.io/profile", "overrides")

	// A seccomp-deny override: chmod fails inside, as runh's default
	// allows it.
	c = harness.NewCtr(t, rootfs, "sh", "-c", "touch /tmp/f && chmod 600 /tmp/f && echo chmod-ok || echo chmod-denied")
	c.Edit(func(s *specs.Spec) {
		s.Annotations = map[string]string{"runh.io/seccomp-deny": "chmod,fchmod,fchmodat,fchmodat2"}
	})
	if r := n.runh(c, "runh", "run", "--bundle", c.Bundle, c.ID); r.Code != 0 || !strings.Contains(r.Stdout, "chmod-denied") {
		t.Fatalf("seccomp-deny: code %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestAuditMode: a bundle restricted would refuse (a host /etc bind, as
// root) runs unchanged, and leaves a would_deny record.
func TestAuditMode(t *testing.T) {
	n := newNode(t, `mode = "audit"`, nil)
	c := harness.NewCtr(t, rootfs, "sh", "-c", "id -u; test -f /mnt/hostname && echo host-etc")
	c.Edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/etc", Options: []string{"rbind", "ro"}})
	})
	before, _ := os.ReadFile(c.Config())
	r := n.runh(c, "runh", "run", "--bundle", c.Bundle, c.ID)
	if r.Code != 0 || strings.Fields(r.Stdout)[0] != "0" || !strings.Contains(r.Stdout, "host-etc") {
		t.Fatalf("audit mode changed the container: code %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if after, _ := os.ReadFile(c.Config()); string(after) != string(before) {
		t.Fatal("config.json changed")
	}
	recs := n.records()
	if len(recs) != 1 || recs[0]["outcome"] != "would_deny" || recs[0]["mode"] != "audit" {
		t.Fatalf("audit records %v", recs)
	}
	if den, _ := recs[0]["denial"].(map[string]any); den["rule"] != "host-mounts" {
		t.Fatalf("denial %v", recs[0]["denial"])
	}
}

// TestConcurrentCreates: 50 creates at once leave 50 whole audit lines and
// counters that add up to 50.
func TestConcurrentCreates(t *testing.T) {
	n := newNode(t, "", nil)
	const count = 50
	ctrs := make([]*harness.Ctr, count)
	for i := range ctrs {
		ctrs[i] = harness.NewCtr(t, rootfs, "sleep", "30")
	}
	var wg sync.WaitGroup
	codes := make([]int, count)
	for i, c := range ctrs {
		wg.Go(func() {
			r := n.runh(c, "runh", "create", "--bundle", c.Bundle, c.ID)
			codes[i] = r.Code
			if r.Code != 0 {
				t.Errorf("create %d: %s", i, r.Stderr)
			}
		})
	}
	wg.Wait()
	for _, c := range ctrs {
		c.Runc("delete", "--force", c.ID)
	}
	recs := n.records()
	ids := map[string]bool{}
	for _, r := range recs {
		if r["op"] != "create" || r["outcome"] != "changed" {
			t.Errorf("record %v", r)
		}
		ids[r["container_id"].(string)] = true
	}
	if len(recs) != count || len(ids) != count {
		t.Fatalf("%d records for %d containers, want %d", len(recs), len(ids), count)
	}
	f, err := os.Open(filepath.Join(n.metrics, "runh.prom"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("runh.prom: %v", err)
	}
	sum := 0.0
	for _, m := range fams["runh_decisions_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	var h *dto.Histogram
	if fam := fams["runh_harden_duration_seconds"]; fam != nil && len(fam.Metric) == 1 {
		h = fam.Metric[0].GetHistogram()
	}
	if sum != count || h == nil || h.GetSampleCount() != count {
		t.Fatalf("decisions add up to %v, histogram %v; want %d", sum, h, count)
	}
}
