// Package audit appends runh's decisions to a JSON-lines log: one line per
// create, run, exec and update, in enforce and in audit mode, for a log
// shipper to read.
//
// Many runh processes append at once (an engine starts containers in
// parallel), so each line is one write(2) on an O_APPEND descriptor: the
// kernel appends it whole, and lines never interleave; a lock file beside
// the log orders the writers, so rotation never loses or splits a line.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Outcomes of a decision.
const (
	Allowed      = "allowed"       // enforce: the spec needed no change
	Changed      = "changed"       // enforce: hardened, then handed to runc
	Denied       = "denied"        // enforce: refused
	WouldChange  = "would_change"  // audit: enforce would have changed it
	WouldDeny    = "would_deny"    // audit: enforce would have refused it
	VerifyFailed = "verify_failed" // the created container did not match what runh checked; it was deleted
)

// Change is one edit of a rule.
type Change struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
	From  string `json:"from,omitempty"`
	To    string `json:"to"`
}

// Denial is one refusal.
type Denial struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// LockWait bounds how long a runh waits for another's lock. A decision
// holds it for microseconds, but 50 creates at once on two slow cores keep
// holders off the CPU for seconds (measured: 2 s lost 10 of 50 metrics
// updates). Only root can open the lock files (0600, in root-only
// directories, see profiles.RootOnlyPath), and a dead holder's lock goes
// with it, so the bound is for a stuck runh, not a hostile one.
const LockWait = 10 * time.Second

// Flock takes an exclusive lock on f, waiting in the kernel's queue (fair,
// unlike polling), for at most wait. On timeout the waiting goroutine is
// left behind: the lock it may still get is released when runh exits or
// closes f.
func Flock(f *os.File, wait time.Duration) error {
	fd := int(f.Fd())
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(fd, syscall.LOCK_EX) }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("held by another process for over %v", wait)
	}
}

// MaxField bounds each string of a record: a bundle's author chooses some
// of them (an annotation's value in a denial), and must not be able to
// flush the log's history out through rotation with a few huge records.
const MaxField = 512

// Clip shortens s to MaxField bytes, marking the cut.
func Clip(s string) string {
	if len(s) <= MaxField {
		return s
	}
	return s[:MaxField] + "...(truncated)"
}

// Record is one decision.
type Record struct {
	Time        string   `json:"time"`
	Op          string   `json:"op"`
	ContainerID string   `json:"container_id"`
	Bundle      string   `json:"bundle,omitempty"`
	Profile     string   `json:"profile"`
	Mode        string   `json:"mode"`
	Outcome     string   `json:"outcome"`
	Changes     []Change `json:"changes,omitempty"`
	// Denial is the first refusal; Denials all of them (audit mode
	// collects every one).
	Denial  *Denial  `json:"denial,omitempty"`
	Denials []Denial `json:"denials,omitempty"`
	// The Kubernetes pod and container, from the CRI's annotations.
	PodNamespace string `json:"pod_namespace,omitempty"`
	PodName      string `json:"pod_name,omitempty"`
	Container    string `json:"container_name,omitempty"`
	// HardenSeconds is how long runh's rules and checks took.
	HardenSeconds float64 `json:"harden_seconds"`
	RunhPid       int     `json:"runh_pid"`
}

// Log is an audit log file with its rotation policy.
type Log struct {
	Path     string
	MaxBytes int64 // rotate when a line would take the file past this
	Keep     int   // rotated files kept: Path.1 ... Path.Keep
}

// Append writes rec as one line, under an exclusive flock on a lock file
// beside the log (held for one stat and one write: microseconds), so the
// size check, a rotation and the write are one step and every file stays
// within MaxBytes unless one line alone is larger.
func (l Log) Append(rec *Record) error {
	rec.clip()
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	line = append(line, '\n')
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o700); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	lock, err := os.OpenFile(l.Path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer lock.Close() // and unlocked
	if err := Flock(lock, LockWait); err != nil {
		return fmt.Errorf("audit log: lock %s: %w", lock.Name(), err)
	}
	f, err := l.open()
	if err != nil {
		return err
	}
	// A line cut short earlier (a full disk) must not swallow this one.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if n, _ := f.ReadAt(last, fi.Size()-1); n == 1 && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size()+int64(len(line)) > l.MaxBytes {
		f.Close()
		if err := l.rotate(); err != nil {
			return err
		}
		if f, err = l.open(); err != nil {
			return err
		}
	}
	n, err := f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != len(line) {
		err = errors.New("short write")
	}
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.Path, err)
	}
	return nil
}

// open opens the log for appending, never through a symlink (the log's
// directory is root's, but a planted link must not make runh append to
// another file).
func (l Log) open() (*os.File, error) {
	f, err := os.OpenFile(l.Path, os.O_RDWR|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("audit log: %s is not a regular file", l.Path)
	}
	return f, nil
}

// rotate shifts Path.(k) to Path.(k+1), dropping the oldest, and Path to
// Path.1. The caller holds the lock.
func (l Log) rotate() error {
	for k := max(l.Keep, 1) - 1; k >= 1; k-- {
		os.Rename(l.Path+"."+strconv.Itoa(k), l.Path+"."+strconv.Itoa(k+1))
	}
	if err := os.Rename(l.Path, l.Path+".1"); err != nil {
		return fmt.Errorf("audit log: rotate: %w", err)
	}
	return nil
}

// clip bounds every string a client may have chosen, and the number of
// changes and denials.
func (r *Record) clip() {
	const maxItems = 64
	r.ContainerID, r.Bundle, r.Profile = Clip(r.ContainerID), Clip(r.Bundle), Clip(r.Profile)
	r.PodNamespace, r.PodName, r.Container = Clip(r.PodNamespace), Clip(r.PodName), Clip(r.Container)
	if len(r.Changes) > maxItems {
		r.Changes = r.Changes[:maxItems]
	}
	for i := range r.Changes {
		c := &r.Changes[i]
		c.Field, c.Rule, c.From, c.To = Clip(c.Field), Clip(c.Rule), Clip(c.From), Clip(c.To)
	}
	if len(r.Denials) > maxItems {
		r.Denials = r.Denials[:maxItems]
	}
	for _, d := range append([]*Denial{r.Denial}, ptrs(r.Denials)...) {
		if d != nil {
			d.Field, d.Rule, d.Message = Clip(d.Field), Clip(d.Rule), Clip(d.Message)
		}
	}
}

func ptrs(ds []Denial) []*Denial {
	out := make([]*Denial, len(ds))
	for i := range ds {
		out[i] = &ds[i]
	}
	return out
}
