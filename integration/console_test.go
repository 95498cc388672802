package integration

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// consoleListener receives the pty master runc sends over --console-socket.
type consoleListener struct{ ln *net.UnixListener }

func newConsoleListener(path string) (*consoleListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	return &consoleListener{ln: ln}, nil
}

func (l *consoleListener) Close() error { return l.ln.Close() }

func (l *consoleListener) receive() (*os.File, error) {
	conn, err := l.ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("control message: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("rights: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
