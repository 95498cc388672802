// Package attacks holds one file per class of attack on runh, each tried
// first against plain runc (which must show the effect, or the test says
// why this host cannot show it) and then against runh, which must refuse it
// with the field and the rule, or leave the effect absent, and leave
// nothing behind. They need root and the built binaries (make build).
package attacks

import (
	"testing"

	"github.com/runh-dev/runh/integration/harness"
)

var (
	rootfs    string
	rootfsErr error
)

func TestMain(m *testing.M) { harness.Main(m, "runh-attacks", &rootfs, &rootfsErr) }

// newCtr is a container on the shared rootfs, after the prerequisites.
func newCtr(t *testing.T, args ...string) *harness.Ctr {
	t.Helper()
	harness.Prerequisites(t, rootfs, rootfsErr)
	return harness.NewCtr(t, rootfs, args...)
}
