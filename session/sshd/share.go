package sshd

// [jail] share = "user": further logins of a user join that user's live
// jail instead of getting their own.
//
// The jail's control connection belongs to the per-connection process
// that built it (the builder); no other process can talk to its init. So
// the builder also serves its jail to the user's other connections over
// a unix socket in the state dir, <state_dir>/sshd-share/<uid>-<policy>.sock
// (directory 0700, root's; peers must be uid 0, i.e. other per-connection
// processes), the way the PAM front door's holder serves `loginjail
// shell`. A joiner finds the socket by its name (the user and the
// resolved policy: a login only joins a jail made by the same policy),
// holds a "join" connection for as long as it lives, and opens one
// connection per request:
//
//	joiner                                      builder
//	  │── join {} ─────────────────────────────▶│ members++
//	  │◀── joined {session} ────────────────────│ ... held open; EOF = members--
//	  │── spawn {req} [+ stdin,out,err] ────────▶│ Jail.Spawn (login env of the jail's session)
//	  │◀── started {} [+ pty master] ───────────│
//	  │── signal {sig} ─────────────────────────▶│ Process.Signal
//	  │◀── exit {code, signal} ─────────────────│ ... EOF before exit = SIGHUP
//	  │── dial {network, addr} ─────────────────▶│ Jail.Dial
//	  │◀── result {} [+ socket] ────────────────│
//	  │── listen {network, addr} ───────────────▶│ Jail.Listen (unix: owned by the user)
//	  │◀── result {addr} [+ listener] ──────────│
//
// Messages are JSON on SOCK_SEQPACKET, fds by SCM_RIGHTS. A flock on
// <socket>.lock orders "find or build" against "tear down", so a login
// either joins a jail that stays up or builds a new one. The builder
// keeps the jail until its own client and every joiner have left, then
// tears it down as usual (its process outlives its own client until
// then). Limits: processes started for a joiner are children of the
// jail's init like all others, so they carry the builder's loginuid and
// PAM limits, not the joiner's; ps lists the jail once, under the
// builder's remote address; and `loginjail kill` ends it for everyone.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/jail"
	"github.com/loginjail/loginjail/session"
)

// openJail builds this connection's jail, or with share = "user" joins
// the user's live one (building and serving it if there is none).
func (c *conn) openJail() (jailRef, *session.Session, error) {
	p, err := c.policy()
	if err != nil {
		return nil, nil, err
	}
	if p.Share != "user" {
		s, err := c.buildJail()
		if err != nil {
			return nil, nil, err
		}
		return localJail{s}, s, nil
	}
	path := c.shareSocket()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, err
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if r, err := joinShared(path); err == nil {
		c.lg().Info("joined the user's shared jail", "event", evSessionJoin, "session", r.id, "method", c.login.method)
		return r, nil, nil
	} else if !errors.Is(err, errNoShared) {
		c.lg().Warn("could not join the user's shared jail; building one", "err", err)
	}
	s, err := c.buildJail()
	if err != nil {
		return nil, nil, err
	}
	srv, err := serveShared(path, s, c)
	if err != nil {
		// The jail works; it is just not shared.
		c.lg().Warn("shared jail not served to further logins", "err", err)
	}
	c.share = srv
	return localJail{s}, s, nil
}

// shareSocket names the user's shared jail of this login's policy.
func (c *conn) shareSocket() string {
	p, _ := c.policyName()
	h := sha256.Sum256([]byte(p))
	return filepath.Join(c.cfg.Server.StateDir, "sshd-share",
		fmt.Sprintf("%d-%s.sock", c.login.who.UID, hex.EncodeToString(h[:6])))
}

// lockFile takes an exclusive flock on path, made if missing.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// shareMsg is the one envelope of the share protocol.
type shareMsg struct {
	Type    string    `json:"type"` // join joined spawn started signal exit dial listen result error
	Session string    `json:"session,omitempty"`
	Spawn   *spawnReq `json:"spawn,omitempty"`
	Network string    `json:"network,omitempty"`
	Addr    string    `json:"addr,omitempty"`
	Signal  int       `json:"signal,omitempty"`
	Code    int       `json:"code,omitempty"`
	Error   string    `json:"error,omitempty"`
}

type shareConn struct{ c *net.UnixConn }

func (s shareConn) send(m *shareMsg, files ...*os.File) error {
	return session.SendMsg(s.c, m, files...)
}

func (s shareConn) recv() (*shareMsg, []*os.File, error) {
	m := new(shareMsg)
	files, err := session.RecvMsg(s.c, m)
	if err != nil {
		return nil, nil, err
	}
	return m, files, nil
}

func (s shareConn) close() { s.c.Close() }

func closeFiles(files []*os.File) { session.CloseFiles(files) }

func dialShare(path string) (shareConn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return shareConn{}, err
	}
	return shareConn{c}, nil
}

// --- joiner side

// errNoShared: no live shared jail of this user and policy.
var errNoShared = errors.New("no shared jail")

// remoteJail is a jail served by the process that built it.
type remoteJail struct {
	path   string
	id     string
	member shareConn
	gone   chan struct{}
}

func joinShared(path string) (*remoteJail, error) {
	sc, err := dialShare(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			os.Remove(path) // a builder that died; we hold the lock
			return nil, errNoShared
		}
		return nil, err
	}
	if err := sc.send(&shareMsg{Type: "join"}); err != nil {
		sc.close()
		return nil, err
	}
	m, files, err := sc.recv()
	closeFiles(files)
	if err != nil || m.Type != "joined" {
		sc.close()
		if err == nil && m.Error != "" {
			return nil, errNoShared // ending
		}
		return nil, fmt.Errorf("join: %v", err)
	}
	r := &remoteJail{path: path, id: m.Session, member: sc, gone: make(chan struct{})}
	go func() {
		// The builder never writes on this connection again: EOF means
		// the jail (or its builder) is gone.
		for {
			if _, files, err := sc.recv(); err != nil {
				close(r.gone)
				return
			} else {
				closeFiles(files)
			}
		}
	}()
	return r, nil
}

func (r *remoteJail) sessionID() string     { return r.id }
func (r *remoteJail) done() <-chan struct{} { return r.gone }
func (r *remoteJail) leave()                { r.member.close() }

// request sends one request on a fresh connection and reads its answer;
// the connection stays open for a spawned process.
func (r *remoteJail) request(m *shareMsg, files ...*os.File) (shareConn, *shareMsg, []*os.File, error) {
	sc, err := dialShare(r.path)
	if err != nil {
		return shareConn{}, nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	if err := sc.send(m, files...); err != nil {
		sc.close()
		return shareConn{}, nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	res, got, err := sc.recv()
	if err != nil {
		sc.close()
		return shareConn{}, nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	if res.Type == "error" {
		sc.close()
		closeFiles(got)
		return shareConn{}, nil, nil, fmt.Errorf("shared jail %s: %s", r.id, res.Error)
	}
	return sc, res, got, nil
}

func (r *remoteJail) dial(network, addr string) (*os.File, error) {
	sc, _, files, err := r.request(&shareMsg{Type: "dial", Network: network, Addr: addr})
	if err != nil {
		return nil, err
	}
	sc.close()
	if len(files) != 1 {
		closeFiles(files)
		return nil, errors.New("dial: no socket came back")
	}
	return files[0], nil
}

func (r *remoteJail) listen(network, addr string) (*os.File, string, error) {
	sc, res, files, err := r.request(&shareMsg{Type: "listen", Network: network, Addr: addr})
	if err != nil {
		return nil, "", err
	}
	sc.close()
	if len(files) != 1 {
		closeFiles(files)
		return nil, "", errors.New("listen: no listener came back")
	}
	return files[0], res.Addr, nil
}

func (r *remoteJail) spawn(req spawnReq, stdio []*os.File) (proc, *os.File, error) {
	sc, _, files, err := r.request(&shareMsg{Type: "spawn", Spawn: &req}, stdio...)
	if err != nil {
		return nil, nil, err
	}
	var master *os.File
	if req.Pty {
		if len(files) != 1 {
			closeFiles(files)
			sc.close()
			return nil, nil, errors.New("spawn: no terminal came back")
		}
		master = files[0]
	} else {
		closeFiles(files)
	}
	p := &remoteProc{sc: sc, done: make(chan struct{})}
	go func() {
		for {
			m, files, err := sc.recv()
			closeFiles(files)
			if err != nil {
				p.finish(jail.ExitStatus{Code: 128 + int(syscall.SIGKILL), Signal: int(syscall.SIGKILL)}, jail.ErrJailGone)
				return
			}
			if m.Type == "exit" {
				p.finish(jail.ExitStatus{Code: m.Code, Signal: m.Signal}, nil)
				sc.close()
				return
			}
		}
	}()
	return p, master, nil
}

// remoteProc is a process the builder spawned for this connection.
type remoteProc struct {
	sc     shareConn
	once   sync.Once
	done   chan struct{}
	status jail.ExitStatus
	err    error
}

func (p *remoteProc) finish(st jail.ExitStatus, err error) {
	p.once.Do(func() {
		p.status, p.err = st, err
		close(p.done)
	})
}

func (p *remoteProc) Signal(sig syscall.Signal) error {
	return p.sc.send(&shareMsg{Type: "signal", Signal: int(sig)})
}
func (p *remoteProc) Done() <-chan struct{} { return p.done }
func (p *remoteProc) Wait() (jail.ExitStatus, error) {
	<-p.done
	return p.status, p.err
}

// --- builder side

// shareServer serves the builder's jail to the user's other connections.
type shareServer struct {
	path string
	s    *session.Session
	c    *conn // the builder's connection, for its log
	ln   *net.UnixListener

	mu        sync.Mutex
	members   int
	ownerGone bool
	ending    bool
	conns     map[*net.UnixConn]struct{}
	changed   chan struct{} // poked when members or ownerGone change
}

func serveShared(path string, s *session.Session, c *conn) (*shareServer, error) {
	os.Remove(path)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	srv := &shareServer{path: path, s: s, c: c, ln: ln, conns: map[*net.UnixConn]struct{}{}, changed: make(chan struct{}, 1)}
	go srv.acceptLoop()
	go func() {
		<-s.Jail.Done()
		srv.closeAll()
	}()
	return srv, nil
}

func (srv *shareServer) poke() {
	select {
	case srv.changed <- struct{}{}:
	default:
	}
}

func (srv *shareServer) acceptLoop() {
	for {
		uc, err := srv.ln.AcceptUnix()
		if err != nil {
			return
		}
		srv.mu.Lock()
		if srv.ending {
			srv.mu.Unlock()
			uc.Close()
			continue
		}
		srv.conns[uc] = struct{}{}
		srv.mu.Unlock()
		go func() {
			srv.handle(shareConn{uc})
			srv.mu.Lock()
			delete(srv.conns, uc)
			srv.mu.Unlock()
			uc.Close()
		}()
	}
}

func (srv *shareServer) closeAll() {
	srv.mu.Lock()
	srv.ending = true
	var cs []*net.UnixConn
	for uc := range srv.conns {
		cs = append(cs, uc)
	}
	srv.mu.Unlock()
	srv.ln.Close()
	for _, uc := range cs {
		uc.Close()
	}
	srv.poke()
}

// handle serves one connection from another per-connection process.
func (srv *shareServer) handle(sc shareConn) {
	if cred, err := unix.GetsockoptUcred(fdOf(sc.c), unix.SOL_SOCKET, unix.SO_PEERCRED); err != nil || cred.Uid != 0 {
		return
	}
	m, files, err := sc.recv()
	if err != nil {
		return
	}
	defer closeFiles(files)
	lj := localJail{srv.s}
	switch m.Type {
	case "join":
		srv.mu.Lock()
		if srv.ending {
			srv.mu.Unlock()
			sc.send(&shareMsg{Type: "error", Error: "ending"})
			return
		}
		srv.members++
		srv.mu.Unlock()
		srv.c.lg().Info("a further login joined the shared jail", "event", evSessionJoin)
		if sc.send(&shareMsg{Type: "joined", Session: srv.s.ID}) == nil {
			for {
				_, f, err := sc.recv()
				closeFiles(f)
				if err != nil {
					break
				}
			}
		}
		srv.mu.Lock()
		srv.members--
		srv.mu.Unlock()
		srv.poke()
	case "dial":
		f, err := lj.dial(m.Network, m.Addr)
		if err != nil {
			sc.send(&shareMsg{Type: "error", Error: err.Error()})
			return
		}
		sc.send(&shareMsg{Type: "result"}, f)
		f.Close()
	case "listen":
		f, addr, err := lj.listen(m.Network, m.Addr)
		if err != nil {
			sc.send(&shareMsg{Type: "error", Error: err.Error()})
			return
		}
		sc.send(&shareMsg{Type: "result", Addr: addr}, f)
		f.Close()
	case "spawn":
		if m.Spawn == nil || !m.Spawn.Pty && len(files) != 3 {
			sc.send(&shareMsg{Type: "error", Error: "bad spawn request"})
			return
		}
		var stdio []*os.File
		if !m.Spawn.Pty {
			stdio = files
		}
		p, master, err := lj.spawn(*m.Spawn, stdio)
		closeFiles(files)
		files = nil
		if err != nil {
			sc.send(&shareMsg{Type: "error", Error: err.Error()})
			return
		}
		if master != nil {
			err = sc.send(&shareMsg{Type: "started"}, master)
			master.Close()
		} else {
			err = sc.send(&shareMsg{Type: "started"})
		}
		if err != nil {
			p.Signal(syscall.SIGHUP)
		}
		go func() {
			for {
				m, f, err := sc.recv()
				closeFiles(f)
				if err != nil {
					select {
					case <-p.Done():
					default:
						p.Signal(syscall.SIGHUP)
					}
					return
				}
				if m.Type == "signal" && m.Signal > 0 && m.Signal < 65 {
					p.Signal(syscall.Signal(m.Signal))
				}
			}
		}()
		st, _ := p.Wait()
		sc.send(&shareMsg{Type: "exit", Code: st.Code, Signal: st.Signal})
	default:
		sc.send(&shareMsg{Type: "error", Error: "unknown request " + m.Type})
	}
}

// waitIdle is called when the builder's own client has gone: it returns
// once no joiner is left (or the jail ended), with the socket removed so
// that no one joins any more.
func (srv *shareServer) waitIdle() {
	srv.mu.Lock()
	srv.ownerGone = true
	srv.mu.Unlock()
	for {
		srv.mu.Lock()
		idle := srv.members == 0 || srv.ending
		srv.mu.Unlock()
		if idle {
			unlock, err := lockFile(srv.path + ".lock")
			srv.mu.Lock()
			if srv.members > 0 && !srv.ending {
				srv.mu.Unlock()
				if err == nil {
					unlock()
				}
				continue
			}
			srv.ending = true
			srv.mu.Unlock()
			srv.ln.Close()
			os.Remove(srv.path)
			if err == nil {
				unlock()
			}
			srv.closeAll()
			return
		}
		select {
		case <-srv.changed:
		case <-srv.s.Jail.Done():
		}
	}
}

func fdOf(c *net.UnixConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}
