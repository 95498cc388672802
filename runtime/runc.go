package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
)

// ErrRuncNotFound is returned when no real runc can be found.
var ErrRuncNotFound = errors.New("cannot find the real runc")

// frontPath is runh's C front (runtime/front), which execs runh-core for
// everything but plain pass-through calls and says where it is in
// RUNH_FRONT. It is runh too: FindRunc must never pick it.
var frontPath string

// takeFrontPath reads RUNH_FRONT and removes it from the environment, so
// that runc and its hooks do not see it.
func takeFrontPath() {
	frontPath = os.Getenv("RUNH_FRONT")
	os.Unsetenv("RUNH_FRONT")
	// The front set GOMAXPROCS=1 for this process only (fewer runtime
	// threads); what runh runs gets the caller's environment.
	if os.Getenv("RUNH_FRONT_GOMAXPROCS") == "1" {
		os.Unsetenv("GOMAXPROCS")
		os.Unsetenv("RUNH_FRONT_GOMAXPROCS")
	}
}

// runhPath is the path engines exec as runh: the front if there is one.
func runhPath() (string, error) {
	if frontPath != "" {
		return frontPath, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

// FindRunc locates the real runc: runc next to runh's binary (engines such as Podman do not pass their environment to
// every runtime call), else runc in the system's binary directories
// (runcDirs). runh's own binary is always skipped, so installing runh as
// `runc` cannot loop. Test builds also honour $RUNH_RUNC (envhooks).
//
// configured, the operator config's runc key, comes first when set; it
// must be usable, or runh stops rather than pick another runc.
func FindRunc(configured string) (string, error) {
	self, _ := os.Stat("/proc/self/exe")
	var front os.FileInfo
	if frontPath != "" {
		front, _ = os.Stat(frontPath)
	}
	usable := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", p)
		}
		if self != nil && os.SameFile(fi, self) || front != nil && os.SameFile(fi, front) {
			return fmt.Errorf("%s is runh itself", p)
		}
		return nil
	}
	if p := envOverride("RUNH_RUNC"); p != "" {
		if err := usable(p); err != nil {
			return "", fmt.Errorf("%w: RUNH_RUNC: %w", ErrRuncNotFound, err)
		}
		return filepath.Abs(p)
	}
	if configured != "" {
		if err := usable(configured); err != nil {
			return "", fmt.Errorf("%w: runc in the runh config: %w", ErrRuncNotFound, err)
		}
		return configured, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "runc"); usable(p) == nil {
			return p, nil
		}
	}
	for _, dir := range runcDirs() {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, "runc")
		if usable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: install runc next to runh (make build puts the pinned one in bin/), or in %s (runh skips its own binary)", ErrRuncNotFound, strings.Join(runcDirs(), ":"))
}

// execRunc replaces runh with runc. args excludes argv[0]. Every inherited
// fd stays open at its number: runh opens its own files close-on-exec and
// never touches the caller's.
func execRunc(runc string, args []string) error {
	argv := append([]string{runc}, args...)
	err := syscall.Exec(runc, argv, os.Environ())
	return fmt.Errorf("exec %s: %w", runc, err)
}

// runRunc runs runc as a child with runh's stdio and every inherited fd
// (both kept at their numbers: Go's fork closes nothing else), and returns
// its exit code, 128+n when a signal n ended it.
//
// runc dies with runh: the child gets SIGKILL when runh exits (the kernel's
// parent-death signal), so a runh killed mid-create, as an engine does on a
// timeout, leaves no runc to finish a container that nobody verifies. runh
// does not catch signals here: os/signal costs ~0.3 ms of CPU per call
// (runc's signals.go says as much), and a signal that ends runh now ends
// runc too. The forking thread stays locked until the wait is done, because
// the parent-death signal follows the thread that forked, not the process.
func runRunc(runc string, args []string) (int, error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	pid, err := syscall.ForkExec(runc, append([]string{runc}, args...), &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", runc, err)
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("wait for %s: %w", runc, err)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// outputRunc runs runc quietly and returns its stdout. runc's own error
// output goes to runh's stderr.
func outputRunc(runc string, args ...string) ([]byte, error) {
	cmd := exec.Command(runc, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", filepath.Base(runc), strings.Join(args, " "), err)
	}
	return out, nil
}
