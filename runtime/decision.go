package runtime

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/runh-dev/runh/internal/audit"
	"github.com/runh-dev/runh/internal/metrics"
	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

// decision is what runh decided for one call, for the audit log and the
// metrics.
type decision struct {
	op, id, bundle string
	annotations    map[string]string
	changes        []sandbox.Change
	err            error // the refusal (a *Denial or Denials, or another error)
	verifyCheck    string
	harden         time.Duration
}

// auditMode reports whether this call only reports: the operator's audit
// mode, or the compat profile.
func (c *call) auditMode() bool {
	return !c.enforced && (c.profile.ReportOnly || c.cfg != nil && c.cfg.Mode == profiles.Audit)
}

func (c *call) mode() string {
	if c.cfg == nil || c.enforced {
		return string(profiles.Enforce)
	}
	return string(c.cfg.Mode)
}

// outcome names what happened.
func (c *call) outcome(d *decision) string {
	switch {
	case d.verifyCheck != "":
		return audit.VerifyFailed
	case d.err != nil && c.auditMode():
		return audit.WouldDeny
	case d.err != nil:
		return audit.Denied
	case len(d.changes) > 0 && c.auditMode():
		return audit.WouldChange
	case len(d.changes) > 0:
		return audit.Changed
	}
	return audit.Allowed
}

// record writes d to the audit log and the metrics. In enforce mode a log
// that cannot be written is an error, and the caller refuses the call:
// an operator must be able to see every decision (fail closed). In audit
// mode it is a warning in runc's log.
func (c *call) record(d *decision) error {
	if c.cfg == nil {
		return nil
	}
	outcome := c.outcome(d)
	rec := &audit.Record{
		Time:          time.Now().UTC().Format(time.RFC3339Nano),
		Op:            d.op,
		ContainerID:   d.id,
		Bundle:        d.bundle,
		Profile:       c.profile.Name,
		Mode:          c.mode(),
		Outcome:       outcome,
		HardenSeconds: d.harden.Seconds(),
		RunhPid:       os.Getpid(),
	}
	ev := metrics.Event{Op: d.op, Profile: c.profile.Name, Mode: c.mode(), Outcome: outcome, HardenSeconds: d.harden.Seconds()}
	for _, ch := range d.changes {
		from, to := ch.FromTo()
		rec.Changes = append(rec.Changes, audit.Change{Field: ch.Field, Rule: ch.Rule, From: from, To: to})
		ev.Changed = append(ev.Changed, ch.Rule)
	}
	for _, den := range denialsOf(d.err) {
		rec.Denials = append(rec.Denials, den)
		ev.Denied = append(ev.Denied, den.Rule)
	}
	if len(rec.Denials) > 0 {
		rec.Denial = &rec.Denials[0]
		if len(rec.Denials) == 1 {
			rec.Denials = nil
		}
	}
	if d.verifyCheck != "" {
		ev.VerifyFailed = []string{d.verifyCheck}
		rec.Denial = &audit.Denial{Field: "container " + d.id, Rule: d.verifyCheck, Message: d.err.Error()}
		rec.Denials = nil
	}
	rec.PodNamespace, rec.PodName, rec.Container = podOf(d.annotations)
	var err error
	if c.cfg.AuditLog != "" {
		err = audit.Log{Path: c.cfg.AuditLog, MaxBytes: c.cfg.AuditLogMaxBytes, Keep: c.cfg.AuditLogKeep}.Append(rec)
	}
	if c.cfg.MetricsDir != "" {
		if merr := metrics.Record(c.cfg.MetricsDir, ev); merr != nil {
			c.log.Warn(merr.Error())
		}
	}
	if err != nil && c.auditMode() {
		c.log.Warn(err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (runh refuses what it cannot record: fix audit_log in %s, or set it to \"\")", err, c.cfg.Path)
	}
	return nil
}

// denialsOf turns a refusal into audit denials.
func denialsOf(err error) []audit.Denial {
	if err == nil {
		return nil
	}
	var ds sandbox.Denials
	if errors.As(err, &ds) {
		out := make([]audit.Denial, len(ds))
		for i, d := range ds {
			out[i] = audit.Denial{Field: d.Field, Rule: d.Rule, Message: d.Error()}
		}
		return out
	}
	var d *sandbox.Denial
	if errors.As(err, &d) {
		return []audit.Denial{{Field: d.Field, Rule: d.Rule, Message: d.Error()}}
	}
	return []audit.Denial{{Field: "spec", Rule: "load", Message: err.Error()}}
}

// podOf reads the Kubernetes pod and container from the CRI's annotations
// (containerd's, then CRI-O's).
func podOf(a map[string]string) (namespace, pod, container string) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := a[k]; v != "" {
				return v
			}
		}
		return ""
	}
	return first("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"),
		first("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"),
		first("io.kubernetes.cri.container-name", "io.kubernetes.container.name")
}
