package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/jail"
)

// holder keeps a PAM-mode login's jail: it owns the jail's control
// connection, as the SSH server's per-connection process does, and runs
// shells and commands for `loginjail shell` clients of that login only.
type holder struct {
	o    HolderOptions
	s    *Session
	ln   *net.UnixListener
	path string

	mu      sync.Mutex
	clients int
	closing bool
	done    chan struct{} // closed when the holder must end the session
	once    sync.Once
}

func newHolder(o HolderOptions, s *Session) (*holder, error) {
	dir := pamDir(o.Config)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	path := holderSocket(o.Config, o.SSHDPid, o.SSHDStart)
	os.Remove(path)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	// Anyone may connect; SO_PEERCRED and the sshd ancestry decide who
	// is served.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return &holder{o: o, s: s, ln: ln, path: path, done: make(chan struct{})}, nil
}

func (h *holder) end() { h.once.Do(func() { close(h.done) }) }

func (h *holder) serve() error {
	go h.watchSSHD()
	go func() {
		<-h.s.Jail.Done()
		h.end()
	}()
	go func() {
		for {
			c, err := h.ln.AcceptUnix()
			if err != nil {
				return
			}
			go h.handle(c)
		}
	}()
	<-h.done
	h.ln.Close()
	os.Remove(h.path)
	return h.s.Close()
}

// watchSSHD ends the session when the login's sshd process is gone (sshd
// killed without close_session) and no shell client is left.
func (h *holder) watchSSHD() {
	pfd, err := unix.PidfdOpen(h.o.SSHDPid, 0)
	if err == nil {
		fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(pfd)
	}
	for {
		h.mu.Lock()
		idle := h.clients == 0
		h.mu.Unlock()
		if idle {
			slog.Info("pam: sshd process gone, ending session", "session", h.s.ID)
			h.end()
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// handle serves one connection: root may close the session; the session
// user, from a process descended from this login's sshd, may run.
func (h *holder) handle(c *net.UnixConn) {
	defer c.Close()
	sc := shellConn{c}
	pid, uid, err := peerCred(c)
	if err != nil {
		return
	}
	m, files, err := sc.recv()
	if err != nil {
		return
	}
	defer closeFiles(files)
	switch {
	case m.Type == "close" && uid == 0:
		slog.Info("pam: close_session", "session", h.s.ID)
		h.end()
		<-h.s.Jail.Done()
		return
	case m.Type == "run" && uid == h.s.Who.UID && descendsFrom(pid, h.o.SSHDPid, h.o.SSHDStart):
		h.run(sc, m, files)
	default:
		slog.Warn("pam: refused a client", "session", h.s.ID, "peer_pid", pid, "peer_uid", uid, "request", m.Type)
		sc.send(&shellMsg{Type: "error", Error: "not your login's jail"})
	}
}

func (h *holder) run(sc shellConn, m *shellMsg, files []*os.File) {
	h.mu.Lock()
	h.clients++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.clients--
		h.mu.Unlock()
	}()
	ps := h.s.LoginShell(m.Cmd, m.Term, m.Pty)
	if m.SFTP {
		ps = h.s.SFTPServer()
	}
	ps.Rows, ps.Cols = m.Rows, m.Cols
	var stdio []*os.File
	if !m.Pty {
		if len(files) != 3 {
			sc.send(&shellMsg{Type: "error", Error: "want stdin, stdout and stderr"})
			return
		}
		stdio = files
	}
	slog.Info("pam: run", "session", h.s.ID, "cmd", m.Cmd, "pty", m.Pty, "sftp", m.SFTP)
	p, err := h.s.Jail.Spawn(ps, stdio)
	closeFiles(files)
	if err != nil {
		sc.send(&shellMsg{Type: "error", Error: err.Error()})
		return
	}
	if p.Pty != nil {
		err = sc.send(&shellMsg{Type: "started"}, p.Pty)
		p.Pty.Close()
	} else {
		err = sc.send(&shellMsg{Type: "started"})
	}
	if err != nil {
		p.Signal(syscall.SIGHUP)
	}
	// The client's signals go to the process; a vanished client hangs
	// it up, as a closed terminal would.
	go func() {
		for {
			m, files, err := sc.recv()
			if err != nil {
				select {
				case <-p.Done():
				default:
					p.Signal(syscall.SIGHUP)
				}
				return
			}
			closeFiles(files)
			if m.Type == "signal" && m.Signal > 0 && m.Signal < 65 {
				p.Signal(syscall.Signal(m.Signal))
			}
		}
	}()
	st, err := p.Wait()
	if err != nil && !errors.Is(err, jail.ErrJailGone) {
		slog.Warn("pam: wait", "session", h.s.ID, "err", err)
	}
	sc.send(&shellMsg{Type: "exit", Code: st.Code, Signal: st.Signal})
}
