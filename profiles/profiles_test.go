package profiles

import (
	"errors"
	"testing"
)

func TestLookup(t *testing.T) {
	cfg := noConfig(t)
	if _, err := cfg.Profile("permissive"); !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("unknown profile: %v", err)
	}
	for _, n := range []string{DefaultName, "edge", "compat"} {
		p, err := cfg.Profile(n)
		if err != nil || p.Name != n {
			t.Fatalf("%s: %v %v", n, p, err)
		}
	}
}

// TestRestrictedIsComplete: every rule and check is named, documented and
// listed once, and the policy has what the rules need.
func TestRestrictedIsComplete(t *testing.T) {
	p := Restricted()
	seen := map[string]bool{}
	for _, r := range p.Rules {
		if r.Name == "" || r.Doc == "" || r.Apply == nil || seen[r.Name] {
			t.Errorf("rule %q: incomplete or duplicate", r.Name)
		}
		seen[r.Name] = true
	}
	for _, c := range p.Checks {
		if c.Name == "" || c.Doc == "" || c.Verify == nil || seen[c.Name] {
			t.Errorf("check %q: incomplete or duplicate", c.Name)
		}
		seen[c.Name] = true
	}
	pol := p.Policy
	if pol.UID == 0 || pol.GID == 0 || pol.Seccomp == nil || pol.MemoryDefault <= 0 || pol.PidsDefault <= 0 || len(pol.CapAllow) != 0 {
		t.Fatalf("policy %+v", pol)
	}
	// Two calls must not share mutable state.
	Restricted().Policy.MaskedPaths[0] = "changed"
	if Restricted().Policy.MaskedPaths[0] == "changed" {
		t.Fatal("profiles share state")
	}
}
