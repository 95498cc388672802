package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFaultKilledDuringCreate kills runh with SIGKILL at random points of
// create: config.json is always either the original or the complete
// hardened file, and a later successful create leaves no temporary file.
func TestFaultKilledDuringCreate(t *testing.T) {
	c := newCtr(t, "true")
	orig, _ := os.ReadFile(c.config())
	// The complete hardened file, from one undisturbed create.
	c.mustRunh("create", c.id)
	hardened, _ := os.ReadFile(c.config())
	c.runc("delete", "--force", c.id)
	for i := 0; i < 40; i++ {
		os.WriteFile(c.config(), orig, 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := c.cmd(ctx, runhBin, "create", c.id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		now, _ := os.ReadFile(c.config())
		if !bytes.Equal(now, orig) && !bytes.Equal(now, hardened) {
			t.Fatalf("round %d: config.json is neither the original nor the hardened file (%d bytes)", i, len(now))
		}
		// Killing runh does not stop the runc it started: let that
		// orphan finish before removing what it created.
		waitNoProcessWith(t, c.id)
		c.runc("delete", "--force", c.id)
	}
	// runh's own temporary files are cleaned by the next create.
	os.WriteFile(c.config(), orig, 0o644)
	c.mustRunh("create", c.id)
	if left, _ := filepath.Glob(filepath.Join(c.bundle, ".runh-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestConcurrentCreates creates 20 containers at once: every one is
// hardened, and each has its own configuration.
func TestConcurrentCreates(t *testing.T) {
	const n = 20
	cs := make([]*ctr, n)
	before := make([][]byte, n)
	for i := range cs {
		cs[i] = newCtr(t, "sh", "-c", fmt.Sprintf("echo marker-%d; id -u; grep Seccomp: /proc/self/status", i))
		before[i], _ = os.ReadFile(cs[i].config())
	}
	var wg sync.WaitGroup
	results := make([]result, n)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.runh("run", c.id)
		}()
	}
	wg.Wait()
	for i, c := range cs {
		r := results[i]
		want := fmt.Sprintf("marker-%d\n65534\nSeccomp:\t2\n", i)
		if r.code != 0 || r.stdout != want {
			t.Errorf("container %d: exit %d, stdout %q, stderr %q", i, r.code, r.stdout, r.stderr)
		}
		// runc got runh's private copy; the client's file is untouched.
		if data, _ := os.ReadFile(c.config()); !bytes.Equal(data, before[i]) {
			t.Errorf("container %d: the client's config.json changed", i)
		}
	}
}

// TestGarbageConfig: garbage, truncated and oversized config.json files get
// a clear error naming the problem and leave nothing behind.
func TestGarbageConfig(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbage":   []byte("\x00\x01not json"),
		"truncated": []byte(`{"ociVersion":"1.0.2","process":{"args":["sh"`),
		"huge":      append([]byte(`{"ociVersion":"1.0.2","annotations":{"a":"`), bytes.Repeat([]byte("x"), 5<<20)...),
		"version":   []byte(`{"ociVersion":"9.0.0"}`),
	} {
		t.Run(name, func(t *testing.T) {
			c := newCtr(t, "true")
			os.WriteFile(c.config(), content, 0o644)
			r := c.runh("create", c.id)
			if r.code == 0 || !bytes.Contains([]byte(r.stderr), []byte("invalid config")) {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if now, _ := os.ReadFile(c.config()); !bytes.Equal(now, content) || !c.stateEmpty() {
				t.Fatal("config changed or state left")
			}
		})
	}
}

// waitNoProcessWith waits until no process has arg in its command line.
func waitNoProcessWith(t *testing.T, arg string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		found := false
		dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, d := range dirs {
			data, _ := os.ReadFile(d)
			for _, a := range bytes.Split(data, []byte{0}) {
				if string(a) == arg {
					found = true
				}
			}
		}
		if !found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("a process with %q in its command line is still running", arg)
}
