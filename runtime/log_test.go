package runtime

import (
	"encoding/json"
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
