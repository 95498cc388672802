// Package testenv holds the project's one rule for tests that need root, a
// daemon or a tool: on a developer's machine a missing prerequisite skips
// loudly; under CI (CI=true), where .ci/run installs everything, it fails.
package testenv

import (
	"os"
	"testing"
)

// Require stops the test unless ok. hint says how to get what is missing.
func Require(t testing.TB, ok bool, what, hint string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing under CI: %s", what)
	}
	t.Skipf("SKIPPING: prerequisite missing: %s (%s)", what, hint)
}
