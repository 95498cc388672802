package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunRuncExitCodes(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"kill -TERM $$", 128 + int(syscall.SIGTERM)},
	} {
		code, err := runRunc("/bin/sh", []string{"-c", tc.script})
		if err != nil || code != tc.want {
			t.Errorf("%q: code %d err %v, want %d", tc.script, code, err, tc.want)
		}
	}
	if _, err := runRunc("/nonexistent/runc", nil); err == nil || !strings.Contains(err.Error(), "start /nonexistent/runc") {
		t.Errorf("missing runc: %v", err)
	}
}

// HelperPidFileEnv makes the test binary TestRuncDiesWithRunh's helper: it
// names the file the helper's "runc" writes its pid to. Exported for
// runh_test.go's TestMain (package runtime_test), which skips its build of
// runh in the helper.
const HelperPidFileEnv = "RUNH_TEST_RUNRUNC_PIDFILE"

// TestHelperRunRunc is the runh of TestRuncDiesWithRunh: it starts a
// "runc" that records its pid and waits.
func TestHelperRunRunc(t *testing.T) {
	pidFile := os.Getenv(HelperPidFileEnv)
	if pidFile == "" {
		t.Skip("helper process only")
	}
	runRunc("/bin/sh", []string{"-c", "echo $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + " && exec sleep 30"})
	os.Exit(0)
}

// A runh killed while runc runs (an engine's timeout sends SIGKILL) must
// not leave runc to finish a container that nobody verifies.
func TestRuncDiesWithRunh(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "runc.pid")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperRunRunc$")
	helper.Env = append(os.Environ(), HelperPidFileEnv+"="+pidFile)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			helper.Process.Kill()
			helper.Wait()
			t.Fatal("the helper's runc never started")
		}
		if data, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
	}
	helper.Process.Kill()
	helper.Wait()
	// The orphan is reparented; it is gone, or a zombie, once killed.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("runc (pid %d) outlived the runh that started it", pid)
		}
	}
}
