package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFormatLine(t *testing.T) {
	ts := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var got map[string]string
	if err := json.Unmarshal(FormatLine("json", "error", `runh: denied "x"`, ts), &got); err != nil {
		t.Fatal(err)
	}
	if got["level"] != "error" || got["msg"] != `runh: denied "x"` || got["time"] != "2026-11-27T10:00:00Z" {
		t.Fatalf("json: %v", got)
	}
	text := string(FormatLine("text", "error", "runh: no", ts))
	if text != "time=\"2026-11-27T10:00:00Z\" level=error msg=\"runh: no\"\n" {
		t.Fatalf("text: %q", text)
	}
	if s := quoteIfNeeded("plain-word"); s != "plain-word" {
		t.Fatalf("quoted %q", s)
	}
}

// runh's own log (no --log) must not grow without bound under /run.
func TestOwnLogRotates(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RUNH_STATE_DIR", dir)
	own := filepath.Join(dir, "runh.log")
	l := &Logger{}
	l.Warn("first")
	if err := os.Truncate(own, ownLogMax); err != nil {
		t.Fatal(err)
	}
	l.Warn("after the cap")
	cur, err := os.ReadFile(own)
	if err != nil || !strings.Contains(string(cur), "after the cap") || len(cur) > 1024 {
		t.Fatalf("current log: %d bytes, %v", len(cur), err)
	}
	old, err := os.Stat(own + ".1")
	if err != nil || old.Size() != ownLogMax {
		t.Fatalf("rotated log: %v %v", old, err)
	}
	l.Warn("below the cap")
	if cur, _ := os.ReadFile(own); !strings.Contains(string(cur), "below the cap") || !strings.Contains(string(cur), "after the cap") {
		t.Fatalf("rotated below the cap: %q", cur)
	}
}
