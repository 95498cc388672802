package runtime

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mailru/easyjson/jlexer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/sandbox"
)

// stateDir is runh's own state: the precompiled filter cache. It lives on
// /run, a tmpfs, so it is per boot, like the kernel the filters run on.
func stateDir() string {
	if d := envOverride("RUNH_STATE_DIR"); d != "" {
		return d
	}
	return "/run/runh"
}

// findInit locates runh-init next to runh's own binary (test builds: also
// $RUNH_INIT, see envhooks.go).
func findInit() (string, error) {
	p := envOverride("RUNH_INIT")
	if p == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		p = filepath.Join(filepath.Dir(exe), "runh-init")
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", p)
	}
	return filepath.Abs(p)
}

// setupFastPath tells the seccomp rule where runh-init and the filter cache
// are. Without an init, runc compiles the profile (slower, just as safe);
// the returned reason is logged once the container is accepted.
func setupFastPath(h *sandbox.Host) (whyNot error) {
	if release, ok := kernelReportsSeccompFilters(); !ok {
		return fmt.Errorf("seccomp fast path off, runc compiles the profile: kernel %s does not report Seccomp_filters (Linux 5.9 or later), which runh-init needs to prove its filter loaded", release)
	}
	init, err := findInit()
	if err != nil {
		return fmt.Errorf("seccomp fast path off, runc compiles the profile: runh-init: %w", err)
	}
	h.SeccompInit = init
	h.SeccompCache = filepath.Join(stateDir(), "seccomp")
	return nil
}

// kernelReportsSeccompFilters: runh-init proves that its filter loaded by
// the Seccomp_filters count in /proc/self/status, which Linux reports from
// 5.9 on; it refuses to start a workload without it, so on an older kernel
// every fast-path container would fail. uname, not a read of
// /proc/self/status: ~1 µs against ~60 µs on every create.
func kernelReportsSeccompFilters() (release string, ok bool) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "(uname failed)", false
	}
	release = unix.ByteSliceToString(u.Release[:])
	var major, minor int
	if n, _ := fmt.Sscanf(release, "%d.%d", &major, &minor); n != 2 {
		return release, false
	}
	return release, major > 5 || major == 5 && minor >= 9
}

// execViaInit reports whether container id was created on the fast path,
// by looking for runh-init in its root. The init pid comes from runc's
// state file, read directly to keep exec fast, or from `runc state`.
func (c *call) execViaInit(id string) (bool, error) {
	pid, err := c.containerPid(id)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, sandbox.InitPath))
	if os.IsNotExist(err) {
		return false, nil
	}
	return err == nil, err
}

func (c *call) containerPid(id string) (int, error) {
	if filepath.Base(id) == id && id != "" && id != "." && id != ".." {
		data, err := os.ReadFile(filepath.Join(c.inv.StateRoot(), id, "state.json"))
		if err == nil {
			if pid, ok := stateInitPid(data); ok {
				return pid, nil
			}
		}
	}
	st, err := c.stateOf(id)
	if err != nil {
		return 0, err
	}
	if st.Pid <= 0 {
		return 0, fmt.Errorf("container %s has no running init", id)
	}
	return st.Pid, nil
}

// stateInitPid reads init_process_pid from runc's state.json (libcontainer's
// State, ~10 KB: the whole container config). It scans the top-level keys
// with easyjson's lexer and skips every other value: encoding/json would
// reflect over the target and scan the document at ~4x the cost, on every
// create and exec.
func stateInitPid(data []byte) (int, bool) {
	l := jlexer.Lexer{Data: data}
	pid := 0
	l.Delim('{')
	for !l.IsDelim('}') {
		key := l.UnsafeFieldName(false)
		l.WantColon()
		if key == "init_process_pid" {
			pid = l.Int()
		} else {
			l.SkipRecursive()
		}
		l.WantComma()
	}
	l.Delim('}')
	l.Consumed()
	return pid, l.Error() == nil && pid > 0
}

// verifyFastPath checks, in a created container's root, that runh-init is
// there and the filter is the one runh chose. The filter is installed when
// the container starts, so /proc/<pid>/status cannot show it yet:
// runh-init proves it from inside (Seccomp_filters one up) before it
// starts the workload.
func verifyFastPath(pid int, s *specs.Spec) error {
	n := len(s.Mounts)
	if n < 2 || s.Mounts[n-1].Destination != sandbox.FilterPath {
		return fmt.Errorf("the spec starts runh-init but does not mount its filter")
	}
	want, err := os.ReadFile(s.Mounts[n-1].Source)
	if err != nil {
		return err
	}
	root := "/proc/" + strconv.Itoa(pid) + "/root"
	have, err := os.ReadFile(root + sandbox.FilterPath)
	if err != nil {
		return fmt.Errorf("the container has no seccomp filter: %w", err)
	}
	if !bytes.Equal(have, want) {
		return fmt.Errorf("the container's seccomp filter is not runh's")
	}
	fi, err := os.Stat(root + sandbox.InitPath)
	if err != nil || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("the container has no runh-init: %v", err)
	}
	return nil
}
