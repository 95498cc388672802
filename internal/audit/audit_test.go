package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q is not a whole record: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestAppendFields(t *testing.T) {
	l := Log{Path: filepath.Join(t.TempDir(), "log", "audit.jsonl"), MaxBytes: 1 << 20, Keep: 2}
	rec := &Record{Time: "2026-11-30T00:00:00Z", Op: "create", ContainerID: "c1", Bundle: "/b", Profile: "edge", Mode: "enforce",
		Outcome: Changed, Changes: []Change{{Field: "process.user.uid", Rule: "user", From: "0", To: "65534"}},
		PodNamespace: "default", PodName: "web", Container: "nginx"}
	if err := l.Append(rec); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(l.Path)
	for _, key := range []string{`"time":`, `"op":"create"`, `"container_id":"c1"`, `"bundle":"/b"`, `"profile":"edge"`, `"mode":"enforce"`,
		`"outcome":"changed"`, `"changes":[{"field":"process.user.uid","rule":"user","from":"0","to":"65534"}]`,
		`"pod_namespace":"default"`, `"pod_name":"web"`, `"container_name":"nginx"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("record %s has no %s", data, key)
		}
	}
	if fi, _ := os.Stat(l.Path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

// TestAppendConcurrentWithRotation: 50 writers, with rotation every few
// lines, leave 50 whole lines across the log and its rotations.
func TestAppendConcurrentWithRotation(t *testing.T) {
	dir := t.TempDir()
	l := Log{Path: filepath.Join(dir, "audit.jsonl"), MaxBytes: 4096, Keep: 100}
	pad := strings.Repeat("x", 700)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := l.Append(&Record{Op: "create", ContainerID: pad, RunhPid: i}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	files, _ := filepath.Glob(l.Path + "*")
	for _, p := range files {
		if strings.HasSuffix(p, ".lock") {
			continue
		}
		if fi, _ := os.Stat(p); fi.Size() > l.MaxBytes {
			t.Errorf("%s is %d bytes, above %d", p, fi.Size(), l.MaxBytes)
		}
		for _, r := range readLines(t, p) {
			seen[r.RunhPid] = true
		}
	}
	if len(seen) != 50 || len(files) < 5 {
		t.Fatalf("%d distinct records in %d files, want 50 in several", len(seen), len(files))
	}
}

func TestRotationKeepsN(t *testing.T) {
	dir := t.TempDir()
	l := Log{Path: filepath.Join(dir, "audit.jsonl"), MaxBytes: 4096, Keep: 2}
	pad := strings.Repeat("y", 3000)
	for range 30 {
		if err := l.Append(&Record{ContainerID: pad}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{l.Path, l.Path + ".1", l.Path + ".2"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(l.Path + ".3"); err == nil {
		t.Fatal("kept more than 2 rotations")
	}
}

func TestAppendRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	os.WriteFile(target, []byte("keep\n"), 0o644)
	l := Log{Path: filepath.Join(dir, "audit.jsonl"), MaxBytes: 1 << 20, Keep: 1}
	os.Symlink(target, l.Path)
	if err := l.Append(&Record{Op: "create"}); err == nil {
		t.Fatal("appended through a symlink")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep\n" {
		t.Fatalf("victim changed: %q", data)
	}
}

// TestRecordsAreBounded: a client-chosen value (a 4 MB annotation in a
// denial) cannot make a huge record and flush the history by rotation.
func TestRecordsAreBounded(t *testing.T) {
	l := Log{Path: filepath.Join(t.TempDir(), "audit.jsonl"), MaxBytes: 1 << 20, Keep: 1}
	huge := strings.Repeat("9", 4<<20)
	rec := &Record{Op: "create", Denial: &Denial{Field: "annotations.runh.io/memory", Rule: "overrides", Message: huge}}
	for range 200 {
		rec.Changes = append(rec.Changes, Change{Field: huge, To: huge})
	}
	if err := l.Append(rec); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(l.Path); fi.Size() > 128<<10 {
		t.Fatalf("one record is %d bytes", fi.Size())
	}
}

// TestCutLineIsNotJoined: a line cut short (a full disk) does not swallow
// the next record.
func TestCutLineIsNotJoined(t *testing.T) {
	l := Log{Path: filepath.Join(t.TempDir(), "audit.jsonl"), MaxBytes: 1 << 20, Keep: 1}
	os.WriteFile(l.Path, []byte(`{"op":"cre`), 0o600)
	if err := l.Append(&Record{Op: "exec"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(l.Path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var r Record
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &r) != nil || r.Op != "exec" {
		t.Fatalf("log %q", data)
	}
}

// TestFlockTimesOut: a holder that never lets go fails the call in
// bounded time instead of hanging the engine.
func TestFlockTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder, _ := os.Create(path)
	defer holder.Close()
	if err := Flock(holder, time.Second); err != nil {
		t.Fatal(err)
	}
	waiter, _ := os.Open(path)
	defer waiter.Close()
	start := time.Now()
	if err := Flock(waiter, 100*time.Millisecond); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}
