package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runh-dev/runh/sandbox"
)

// releasePinsArg is runh-core's internal entry point for `run`: runh execs
// runc for `run` (runc's foreground, tty and signal handling stay runc's),
// so it cannot detach the pins itself once runc has made its mounts. A
// small child, started just before the exec, waits for runc's state of the
// container (runc writes it only after the container's mounts are made)
// or for runc to exit, detaches the pins and exits: nothing of runh stays
// mounted or running.
const releasePinsArg = "--runh-release-pins"

// startPinReleaser starts that child, in its own session with no stdio, so
// it never holds the caller's terminal or pipes. Failure to start it is not
// fatal: the next create's sweep detaches the pins.
func startPinReleaser(dir, stateRoot, id string, log *Logger) {
	exe, err := os.Executable()
	if err != nil {
		log.Warn("pin releaser: " + err.Error())
		return
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		log.Warn("pin releaser: " + err.Error())
		return
	}
	defer null.Close()
	fd := null.Fd()
	_, err = syscall.ForkExec(exe, []string{exe, releasePinsArg, dir, stateRoot, id, strconv.Itoa(os.Getpid())}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{fd, fd, fd},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		log.Warn("pin releaser: " + err.Error())
	}
}

// releasePinsMain is the child: args are the private bundle, runc's state
// root, the container id and runc's pid. It only ever touches a directory
// below runh's private bundles, and gives up waiting after a minute.
func releasePinsMain(args []string) int {
	if len(args) != 4 {
		return 2
	}
	dir, stateRoot, id := args[0], args[1], args[2]
	runcPid, err := strconv.Atoi(args[3])
	top := filepath.Join(stateDir(), "bundles") + "/"
	if err != nil || !validID(id) || !strings.HasPrefix(filepath.Clean(dir), top) {
		return 2
	}
	state := filepath.Join(stateRoot, id, "state.json")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if data, err := os.ReadFile(state); err == nil {
			if _, ok := stateInitPid(data); ok {
				break
			}
		}
		if syscall.Kill(runcPid, 0) == syscall.ESRCH {
			break
		}
	}
	if err := sandbox.ReleasePinsIn(dir); err != nil {
		return 1
	}
	return 0
}
