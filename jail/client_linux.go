package jail

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// ErrJailGone is returned for requests to a jail whose init has exited.
var ErrJailGone = errors.New("jail init has exited")

// client is the caller's side of the control protocol: it matches results
// to requests and routes exit events to their Process.
type client struct {
	c *conn

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]*call
	procs   map[int]*Process
	closed  bool
	err     error
}

type call struct {
	done  chan struct{}
	m     *message
	files []*os.File
	proc  *Process // set for spawn: registered before any exit event is read
}

func newClient(c *conn, initDone <-chan struct{}) *client {
	cl := &client{c: c, pending: map[uint64]*call{}, procs: map[int]*Process{}}
	go cl.readLoop()
	go func() {
		<-initDone
		// Init is gone; unblock everyone even if the socket lingers.
		cl.c.f.Close()
	}()
	return cl
}

func (cl *client) readLoop() {
	for {
		m, files, err := cl.c.recv()
		if err != nil {
			cl.fail(err)
			return
		}
		switch m.Type {
		case msgExit:
			closeAll(files)
			cl.mu.Lock()
			p := cl.procs[m.Pid]
			delete(cl.procs, m.Pid)
			cl.mu.Unlock()
			if p != nil && m.Exit != nil {
				p.finish(*m.Exit, nil)
			}
		case msgResult:
			cl.mu.Lock()
			c := cl.pending[m.ID]
			delete(cl.pending, m.ID)
			if c != nil && c.proc != nil && m.Error == "" {
				c.proc.Pid = m.Pid
				cl.procs[m.Pid] = c.proc
			}
			cl.mu.Unlock()
			if c == nil {
				closeAll(files)
				continue
			}
			c.m, c.files = m, files
			close(c.done)
		default:
			closeAll(files)
		}
	}
}

// fail ends every pending call and live process: init is gone.
func (cl *client) fail(err error) {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return
	}
	cl.closed = true
	cl.err = err
	pending, procs := cl.pending, cl.procs
	cl.pending, cl.procs = map[uint64]*call{}, map[int]*Process{}
	cl.mu.Unlock()
	for _, c := range pending {
		close(c.done)
	}
	for _, p := range procs {
		p.finish(ExitStatus{Code: 128 + int(syscall.SIGKILL), Signal: int(syscall.SIGKILL)}, ErrJailGone)
	}
}

func (cl *client) send(m *message, fds ...int) error {
	return cl.c.send(m, fds...)
}

// request sends m and waits for its result.
func (cl *client) request(m *message, proc *Process, fds ...int) (*message, []*os.File, error) {
	c := &call{done: make(chan struct{}), proc: proc}
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil, nil, ErrJailGone
	}
	cl.nextID++
	m.ID = cl.nextID
	cl.pending[m.ID] = c
	cl.mu.Unlock()
	if err := cl.c.send(m, fds...); err != nil {
		cl.mu.Lock()
		delete(cl.pending, m.ID)
		cl.mu.Unlock()
		return nil, nil, err
	}
	<-c.done
	if c.m == nil {
		return nil, nil, ErrJailGone
	}
	if c.m.Error != "" {
		closeAll(c.files)
		return nil, nil, errors.New(c.m.Error)
	}
	return c.m, c.files, nil
}

func (cl *client) close() {
	cl.c.f.Close()
}

// Process is a process running in a jail.
type Process struct {
	Pid int      // pid inside the jail
	Pty *os.File // the terminal's master, if one was asked for

	cl     *client
	once   sync.Once
	done   chan struct{}
	status ExitStatus
	err    error
}

func (p *Process) finish(st ExitStatus, err error) {
	p.once.Do(func() {
		p.status, p.err = st, err
		close(p.done)
	})
}

// Spawn runs a process in the jail. With ps.Pty the jail allocates a
// terminal from its own devpts and Process.Pty is its master; otherwise
// stdio are the process's stdin, stdout and stderr (all three required).
func (j *Jail) Spawn(ps ProcSpec, stdio []*os.File) (*Process, error) {
	var fds []int
	if !ps.Pty {
		if len(stdio) != 3 {
			return nil, fmt.Errorf("spawn %q: want 3 stdio files, have %d", ps.Argv, len(stdio))
		}
		for _, f := range stdio {
			fds = append(fds, int(f.Fd()))
		}
	}
	p := &Process{cl: j.ctl, done: make(chan struct{})}
	_, files, err := j.ctl.request(&message{Type: msgSpawn, Spawn: &ps}, p, fds...)
	if err != nil {
		return nil, fmt.Errorf("spawn %q in jail %s: %w", ps.Argv, j.Spec.ID, err)
	}
	if ps.Pty {
		if len(files) != 1 {
			closeAll(files)
			return nil, fmt.Errorf("spawn %q in jail %s: no terminal came back", ps.Argv, j.Spec.ID)
		}
		p.Pty = files[0]
	} else {
		closeAll(files)
	}
	return p, nil
}

// Wait returns how the process ended. The error is set when the jail went
// away before the process's end was reported.
func (p *Process) Wait() (ExitStatus, error) {
	<-p.done
	return p.status, p.err
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal delivers sig to the process (init sends it; the caller has no
// view of the jail's pids).
func (p *Process) Signal(sig syscall.Signal) error {
	_, files, err := p.cl.request(&message{Type: msgSignal, Pid: p.Pid, Signal: int(sig)}, nil)
	closeAll(files)
	if err != nil {
		return fmt.Errorf("signal %d to pid %d: %w", sig, p.Pid, err)
	}
	return nil
}

// Dial opens a TCP connection from inside the jail's network namespace
// (init connects; the socket comes back by SCM_RIGHTS). network is "tcp",
// "tcp4" or "tcp6".
func (j *Jail) Dial(network, addr string) (*os.File, error) {
	_, files, err := j.ctl.request(&message{Type: msgDial, Net: &NetRequest{Network: network, Addr: addr}}, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s in jail %s: %w", addr, j.Spec.ID, err)
	}
	if len(files) != 1 {
		closeAll(files)
		return nil, fmt.Errorf("dial %s in jail %s: no socket came back", addr, j.Spec.ID)
	}
	return files[0], nil
}

// Listen binds a listener inside the jail's network namespace and returns
// it with its bound address; the caller accepts on it. For network "unix"
// the socket lands in a fresh directory under the jail's /tmp owned by
// uid/gid (inside ids), and the address is its path.
func (j *Jail) Listen(network, addr string, uid, gid uint32) (*os.File, string, error) {
	m, files, err := j.ctl.request(&message{Type: msgListen, Net: &NetRequest{Network: network, Addr: addr, UID: uid, GID: gid}}, nil)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s in jail %s: %w", addr, j.Spec.ID, err)
	}
	if len(files) != 1 {
		closeAll(files)
		return nil, "", fmt.Errorf("listen in jail %s: no listener came back", j.Spec.ID)
	}
	return files[0], m.Addr, nil
}
