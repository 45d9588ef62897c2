package sshd

import (
	"os"
	"syscall"

	"github.com/loginjail/loginjail/jail"
	"github.com/loginjail/loginjail/session"
)

// jailRef is the jail a connection's channels and forwardings run in:
// one this process built and owns (localJail), or, with [jail] share =
// "user", a live jail of the same user that another per-connection
// process built and serves over its share socket (share.go). Either way
// the jail's init opens every socket and starts every process; this
// process never enters a namespace.
type jailRef interface {
	sessionID() string
	// spawn runs a process (the login shell, a command or the SFTP
	// server) in the jail; with r.Pty the terminal's master comes back.
	spawn(r spawnReq, stdio []*os.File) (proc, *os.File, error)
	// dial connects from inside the jail's network namespace.
	dial(network, addr string) (*os.File, error)
	// listen binds inside the jail's network namespace; "unix" makes an
	// agent-style socket owned by the session user and returns its path.
	listen(network, addr string) (*os.File, string, error)
	// done is closed when the jail has ended (or, for a shared jail, the
	// connection to the process serving it is gone).
	done() <-chan struct{}
}

// proc is a process started in the jail.
type proc interface {
	Signal(sig syscall.Signal) error
	Done() <-chan struct{}
	Wait() (jail.ExitStatus, error)
}

// spawnReq is what a session channel asks to run.
type spawnReq = session.SpawnReq

// localJail is a jail this process built.
type localJail struct{ s *session.Session }

func (l localJail) sessionID() string { return l.s.ID }

func (l localJail) spawn(r spawnReq, stdio []*os.File) (proc, *os.File, error) {
	p, err := l.s.Jail.Spawn(l.s.ProcSpec(r), stdio)
	if err != nil {
		return nil, nil, err
	}
	return p, p.Pty, nil
}

func (l localJail) dial(network, addr string) (*os.File, error) { return l.s.Jail.Dial(network, addr) }

func (l localJail) listen(network, addr string) (*os.File, string, error) {
	return l.s.Listen(network, addr)
}

func (l localJail) done() <-chan struct{} { return l.s.Jail.Done() }
