// Package sandbox holds runh's spec rules and invariant checks, and the
// loading and atomic saving of a bundle's config.json. It knows nothing about
// runc's command line: the runtime package drives it.
package sandbox

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrPolicyDenied is wrapped by every refusal of a rule or a check.
	ErrPolicyDenied = errors.New("denied by policy")
	// ErrInvalidConfig is wrapped when config.json or process.json cannot be
	// read as an OCI spec runh understands.
	ErrInvalidConfig = errors.New("invalid config")
)

// Denial is one refusal: the field of the spec, the rule or check that
// refused it, and why. Its message is the one users see in `docker run`.
type Denial struct {
	Profile string
	Field   string
	Rule    string
	Reason  string
	// Hint says how to get a container through: what to change, or why
	// there is no way around the rule.
	Hint string
}

func (d *Denial) Error() string {
	return fmt.Sprintf("denied by profile %q: %s: %s (rule %s)", d.Profile, d.Field, d.Reason, d.Rule)
}

// Unwrap lets callers test any denial with errors.Is(err, ErrPolicyDenied).
func (d *Denial) Unwrap() error { return ErrPolicyDenied }

func deny(field, format string, args ...any) *Denial {
	return &Denial{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Denials collects every refusal of a dry run (runh check). Its message is
// one denial per line.
type Denials []*Denial

func (ds Denials) Error() string {
	msgs := make([]string, len(ds))
	for i, d := range ds {
		msgs[i] = d.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes each denial to errors.Is and errors.As.
func (ds Denials) Unwrap() []error {
	errs := make([]error, len(ds))
	for i, d := range ds {
		errs[i] = d
	}
	return errs
}
