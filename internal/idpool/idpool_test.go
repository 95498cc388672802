package idpool

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// gone is an owner whose create has finished (pid 1's start time is not
// 12345) and whose container runc no longer has.
func gone(root, id string) Owner { return Owner{Root: root, ID: id, Pid: 1, Start: 12345} }

func testPool(t *testing.T, ranges uint32) *Pool {
	t.Helper()
	return &Pool{Dir: filepath.Join(t.TempDir(), "pool"), Base: DefaultBase, Ranges: ranges}
}

func TestAllocateDisjointAndNeverSlotZero(t *testing.T) {
	p := testPool(t, 8)
	root := t.TempDir()
	seen := map[uint32]bool{}
	for i := 0; i < 7; i++ {
		id := "c" + string(rune('a'+i))
		mkState(t, root, id) // runc's state: live
		b, err := p.Allocate(gone(root, id))
		if err != nil {
			t.Fatal(err)
		}
		if b == p.Base || seen[b] || (b-p.Base)%RangeSize != 0 {
			t.Fatalf("allocation %d: base %d (slot 0 or repeated or unaligned)", i, b)
		}
		seen[b] = true
	}
	if _, err := p.Allocate(gone(root, "full")); !errors.Is(err, ErrExhausted) {
		t.Fatalf("8th allocation of 7 container ranges: %v, want ErrExhausted", err)
	}
}

func TestAllocateFreesGoneContainers(t *testing.T) {
	p := testPool(t, 3)
	root := t.TempDir()
	mkState(t, root, "a")
	a, err := p.Allocate(gone(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := Self(root, "b") // no state dir, but this process is alive
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Allocate(self)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Allocate(gone(root, "c")); !errors.Is(err, ErrExhausted) {
		t.Fatalf("a live state dir and a live creator hold both ranges: %v", err)
	}
	// a is deleted: its range is found free by the next allocation.
	os.RemoveAll(filepath.Join(root, "a"))
	mkState(t, root, "c")
	c, err := p.Allocate(gone(root, "c"))
	if err != nil || c != a {
		t.Fatalf("after a's delete: got %d, %v; want a's range %d back", c, err, a)
	}
	if !p.Held(b) || p.Held(a+RangeSize*5) {
		t.Fatal("Held")
	}
	// Release gives back only the caller's own range.
	if err := p.Release(b, gone(root, "x")); err != nil || len(p.InUse()) != 2 {
		t.Fatalf("release by another owner: %v, in use %v", err, p.InUse())
	}
	if err := p.Release(b, self); err != nil || len(p.InUse()) != 1 {
		t.Fatalf("release by its owner: %v, in use %v", err, p.InUse())
	}
}

func TestAllocateConcurrent(t *testing.T) {
	p := testPool(t, 64)
	self, err := Self(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[uint32]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := p.Allocate(self)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || got[b] {
				t.Errorf("allocation: %d, %v (repeated: %v)", b, err, got[b])
			}
			got[b] = true
		}()
	}
	wg.Wait()
	if len(got) != 40 {
		t.Fatalf("%d distinct ranges for 40 allocations", len(got))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Pool
		ok bool
	}{
		{Pool{Base: DefaultBase, Ranges: DefaultRanges}, true},
		{Pool{Base: 65536, Ranges: 2}, true},
		{Pool{Base: 1000, Ranges: 2}, false},              // below the floor
		{Pool{Base: DefaultBase, Ranges: 1}, false},       // no container range
		{Pool{Base: 1<<32 - RangeSize, Ranges: 1}, false}, // past the last id
		{Pool{Base: 1 << 31, Ranges: 32768}, false},       // ends at 2^32, the last is invalid
	} {
		if err := tc.p.Validate(65536); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

func TestHostOverlap(t *testing.T) {
	etc := t.TempDir()
	p := &Pool{Base: 200000, Ranges: 4}
	write := func(name, data string) { os.WriteFile(filepath.Join(etc, name), []byte(data), 0o644) }
	write("passwd", "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
	write("group", "root:x:0:\n")
	write("subuid", "alice:100000:65536\n")
	if err := p.HostOverlap(etc); err != nil {
		t.Fatalf("no overlap: %v", err)
	}
	write("subgid", "bob:400000:10\n") // inside 200000-462143
	if err := p.HostOverlap(etc); !errors.Is(err, ErrOverlap) {
		t.Fatalf("subgid inside the pool: %v", err)
	}
	write("subgid", "")
	write("passwd", "svc:x:262144:262144::/:/bin/false\n")
	if err := p.HostOverlap(etc); !errors.Is(err, ErrOverlap) {
		t.Fatalf("a host user inside the pool: %v", err)
	}
}

func TestSlot(t *testing.T) {
	p := &Pool{Base: DefaultBase, Ranges: 4}
	for _, tc := range []struct {
		base uint32
		n    uint32
		ok   bool
	}{
		{DefaultBase, 0, false}, // the volume range
		{DefaultBase + RangeSize, 1, true},
		{DefaultBase + 3*RangeSize, 3, true},
		{DefaultBase + 4*RangeSize, 0, false},
		{DefaultBase + RangeSize + 1, 0, false},
		{65536, 0, false},
	} {
		n, ok := p.Slot(tc.base)
		if ok != tc.ok || ok && n != tc.n {
			t.Errorf("Slot(%d) = %d, %v", tc.base, n, ok)
		}
	}
}

// TestMovedBaseNeverOverlaps: an operator moves the pool's base while
// containers run; no new range may overlap theirs.
func TestMovedBaseNeverOverlaps(t *testing.T) {
	p := testPool(t, 4)
	root := t.TempDir()
	mkState(t, root, "old")
	old, err := p.Allocate(gone(root, "old"))
	if err != nil {
		t.Fatal(err)
	}
	moved := &Pool{Dir: p.Dir, Base: p.Base + 1000, Ranges: 4}
	mkState(t, root, "new")
	b, err := moved.Allocate(gone(root, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if uint64(b) < uint64(old)+RangeSize && uint64(old) < uint64(b)+RangeSize {
		t.Fatalf("range %d overlaps the live range %d", b, old)
	}
}

// mkState makes runc's state of container id under root.
func mkState(t *testing.T, root, id string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, id, "state.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestJoinerKeepsRange: a pod container that joined the sandbox's range
// keeps it taken after the sandbox is gone (runh's attack pass: the range
// was handed to an unrelated container while the joiner ran).
func TestJoinerKeepsRange(t *testing.T) {
	p := testPool(t, 3)
	root := t.TempDir()
	mkState(t, root, "sandbox")
	b, err := p.Allocate(gone(root, "sandbox"))
	if err != nil {
		t.Fatal(err)
	}
	mkState(t, root, "app")
	app := Owner{Root: root, ID: "app", Pid: 1, Start: 777}
	if err := p.Join(b, app); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(root, "sandbox"))
	if other, err := p.Allocate(gone(root, "other")); err != nil || other == b {
		t.Fatalf("with the joiner alive: %d, %v; must not be %d", other, err, b)
	}
	if !p.Owns(b, app) {
		t.Fatal("the joiner does not own its range")
	}
	// A range with no live first owner cannot be joined.
	if err := p.Join(b, gone(root, "late")); err == nil {
		t.Fatal("joined a range whose sandbox is gone")
	}
	if err := p.Release(b, app); err != nil || p.Owns(b, app) {
		t.Fatalf("release of the join: %v", err)
	}
	// A bare directory named like the container is no runc state.
	os.MkdirAll(filepath.Join(root, "fake"), 0o700)
	f, err := p.Allocate(gone(root, "fake"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Held(f) {
		t.Fatal("a directory without state.json keeps a range")
	}
}

// TestPoolsOfOtherConfigs: a pool another config allocated from stays
// reserved (Contains), and its volume range is never a container's.
func TestPoolsOfOtherConfigs(t *testing.T) {
	a := testPool(t, 4)
	root := t.TempDir()
	mkState(t, root, "x")
	if _, err := a.Allocate(gone(root, "x")); err != nil {
		t.Fatal(err)
	}
	// b starts one range below a: its range 1 would be a's volume range.
	b := &Pool{Dir: a.Dir, Base: a.Base - RangeSize, Ranges: 4}
	if !b.Contains(uint64(a.Base), 1) {
		t.Fatal("another config's pool is not reserved")
	}
	mkState(t, root, "y")
	got, err := b.Allocate(gone(root, "y"))
	if err != nil {
		t.Fatal(err)
	}
	if got == a.Base {
		t.Fatalf("b gave a container a's volume range %d", got)
	}
}
