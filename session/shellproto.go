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

func (s shellConn) send(m *shellMsg, files ...*os.File) error { return SendMsg(s.c, m, files...) }

func (s shellConn) recv() (*shellMsg, []*os.File, error) {
	m := new(shellMsg)
	files, err := RecvMsg(s.c, m)
	if err != nil {
		return nil, nil, err
	}
	return m, files, nil
}

func closeFiles(fs []*os.File) { CloseFiles(fs) }

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
