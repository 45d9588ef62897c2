package sshd

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/session/utmp"
)

// recordLogin writes a terminal session's login to utmp, wtmp and
// lastlog, as sshd does, so that who, w, last and lastlog see jailed
// users: the line is the jail's own terminal (pts/N of its devpts), the
// host the client's address. It returns the entry to log out, or nil.
func (s *sessionChannel) recordLogin(master *os.File) *utmp.Entry {
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		s.c.lg().Warn("utmp: terminal number", "err", err)
		return nil
	}
	line := "pts/" + strconv.Itoa(n)
	e := &utmp.Entry{
		Line: line, ID: utmp.IDFor(s.jr.sessionID(), line),
		User: s.c.login.who.Name, UID: s.c.login.who.UID,
		Host: s.c.remote.Addr().String(), Addr: s.c.remote.Addr(),
		Pid: os.Getpid(), IsLast: true,
	}
	if err := utmp.Login(*e); err != nil {
		s.c.lg().Warn("utmp login record", "err", err)
	}
	return e
}

// recordLogout writes the logout of e (nil: nothing was recorded).
func (s *sessionChannel) recordLogout(e *utmp.Entry) {
	if e == nil {
		return
	}
	if err := utmp.Logout(*e); err != nil {
		s.c.lg().Warn("utmp logout record", "err", err)
	}
}
