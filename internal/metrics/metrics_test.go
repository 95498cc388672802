package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse reads runh.prom with Prometheus's own text parser.
func parse(t *testing.T, dir string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("runh.prom does not parse: %v", err)
	}
	return fams
}

func counter(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	fam := fams[name]
	if fam == nil {
		return -1
	}
next:
	for _, m := range fam.Metric {
		for _, lp := range m.Label {
			if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
				continue next
			}
		}
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestRecordParsesAndCounts(t *testing.T) {
	dir := t.TempDir()
	evs := []Event{
		{Op: "create", Profile: "restricted", Mode: "enforce", Outcome: "changed", Changed: []string{"user", "user", "seccomp"}, HardenSeconds: 0.0008},
		{Op: "create", Profile: "edge", Mode: "enforce", Outcome: "denied", Denied: []string{"devices"}, HardenSeconds: 0.002},
		{Op: "exec", Profile: "restricted", Mode: "enforce", Outcome: "changed", Changed: []string{"capabilities"}, HardenSeconds: 0.0003},
		{Op: "create", Profile: `we"ird\name`, Mode: "audit", Outcome: "would_deny", Denied: []string{"host-mounts"}, HardenSeconds: 0.03},
		{Op: "create", Profile: "restricted", Mode: "enforce", Outcome: "verify_failed", VerifyFailed: []string{"verify-process"}, HardenSeconds: 2},
	}
	for _, ev := range evs {
		if err := Record(dir, ev); err != nil {
			t.Fatal(err)
		}
	}
	fams := parse(t, dir)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"runh_decisions_total", map[string]string{"op": "create", "profile": "restricted", "outcome": "changed"}, 1},
		{"runh_decisions_total", map[string]string{"profile": `we"ird\name`, "mode": "audit"}, 1},
		{"runh_rule_changes_total", map[string]string{"rule": "user"}, 2},
		{"runh_denials_total", map[string]string{"rule": "host-mounts"}, 1},
		{"runh_verification_failures_total", map[string]string{"check": "verify-process"}, 1},
	} {
		if got := counter(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["runh_harden_duration_seconds"].Metric[0].GetHistogram()
	if h.GetSampleCount() != 5 || h.GetSampleSum() < 2.03 || h.GetSampleSum() > 2.04 {
		t.Fatalf("histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if b := h.Bucket[1]; b.GetUpperBound() != 0.001 || b.GetCumulativeCount() != 2 {
		t.Fatalf("bucket le=0.001: %v", b)
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o644 {
		t.Fatalf("runh.prom mode %v: the collector must read it", fi.Mode())
	}
}

// TestRecordConcurrent: 50 writers at once lose no count and leave a file
// that parses.
func TestRecordConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := Record(dir, Event{Op: "create", Profile: "restricted", Mode: "enforce", Outcome: "allowed"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	fams := parse(t, dir)
	if got := counter(fams, "runh_decisions_total", nil); got != 50 {
		t.Fatalf("decisions %v, want 50", got)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp.") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}
