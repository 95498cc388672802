package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/idpool"
	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

// idRanges is the node's id pool as one create sees it: it allocates for
// this container (runc root and id) and remembers what it allocated, so a
// create that is refused or that runc fails gives its range back.
type idRanges struct {
	pool      *idpool.Pool
	owner     idpool.Owner
	allocated []uint32
	// dry: report-only calls judge without taking a range.
	dry bool
}

func (c *call) idRanges(id string, dry bool) (*idRanges, error) {
	return newIDRanges(c.cfg, c.inv.StateRoot(), id, dry)
}

func newIDRanges(cfg *profiles.Config, root, id string, dry bool) (*idRanges, error) {
	pool := &idpool.Pool{Dir: filepath.Join(stateDir(), "userns"), Base: cfg.UsernsPoolBase, Ranges: cfg.UsernsPoolRanges}
	r := &idRanges{pool: pool, dry: dry}
	var err error
	if dry {
		// Every create of every profile gets one (for the pool's bounds):
		// no owner's start time to read from /proc unless a range is
		// taken.
		r.owner.ID = id
		r.owner.Root, err = filepath.Abs(root)
	} else {
		r.owner, err = idpool.Self(root, id)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *idRanges) Allocate() (uint32, error) {
	// No range may hold a host user's or a delegated (subuid) id: the
	// container would be that user on the host.
	if err := r.pool.HostOverlap(etcDir()); err != nil {
		return 0, err
	}
	if err := r.notExisting(); err != nil {
		return 0, err
	}
	if r.dry {
		return r.pool.Base + idpool.RangeSize, nil
	}
	b, err := r.pool.Allocate(r.owner)
	if err == nil {
		r.allocated = append(r.allocated, b)
	}
	return b, err
}

// notExisting refuses a create for a container id runc already has: runc
// would refuse it after the range was taken, and a `run` (runh is runc by
// then) could not give it back while that other container lives.
func (r *idRanges) notExisting() error {
	if _, err := os.Lstat(filepath.Join(r.owner.Root, r.owner.ID)); err == nil {
		return fmt.Errorf("container %q already exists in %s", r.owner.ID, r.owner.Root)
	}
	return nil
}

func (r *idRanges) Join(b uint32) error {
	if err := r.notExisting(); err != nil {
		return err
	}
	if r.dry {
		if !r.pool.Held(b) {
			return fmt.Errorf("range %d belongs to no live container", b)
		}
		return nil
	}
	err := r.pool.Join(b, r.owner)
	if err == nil {
		r.allocated = append(r.allocated, b)
	}
	return err
}
func (r *idRanges) Mine(b uint32) bool {
	return slices.Contains(r.allocated, b)
}
func (r *idRanges) Contains(start, size uint64) bool { return r.pool.Contains(start, size) }
func (r *idRanges) VolumeBase() uint32               { return r.pool.VolumeBase() }

// release gives back what this create allocated; nil-safe.
func (r *idRanges) release(log *Logger) {
	if r == nil || r.dry {
		return
	}
	for _, b := range r.allocated {
		if err := r.pool.Release(b, r.owner); err != nil {
			log.Warn(fmt.Sprintf("user-namespace range %d: %v", b, err))
		}
	}
	r.allocated = nil
}

// etcDir is where the host's passwd, group, subuid and subgid are (test
// builds: $RUNH_ETC).
func etcDir() string {
	if d := envOverride("RUNH_ETC"); d != "" {
		return d
	}
	return "/etc"
}

// containerUserNS is the part of a runh container's private config that
// judges an exec process's identity: its namespaces, id mappings and the
// user-namespace limits (sysctls) it was created with.
func containerUserNS(l *specs.Linux) *specs.Linux {
	if l == nil {
		return nil
	}
	return &specs.Linux{Namespaces: l.Namespaces, UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings, Sysctl: l.Sysctl}
}

// verifyUserNS (profiles with their own user namespaces): the init is in a
// user namespace that is not the host's, and its uid_map and gid_map are
// the spec's (runh's choice, or the joined sandbox's). It reads the
// kernel's view, not the spec's; VerifyProcess has already found the
// init's host ids to be the spec's ids through these mappings.
func verifyUserNS(pid int, s *specs.Spec, host *sandbox.Host) error {
	got, err := sandbox.ReadUserNS(pid)
	if err != nil {
		return err
	}
	if got.NS == host.Namespaces[specs.UserNamespace] {
		return fmt.Errorf("the init is in the host's user namespace")
	}
	for _, m := range []struct {
		file      string
		got, want []specs.LinuxIDMapping
	}{{"uid_map", got.UID, s.Linux.UIDMappings}, {"gid_map", got.GID, s.Linux.GIDMappings}} {
		if !slices.Equal(m.got, m.want) {
			return fmt.Errorf("%s is %v, want %v", m.file, m.got, m.want)
		}
	}
	return nil
}
