package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Logger writes runh's messages where runc's callers look: stderr, and the
// --log file in runc's format. containerd and Docker show the last error
// line of that file as "OCI runtime create failed: ...".
type Logger struct {
	Path   string
	Format string
	Debug  bool
}

func newLogger(g Globals) *Logger {
	return &Logger{Path: g.Log, Format: g.LogFormat, Debug: g.Debug}
}

// Error reports a failure on stderr and in the log file, as runc does.
func (l *Logger) Error(msg string) {
	msg = "runh: " + msg
	if l.Path != "/dev/stderr" {
		fmt.Fprintln(os.Stderr, msg)
	}
	l.write("error", msg)
}

// Warn logs a warning to the log file (or runh's own log without one).
func (l *Logger) Warn(msg string) { l.logOnly("warning", msg) }

// Debugs logs msgs, in one write, only with --debug.
func (l *Logger) Debugs(msgs []string) {
	if l.Debug && len(msgs) > 0 {
		l.logOnly("debug", msgs...)
	}
}

// logOnly writes warnings and debug lines to --log or, without one, to
// runh's own log: never to stderr, which belongs to runc's callers and,
// on create and run, to the container.
func (l *Logger) logOnly(level string, msgs ...string) {
	for i, m := range msgs {
		msgs[i] = "runh: " + m
	}
	if l.Path == "" {
		if err := os.MkdirAll(stateDir(), 0o700); err == nil {
			own := filepath.Join(stateDir(), "runh.log")
			rotate(own)
			(&Logger{Path: own, Format: "json"}).write(level, msgs...)
		}
		return
	}
	l.write(level, msgs...)
}

// ownLogMax caps runh's own log. It lives under /run, a tmpfs (memory) on
// most hosts, and the compat profile logs a warning for every container
// it would refuse: unbounded, it grew to 4 MB in a day of tests here.
const ownLogMax = 1 << 20

// rotate moves path to path.1 (replacing the older one) once it has
// reached ownLogMax, so at most two files of about that size are kept.
func rotate(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Size() >= ownLogMax {
		os.Rename(path, path+".1")
	}
}

func (l *Logger) write(level string, msgs ...string) {
	if l.Path == "" {
		return
	}
	var buf []byte
	now := time.Now()
	for _, m := range msgs {
		buf = append(buf, FormatLine(l.Format, level, m, now)...)
	}
	// O_APPEND without O_TRUNC, as runc opens it: the file is shared with
	// runc and the engine.
	f, err := os.OpenFile(l.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runh: cannot write log %s: %v\n", l.Path, err)
		return
	}
	defer f.Close()
	f.Write(buf)
}

// FormatLine renders one log line the way runc's logrus does: JSON
// {"level","msg","time"} or text time="..." level=... msg=....
func FormatLine(format, level, msg string, t time.Time) []byte {
	ts := t.Format(time.RFC3339Nano)
	if format == "json" {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, ts})
		return append(b, '\n')
	}
	return []byte(fmt.Sprintf("time=%s level=%s msg=%s\n", quoteIfNeeded(ts), level, quoteIfNeeded(msg)))
}

// quoteIfNeeded follows logrus's text formatter: quote unless every byte is
// a letter, digit or one of -._/@^+.
func quoteIfNeeded(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._/@^+", r))
	}) >= 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}
