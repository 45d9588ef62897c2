package session

// The PAM front door's shell protocol, between `loginjail shell` (run by
// sshd as the user, via ForceCommand) and the login's holder (a root
// process started by `loginjail pam-hook` that keeps the jail's control
// connection, as the SSH server's per-connection process does).
//
//	shell (user)                                 holder (root)
//	  │── run {cmd, term, pty, rows, cols} ─────▶│ SO_PEERCRED: same uid, sshd ancestry
//	  │   [+ stdin, stdout, stderr unless pty]    │ Jail.Spawn
//	  │◀── started {} [+ pty master] ────────────│
//	  │── signal {sig} ──────────────────────────▶│ Process.Signal
//	  │◀── exit {code, signal} ───────────────────│
//	pam-hook (root, close_session)
//	  │── close {} ──────────────────────────────▶│ Session.Close, exit
//
// Messages are JSON on a SOCK_SEQPACKET unix socket, fds by SCM_RIGHTS.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// shellMsg is the one envelope of the shell protocol.
type shellMsg struct {
	Type   string `json:"type"` // run, started, signal, exit, close, error
	Cmd    string `json:"cmd,omitempty"`
	SFTP   bool   `json:"sftp,omitempty"` // run the SFTP server instead of a shell
	Term   string `json:"term,omitempty"`
	Pty    bool   `json:"pty,omitempty"`
	Rows   uint16 `json:"rows,omitempty"`
	Cols   uint16 `json:"cols,omitempty"`
	Signal int    `json:"signal,omitempty"`
	Code   int    `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
}

// shellConn is one end of a shell protocol connection.
type shellConn struct{ c *net.UnixConn }

func (s shellConn) send(m *shellMsg, files ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	_, _, err = s.c.WriteMsgUnix(b, oob, nil)
	return err
}

var errShellClosed = errors.New("connection closed")

func (s shellConn) recv() (*shellMsg, []*os.File, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, flags, _, err := s.c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	files, err := parseFiles(oob[:oobn])
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		closeFiles(files)
		return nil, nil, errShellClosed
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeFiles(files)
		return nil, nil, errors.New("message truncated")
	}
	m := new(shellMsg)
	if err := json.Unmarshal(buf[:n], m); err != nil {
		closeFiles(files)
		return nil, nil, fmt.Errorf("decode: %w", err)
	}
	return m, files, nil
}

func parseFiles(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for _, cm := range cmsgs {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			out = append(out, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return out, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// peerCred returns the connecting process's pid and uid (SO_PEERCRED).
func peerCred(c *net.UnixConn) (pid int, uid uint32, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, cerr
	}
	return int(cred.Pid), cred.Uid, nil
}
