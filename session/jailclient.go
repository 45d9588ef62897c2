package session

import (
	"errors"
	"sync"
	"syscall"

	"os"

	"github.com/loginjail/loginjail/jail"
)

// RefusedError is a jail server's refusal of a request, in its words.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Request sends m (with files) on c and reads the answer: an error
// answer comes back as a *RefusedError.
func Request(c Conn, m *Msg, files ...*os.File) (*Msg, []*os.File, error) {
	if err := c.Send(m, files...); err != nil {
		return nil, nil, err
	}
	res, got, err := c.Recv()
	if err != nil {
		return nil, nil, err
	}
	if res.Type == MsgError {
		closeFiles(got)
		return nil, nil, &RefusedError{res.Error}
	}
	return res, got, nil
}

// RemoteProc is a process a jail server runs for this client, over the
// connection that asked for it: its signals go there and its exit comes
// back on it.
type RemoteProc struct {
	c      Conn
	once   sync.Once
	done   chan struct{}
	status jail.ExitStatus
	err    error
}

// StartRemote asks the jail server on c to run r, with stdio unless r is
// for a terminal; for a terminal the master comes back. The connection
// then belongs to the process: it is closed when the exit has come.
func StartRemote(c Conn, r SpawnReq, stdio []*os.File) (*RemoteProc, *os.File, error) {
	if r.Pty {
		stdio = nil
	}
	_, files, err := Request(c, &Msg{Type: MsgRun, SpawnReq: r}, stdio...)
	if err != nil {
		return nil, nil, err
	}
	var master *os.File
	if r.Pty {
		if len(files) != 1 {
			closeFiles(files)
			return nil, nil, errNoTerminal
		}
		master = files[0]
	} else {
		closeFiles(files)
	}
	p := &RemoteProc{c: c, done: make(chan struct{})}
	go func() {
		for {
			m, files, err := c.Recv()
			closeFiles(files)
			if err != nil {
				p.finish(jail.ExitStatus{Code: 128 + int(syscall.SIGKILL), Signal: int(syscall.SIGKILL)}, jail.ErrJailGone)
				return
			}
			if m.Type == MsgExit {
				p.finish(jail.ExitStatus{Code: m.Code, Signal: m.Signal}, nil)
				return
			}
		}
	}()
	return p, master, nil
}

func (p *RemoteProc) finish(st jail.ExitStatus, err error) {
	p.once.Do(func() {
		p.status, p.err = st, err
		p.c.Close()
		close(p.done)
	})
}

// Signal delivers sig to the process.
func (p *RemoteProc) Signal(sig syscall.Signal) error {
	return p.c.Send(&Msg{Type: MsgSignal, Signal: int(sig)})
}

// Done is closed when the process has ended (or the server is gone).
func (p *RemoteProc) Done() <-chan struct{} { return p.done }

// Wait returns how the process ended; jail.ErrJailGone when the server
// went away before telling.
func (p *RemoteProc) Wait() (jail.ExitStatus, error) {
	<-p.done
	return p.status, p.err
}

// errNoTerminal: a run for a terminal got no master back.
var errNoTerminal = errors.New("the jail sent no terminal")
