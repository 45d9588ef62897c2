package sshd

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/jail"
	"github.com/loginjail/loginjail/session/utmp"
)

// relay is a jailed process and the host ends of its stdio: a pty master,
// or our ends of three pipes.
type relay struct {
	proc   proc
	master *os.File // with a terminal
	stdin  *os.File // write end; closed at the client's EOF
	stdout *os.File // read ends
	stderr *os.File
	login  *utmp.Entry // a terminal's utmp entry, logged out at the end
}

// spawnPipes runs ps with three pipes. The server keeps the write end of
// stdin, so the client's EOF becomes the process's EOF.
func (s *sessionChannel) spawnPipes(r spawnReq) (*relay, error) {
	var ends []*os.File
	closeAll := func() {
		for _, f := range ends {
			f.Close()
		}
	}
	var pairs [3][2]*os.File
	for i := range pairs {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, err
		}
		pairs[i] = [2]*os.File{r, w}
		ends = append(ends, r, w)
	}
	inR, inW := pairs[0][0], pairs[0][1]
	outR, outW := pairs[1][0], pairs[1][1]
	errR, errW := pairs[2][0], pairs[2][1]
	p, _, err := s.jr.spawn(r, []*os.File{inR, outW, errW})
	// The process has its own copies now (init got them by SCM_RIGHTS).
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, err
	}
	s.c.firstProcess()
	return &relay{proc: p, stdin: inW, stdout: outR, stderr: errR}, nil
}

// spawnPty runs ps on a terminal of the jail's devpts, sized and moded as
// the client asked.
func (s *sessionChannel) spawnPty(r spawnReq) (*relay, error) {
	r.Rows, r.Cols = clamp16(s.pty.Rows), clamp16(s.pty.Cols)
	r.Termios = termiosFor(s.pty.Modes)
	p, master, err := s.jr.spawn(r, nil)
	if err != nil {
		return nil, err
	}
	if master == nil {
		p.Signal(syscall.SIGKILL)
		return nil, errors.New("no terminal came back")
	}
	setWinsize(master, s.pty.Rows, s.pty.Cols, s.pty.Width, s.pty.Height)
	s.c.firstProcess()
	return &relay{proc: p, master: master, login: s.recordLogin(master)}, nil
}

// drainTimeout bounds the wait for a terminal's last output after its
// process ended while something else (a background job) holds the slave.
const drainTimeout = 2 * time.Second

// finish relays until the process is over and its output sent, then
// reports how it ended: all output, then exit-status or exit-signal, then
// EOF and close.
func (s *sessionChannel) finish(r *relay, label string, rec *chanRec) {
	started := time.Now()
	in := s.c.clientInput(s.ch, rec)
	if r.master != nil {
		go io.Copy(r.master, in)
		out := make(chan struct{})
		go func() {
			io.Copy(s.ch, serverOutput(r.master, rec)) // ends with EIO once the last slave closes
			close(out)
		}()
		select {
		case <-out:
		case <-r.proc.Done():
			select {
			case <-out:
			case <-time.After(drainTimeout):
			}
		}
	} else {
		go func() {
			io.Copy(r.stdin, in)
			r.stdin.Close()
		}()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { io.Copy(s.ch, serverOutput(r.stdout, rec)); wg.Done() }()
		go func() { io.Copy(s.ch.Stderr(), serverOutput(r.stderr, rec)); wg.Done() }()
		wg.Wait()
		r.stdout.Close()
		r.stderr.Close()
	}
	st, err := r.proc.Wait()
	s.recordLogout(r.login)
	if err != nil && !errors.Is(err, jail.ErrJailGone) {
		s.c.lg().Warn("wait", "err", err)
	}
	s.mu.Lock()
	s.master = nil
	s.mu.Unlock()
	s.c.mu.Lock()
	delete(s.c.ptys, s)
	s.c.mu.Unlock()
	if r.master != nil {
		r.master.Close()
	}
	exit := strconv.Itoa(st.Code)
	if st.Signal != 0 {
		exit = "signal " + signalName(st.Signal)
		s.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{signalName(st.Signal), false, "", ""}))
	} else {
		s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(st.Code)}))
	}
	s.c.mu.Lock()
	s.c.lastExit = exit
	s.c.mu.Unlock()
	rec.end(exit)
	s.c.lg().Info("process ended", "event", evExit, "cmd", label, "exit", exit,
		"duration", time.Since(started).Round(time.Millisecond).String())
	s.ch.CloseWrite()
	s.ch.Close()
}
