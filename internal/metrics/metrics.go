// Package metrics keeps runh's Prometheus counters in a node_exporter
// textfile-collector directory: runh.prom, in the text exposition format,
// rewritten on every decision.
//
// runh leaves nothing resident, so the counts live in a small state file
// beside runh.prom. Each update takes an exclusive flock, reads the state,
// adds one decision, and replaces both files atomically (write, fsync-free
// rename: a crash loses at most the last counts, never a file half
// written). The collector reads runh.prom whenever it is scraped.
//
// The text is written here, not with client_golang/expfmt: linking them
// costs 2.3-4.7 ms at every runh start (their package init, measured with
// GODEBUG=inittrace=1 and 300 starts), more than all of runh's hardening.
// The tests parse runh.prom with expfmt, so the format is checked against
// Prometheus's own parser.
package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/runh-dev/runh/internal/audit"
)

// FileName is the exposition file in the directory.
const FileName = "runh.prom"

const stateName = ".runh-metrics.json"

// Buckets of runh_harden_duration_seconds.
var Buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Event is one decision to count.
type Event struct {
	Op, Profile, Mode, Outcome string
	// Rules that changed the spec (one per change), rules that refused
	// it, and post-create checks that failed.
	Changed, Denied, VerifyFailed []string
	HardenSeconds                 float64
}

// state is what runh.prom is rendered from.
type state struct {
	Decisions map[string]float64 `json:"decisions"` // op\x00profile\x00mode\x00outcome
	Changes   map[string]float64 `json:"rule_changes"`
	Denials   map[string]float64 `json:"denials"`
	Verify    map[string]float64 `json:"verification_failures"`
	Buckets   []float64          `json:"harden_buckets"` // cumulative counts, len(Buckets)
	Sum       float64            `json:"harden_sum"`
	Count     float64            `json:"harden_count"`
}

// Record adds ev to the counters in dir and rewrites runh.prom.
func Record(dir string, ev Event) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".runh-metrics.lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	defer lock.Close()
	if err := audit.Flock(lock, audit.LockWait); err != nil {
		return fmt.Errorf("metrics: lock %s: %w", lock.Name(), err)
	}
	st := load(filepath.Join(dir, stateName))
	st.add(ev)
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := replace(filepath.Join(dir, stateName), data, 0o600); err != nil {
		return err
	}
	return replace(filepath.Join(dir, FileName), st.render(), 0o644)
}

// load reads the state; a missing or unreadable one starts from zero (the
// counters are then reset, which Prometheus's rate() handles as a restart).
func load(path string) *state {
	st := &state{}
	// Not through a symlink, and never blocking on a FIFO planted there.
	if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0); err == nil {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < 1<<20 {
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(f); err == nil && json.Unmarshal(buf.Bytes(), st) != nil {
				st = &state{}
			}
		}
		f.Close()
	}
	if st.Decisions == nil {
		st.Decisions = map[string]float64{}
	}
	for _, m := range []*map[string]float64{&st.Changes, &st.Denials, &st.Verify} {
		if *m == nil {
			*m = map[string]float64{}
		}
	}
	if len(st.Buckets) != len(Buckets) {
		st.Buckets = make([]float64, len(Buckets))
	}
	return st
}

func (st *state) add(ev Event) {
	st.Decisions[strings.Join([]string{ev.Op, ev.Profile, ev.Mode, ev.Outcome}, "\x00")]++
	// Label values are rule names; clip them all the same, so that no
	// value a client chose can grow the file.
	for _, r := range ev.Changed {
		st.Changes[audit.Clip(r)]++
	}
	for _, r := range ev.Denied {
		st.Denials[audit.Clip(r)]++
	}
	for _, c := range ev.VerifyFailed {
		st.Verify[audit.Clip(c)]++
	}
	for i, le := range Buckets {
		if ev.HardenSeconds <= le {
			st.Buckets[i]++
		}
	}
	st.Sum += ev.HardenSeconds
	st.Count++
}

func (st *state) render() []byte {
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("runh_decisions_total", "counter", "Decisions runh made, by operation (create, run, exec, update), profile, mode (enforce, audit) and outcome.")
	for _, k := range sortedKeys(st.Decisions) {
		p := strings.Split(k, "\x00")
		fmt.Fprintf(&b, "runh_decisions_total{op=%s,profile=%s,mode=%s,outcome=%s} %s\n", quote(p[0]), quote(p[1]), quote(p[2]), quote(p[3]), num(st.Decisions[k]))
	}
	for _, f := range []struct {
		name, label, help string
		m                 map[string]float64
	}{
		{"runh_rule_changes_total", "rule", "Changes runh's rules made to specs (enforce) or would have made (audit), by rule.", st.Changes},
		{"runh_denials_total", "rule", "Refusals (enforce) or would-be refusals (audit), by rule or check.", st.Denials},
		{"runh_verification_failures_total", "check", "Created containers that failed runh's post-create verification (and were deleted), by check.", st.Verify},
	} {
		family(f.name, "counter", f.help)
		for _, k := range sortedKeys(f.m) {
			fmt.Fprintf(&b, "%s{%s=%s} %s\n", f.name, f.label, quote(k), num(f.m[k]))
		}
	}
	family("runh_harden_duration_seconds", "histogram", "Time runh spent hardening and checking a spec, per decision.")
	for i, le := range Buckets {
		fmt.Fprintf(&b, "runh_harden_duration_seconds_bucket{le=%q} %s\n", num(le), num(st.Buckets[i]))
	}
	fmt.Fprintf(&b, "runh_harden_duration_seconds_bucket{le=\"+Inf\"} %s\n", num(st.Count))
	fmt.Fprintf(&b, "runh_harden_duration_seconds_sum %s\nrunh_harden_duration_seconds_count %s\n", num(st.Sum), num(st.Count))
	return []byte(b.String())
}

// quote is a label value in the exposition format: backslash, double quote
// and line feed escaped.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// replace writes data to path atomically: a temporary file in the same
// directory, then rename.
func replace(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp." + strconv.Itoa(os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
