// Package idpool hands out host id ranges for containers' user namespaces:
// 65536 ids each, from an operator-configured pool, one container per
// range. A range is someone's while its container exists in runc's state
// or the runh process that allocated it is still running (a create on its
// way to runc); the next allocation frees the others. runh never
// intercepts delete (the C front passes it straight to runc), so a freed
// range is found, not announced.
//
// The pool is a directory of slot files under one lock, each named by the
// first host id of its range: slot N is [Base+N*RangeSize,
// Base+(N+1)*RangeSize). Slot 0 is never given to
// a container: its ids are the on-disk owners of the files containers
// write to volumes (see VolumeBase), so no running process ever has them.
package idpool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runh-dev/runh/internal/audit"
)

// RangeSize is the ids each container gets: a whole 16-bit id space, as
// Kubernetes' hostUsers: false and Docker's userns-remap give, so images
// with ids up to 65535 (nobody is 65534) work unchanged.
const RangeSize = 65536

// DefaultBase and DefaultRanges are the pool without an operator setting:
// 1024 ranges from 2^30. That is far above host users (below 65536),
// /etc/subuid's conventional 100000+, and the kubelet's default for
// hostUsers: false pods (65536 up, 65536 per pod, so about 7.3 million
// ids at 110 pods), and below 2^31, which some tools treat as negative.
const (
	DefaultBase   = 1 << 30
	DefaultRanges = 1024
)

// ErrExhausted: every range of the pool belongs to a live container.
var ErrExhausted = errors.New("user-namespace id pool exhausted")

// ErrOverlap: the pool overlaps ids the host has given out.
var ErrOverlap = errors.New("user-namespace id pool overlaps host ids")

// Pool is one node's id pool.
type Pool struct {
	// Dir holds the lock and the slot files; it must be root's alone.
	Dir string
	// Base is the pool's first host id; Ranges the number of slots,
	// slot 0 included.
	Base, Ranges uint32
}

// Owner is the container a range is for.
type Owner struct {
	// Root is runc's --root (absolute) and ID the container id: the range
	// is in use while Root/ID exists.
	Root string `json:"root"`
	ID   string `json:"id"`
	// Pid and Start (its start time in clock ticks, /proc/<pid>/stat
	// field 22) are the runh process that allocated it: until runc has
	// made Root/ID, that process being alive keeps the range.
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Validate checks the pool's shape against the id floor: it must start at
// or above floor, hold at least two slots (slot 0 is the volume range),
// and end below 2^32-1 (the invalid id).
func (p *Pool) Validate(floor uint64) error {
	if uint64(p.Base) < floor {
		return fmt.Errorf("base %d is below the host id floor %d", p.Base, floor)
	}
	if p.Ranges < 2 {
		return fmt.Errorf("ranges %d: at least 2 (range 0 owns volume files, containers get the others)", p.Ranges)
	}
	if uint64(p.Base)+uint64(p.Ranges)*RangeSize > 1<<32-1 {
		return fmt.Errorf("base %d + %d ranges of %d runs past the last id", p.Base, p.Ranges, RangeSize)
	}
	return nil
}

// End is one past the pool's last id.
func (p *Pool) End() uint64 { return uint64(p.Base) + uint64(p.Ranges)*RangeSize }

// VolumeBase is the first id of slot 0: on disk, a volume file written by
// container uid u is owned by VolumeBase+u, whichever range the container
// has, so a volume keeps working across containers and restarts.
func (p *Pool) VolumeBase() uint32 { return p.Base }

// Slot is the slot of the range that starts at host id base, if it is a
// container range of this pool.
func (p *Pool) Slot(base uint32) (uint32, bool) {
	if base < p.Base || uint64(base) >= p.End() || (base-p.Base)%RangeSize != 0 {
		return 0, false
	}
	n := (base - p.Base) / RangeSize
	return n, n > 0
}

// Contains reports whether any id of [start, start+size) is in the pool,
// or in a pool another config allocated from on this node since boot (an
// operator with two configs, or one that moved the base): all of them
// are the userns profile's.
func (p *Pool) Contains(start, size uint64) bool {
	if p.contains(start, size) {
		return true
	}
	for _, o := range p.recorded() {
		if o.contains(start, size) {
			return true
		}
	}
	return false
}

func (p *Pool) contains(start, size uint64) bool {
	return start < p.End() && start+size > uint64(p.Base)
}

// poolsFile lists the pools allocated from on this node: "BASE RANGES".
const poolsFile = "pools"

// recorded reads the pools file; a missing or unreadable one is empty.
func (p *Pool) recorded() []Pool {
	data, err := os.ReadFile(filepath.Join(p.Dir, poolsFile))
	if err != nil {
		return nil
	}
	var out []Pool
	for _, l := range strings.Split(string(data), "\n") {
		var o Pool
		if n, _ := fmt.Sscanf(l, "%d %d", &o.Base, &o.Ranges); n == 2 {
			out = append(out, o)
		}
	}
	return out
}

// record adds this pool to the pools file (the lock held).
func (p *Pool) record() error {
	for _, o := range p.recorded() {
		if o.Base == p.Base && o.Ranges == p.Ranges {
			return nil
		}
	}
	f, err := os.OpenFile(filepath.Join(p.Dir, poolsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %d\n", p.Base, p.Ranges)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// HostOverlap names the first host account or delegated range (passwd,
// group, subuid, subgid under etc) whose ids fall in the pool: a range
// holding a host user's id would make the container that user on the host.
func (p *Pool) HostOverlap(etc string) error {
	for _, f := range []struct {
		name  string
		field int // the id's field; -1 for subid start:count
	}{{"passwd", 2}, {"group", 2}, {"subuid", -1}, {"subgid", -1}} {
		path := filepath.Join(etc, f.name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			parts := strings.Split(line, ":")
			start, size := uint64(0), uint64(1)
			var err error
			if f.field >= 0 {
				if len(parts) <= f.field {
					continue
				}
				start, err = strconv.ParseUint(parts[f.field], 10, 32)
			} else {
				if len(parts) != 3 {
					continue
				}
				if start, err = strconv.ParseUint(parts[1], 10, 32); err == nil {
					size, err = strconv.ParseUint(parts[2], 10, 32)
				}
			}
			if err != nil {
				continue
			}
			if p.Contains(start, size) {
				return fmt.Errorf("%w: %s has %q (ids %d-%d) inside the pool %d-%d", ErrOverlap, path, parts[0], start, start+size-1, p.Base, p.End()-1)
			}
		}
	}
	return nil
}

// lockWait bounds the wait for another runh's allocation.
const lockWait = 10 * time.Second

// Allocate gives owner the lowest free range and returns its first host
// id. Ranges of gone containers are freed on the way. Slot files are
// named by their first host id, and a candidate is free only if it
// overlaps no live range: a pool whose base the operator moved while
// containers ran never hands out ids they still have.
func (p *Pool) Allocate(owner Owner) (uint32, error) {
	unlock, err := p.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	busy, err := p.live(true)
	if err != nil {
		return 0, err
	}
	if err := p.record(); err != nil {
		return 0, err
	}
	// Every pool's range 0 owns volume files: never a container's.
	for _, o := range p.recorded() {
		busy[o.Base] = Owner{}
	}
	free := uint32(0)
	for n := uint32(1); n < p.Ranges && free == 0; n++ {
		cand := p.Base + n*RangeSize
		free = cand
		for b := range busy {
			if uint64(b) < uint64(cand)+RangeSize && uint64(cand) < uint64(b)+RangeSize {
				free = 0
				break
			}
		}
	}
	if free == 0 {
		return 0, fmt.Errorf("%w: all %d ranges from %d belong to live containers", ErrExhausted, p.Ranges-1, p.Base+RangeSize)
	}
	if err := writeSlot(p.slotPath(free), owner); err != nil {
		return 0, err
	}
	return free, nil
}

// Join makes owner a co-owner of the live range at base: a container that
// joins its pod sandbox's user namespace. The range then stays taken while
// any of its owners lives, not only the sandbox (a pod's containers can
// outlive it), so it is never given to another container while one of
// them still runs with its ids.
func (p *Pool) Join(base uint32, owner Owner) error {
	if _, ok := p.Slot(base); !ok {
		return fmt.Errorf("range %d is not one of the pool's", base)
	}
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if o, err := readSlot(p.slotPath(base)); err != nil || !o.live() {
		return fmt.Errorf("range %d belongs to no live container", base)
	}
	return writeSlot(p.joinPath(base, owner), owner)
}

func writeSlot(path string, owner Owner) error {
	data, err := json.Marshal(owner)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// joinPath is a co-owner's file: BASE.PID.START of the runh that joined.
func (p *Pool) joinPath(base uint32, owner Owner) string {
	return fmt.Sprintf("%s.%d.%d", p.slotPath(base), owner.Pid, owner.Start)
}

// live reads every slot file: the live ranges by first host id. With
// sweep (the lock held) the others are removed.
func (p *Pool) live(sweep bool) (map[uint32]Owner, error) {
	ents, err := os.ReadDir(p.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	out := map[uint32]Owner{}
	for _, ent := range ents {
		// BASE for the range's first owner, BASE.PID.START for a joiner.
		first, _, _ := strings.Cut(ent.Name(), ".")
		b, err := strconv.ParseUint(first, 10, 32)
		if err != nil {
			continue // the lock
		}
		o, err := readSlot(filepath.Join(p.Dir, ent.Name()))
		if err == nil && o.live() {
			out[uint32(b)] = o
			continue
		}
		if sweep {
			if err := os.Remove(filepath.Join(p.Dir, ent.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	return out, nil
}

// Release frees the range at base if owner holds it: a create that runh
// refused, or that runc failed, leaves nothing behind.
func (p *Pool) Release(base uint32, owner Owner) error {
	if _, ok := p.Slot(base); !ok {
		return nil
	}
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, path := range []string{p.slotPath(base), p.joinPath(base, owner)} {
		if o, err := readSlot(path); err == nil && o == owner {
			return os.Remove(path)
		}
	}
	return nil
}

// Held reports whether the range at base is allocated to a live
// container: a pod's sandbox whose user namespace a container joins.
func (p *Pool) Held(base uint32) bool {
	if _, ok := p.Slot(base); !ok {
		return false
	}
	o, err := readSlot(p.slotPath(base))
	return err == nil && o.live()
}

// Owns reports whether owner holds the range at base.
func (p *Pool) Owns(base uint32, owner Owner) bool {
	if _, ok := p.Slot(base); !ok {
		return false
	}
	for _, path := range []string{p.slotPath(base), p.joinPath(base, owner)} {
		if o, err := readSlot(path); err == nil && o == owner {
			return true
		}
	}
	return false
}

// InUse lists the live ranges by first host id (for tests and
// diagnostics); it takes no lock and frees nothing.
func (p *Pool) InUse() map[uint32]Owner {
	out, _ := p.live(false)
	return out
}

// slotPath is the slot file of the range that starts at host id base.
func (p *Pool) slotPath(base uint32) string {
	return filepath.Join(p.Dir, strconv.FormatUint(uint64(base), 10))
}

func (p *Pool) lock() (func(), error) {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("id pool: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p.Dir, &st); err != nil {
		return nil, fmt.Errorf("id pool: %w", err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR || st.Uid != 0 || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("id pool: %s must be a directory that only root can write", p.Dir)
	}
	f, err := os.OpenFile(filepath.Join(p.Dir, "lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, fmt.Errorf("id pool: %w", err)
	}
	if err := audit.Flock(f, lockWait); err != nil {
		f.Close()
		return nil, fmt.Errorf("id pool lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func readSlot(path string) (Owner, error) {
	var o Owner
	data, err := os.ReadFile(path)
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(data, &o); err != nil {
		return o, err
	}
	return o, nil
}

// live: the container is in runc's state (its state.json: a bare
// directory of that name, which anyone who chooses --root and the id
// could make, holds nothing), or its create is still running.
func (o Owner) live() bool {
	if o.Root != "" && o.ID != "" {
		if _, err := os.Lstat(filepath.Join(o.Root, o.ID, "state.json")); err == nil {
			return true
		}
	}
	start, err := StartTime(o.Pid)
	return err == nil && start == o.Start
}

// StartTime is pid's start time in clock ticks since boot: with the pid it
// names one process, never a later one that reused the pid.
func StartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); the start time is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Self is the calling process as an owner of a range for container id
// under runc root.
func Self(root, id string) (Owner, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Owner{}, err
	}
	start, err := StartTime(os.Getpid())
	if err != nil {
		return Owner{}, err
	}
	return Owner{Root: abs, ID: id, Pid: os.Getpid(), Start: start}, nil
}
