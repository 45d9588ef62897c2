package session

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/jail"
)

// Relay lets a JailServer interpose on the processes it runs: instead of
// handing the client's stdio (or the jail's pty master) through, the
// server gives the process pipes or a terminal of its own and copies the
// client's bytes itself, through the taps Start returns. The PAM holder
// records and times out sessions this way: it is root, outside the jail,
// and the client (`loginjail shell`, the user's) only ever holds its end.
type Relay interface {
	// Start is called for each process; term, for a terminal, writes to
	// the client's side (timeout notices).
	Start(req SpawnReq, term io.Writer) RelayTap
}

// RelayTap sees one process's bytes.
type RelayTap interface {
	Input(p []byte)  // from the client
	Output(p []byte) // to the client (stderr too)
	Resize(cols, rows uint16)
	End(st jail.ExitStatus)
}

// runRelayed is run with a Relay: the same protocol as run, with the
// server's own pipes or terminal between the client and the process.
func (srv *JailServer) runRelayed(sv *served, m *Msg, files []*os.File) {
	defer closeFiles(files)
	if !m.Pty && len(files) != 3 {
		sv.c.Send(&Msg{Type: MsgError, Error: "want stdin, stdout and stderr"})
		return
	}
	var pipes [3][2]*os.File // ours: [0][1] stdin write end, [1][0] stdout read end, [2][0] stderr read end
	var stdio []*os.File
	closePipes := func() {
		for _, p := range pipes {
			for _, f := range p {
				if f != nil {
					f.Close()
				}
			}
		}
	}
	if !m.Pty {
		for i := range pipes {
			r, w, err := os.Pipe()
			if err != nil {
				closePipes()
				sv.c.Send(&Msg{Type: MsgError, Error: err.Error()})
				return
			}
			pipes[i] = [2]*os.File{r, w}
		}
		stdio = []*os.File{pipes[0][0], pipes[1][1], pipes[2][1]}
	}
	srv.lg.Info("jail server: run (relayed)", "cmd", m.Cmd, "pty", m.Pty, "sftp", m.SFTP, "peer_pid", sv.pid)
	p, err := srv.s.Jail.Spawn(srv.s.ProcSpec(m.SpawnReq), stdio)
	for _, f := range stdio {
		f.Close() // the process has its own copies
	}
	pipes[0][0], pipes[1][1], pipes[2][1] = nil, nil, nil
	if err != nil {
		closePipes()
		sv.c.Send(&Msg{Type: MsgError, Error: err.Error()})
		return
	}
	var wg sync.WaitGroup
	var tap RelayTap
	if p.Pty != nil {
		master := p.Pty
		defer master.Close()
		theirs, ours, err := hostPty(m.Rows, m.Cols)
		if err != nil {
			p.Signal(syscall.SIGKILL)
			sv.c.Send(&Msg{Type: MsgError, Error: err.Error()})
			return
		}
		defer ours.Close()
		if sv.c.Send(&Msg{Type: MsgStarted}, theirs) != nil {
			p.Signal(syscall.SIGHUP)
		}
		theirs.Close()
		tap = srv.o.Relay.Start(m.SpawnReq, ours)
		rows, cols := m.Rows, m.Cols
		var resizeMu sync.Mutex
		resize := func() {
			// The client sets the size on its master; we see it on our
			// side and pass it on to the jail's terminal: on a timer, and
			// before each input, so a command typed after a resize
			// already sees the new size.
			resizeMu.Lock()
			defer resizeMu.Unlock()
			ws, err := unix.IoctlGetWinsize(int(ours.Fd()), unix.TIOCGWINSZ)
			if err == nil && (ws.Row != rows || ws.Col != cols) && ws.Row > 0 {
				rows, cols = ws.Row, ws.Col
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
				tap.Resize(cols, rows)
			}
		}
		stopResize := make(chan struct{})
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopResize:
					return
				case <-t.C:
					resize()
				}
			}
		}()
		defer close(stopResize)
		go io.Copy(master, tapReader{ours, func(p []byte) {
			resize()
			tap.Input(p)
		}})
		out := make(chan struct{})
		go func() {
			io.Copy(ours, tapReader{master, tap.Output}) // ends with EIO once the last slave closes
			close(out)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-out:
			case <-p.Done():
				select {
				case <-out:
				case <-time.After(drainTimeout):
				}
			}
		}()
	} else {
		if sv.c.Send(&Msg{Type: MsgStarted}) != nil {
			p.Signal(syscall.SIGHUP)
		}
		tap = srv.o.Relay.Start(m.SpawnReq, nil)
		in := pipes[0][1]
		go func() {
			io.Copy(in, tapReader{files[0], tap.Input})
			in.Close()
		}()
		wg.Add(2)
		go func() { io.Copy(files[1], tapReader{pipes[1][0], tap.Output}); wg.Done() }()
		go func() { io.Copy(files[2], tapReader{pipes[2][0], tap.Output}); wg.Done() }()
	}
	go srv.relaySignals(sv, p)
	st, err := p.Wait()
	if err != nil && !errors.Is(err, jail.ErrJailGone) {
		srv.lg.Warn("jail server: wait", "err", err)
	}
	wg.Wait()
	pipes[0][1] = nil // closed by its copy
	closePipes()
	tap.End(st)
	sv.c.Send(&Msg{Type: MsgExit, Code: st.Code, Signal: st.Signal})
}

// relaySignals passes the client's signals on to p; a vanished client
// hangs it up, as a closed terminal would.
func (srv *JailServer) relaySignals(sv *served, p *jail.Process) {
	for {
		m, files, err := sv.c.Recv()
		closeFiles(files)
		if err != nil {
			select {
			case <-p.Done():
			default:
				p.Signal(syscall.SIGHUP)
			}
			return
		}
		if m.Type == MsgSignal && m.Signal > 0 && m.Signal < 65 {
			p.Signal(syscall.Signal(m.Signal))
		}
	}
}

// hostPty opens a terminal pair on the host's devpts for the client's
// side of a relayed terminal: theirs is the master the client drives,
// ours the slave, raw, so bytes pass unchanged.
func hostPty(rows, cols uint16) (theirs, ours *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("open /dev/ptmx", err)
	}
	theirs = os.NewFile(uintptr(mfd), "ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		theirs.Close()
		return nil, nil, os.NewSyscallError("TIOCSPTLCK", err)
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		theirs.Close()
		return nil, nil, os.NewSyscallError("TIOCGPTPEER", errno)
	}
	ours = os.NewFile(r, "pts")
	tio, err := unix.IoctlGetTermios(int(r), unix.TCGETS)
	if err == nil {
		// cfmakeraw
		tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		tio.Oflag &^= unix.OPOST
		tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		tio.Cflag &^= unix.CSIZE | unix.PARENB
		tio.Cflag |= unix.CS8
		tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
		err = unix.IoctlSetTermios(int(r), unix.TCSETS, tio)
	}
	if err == nil && rows > 0 {
		err = unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
	if err != nil {
		theirs.Close()
		ours.Close()
		return nil, nil, err
	}
	return theirs, ours, nil
}

// tapReader hands each read's bytes to f as well.
type tapReader struct {
	r io.Reader
	f func([]byte)
}

func (t tapReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.f(p[:n])
	}
	return n, err
}
