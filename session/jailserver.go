package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/loginjail/loginjail/jail"
)

// Rules says which requests a jail server takes and from whom. A request
// type missing from it is refused.
type Rules map[string]Peer

// ServerOptions configures a JailServer.
type ServerOptions struct {
	Path  string      // the socket; any file there is replaced
	Mode  os.FileMode // the socket's mode (who may connect at all)
	Rules Rules
	Log   *slog.Logger // nil: slog's default
	// OnJoin is called when a client joins (MsgJoin) the jail.
	OnJoin func()
	// OnClose serves MsgClose: it ends the session and returns when the
	// jail is gone; the client's connection closes then.
	OnClose func()
	// Relay, if set, interposes on every run (jailrelay.go).
	Relay Relay
}

// JailServer serves one session's jail to other processes: it is the one
// place where a process that holds a jail's control connection runs
// processes, opens sockets and relays signals and exits for another
// process, with one peer check (Peer.admits) before any request. The PAM
// front door's holder serves `loginjail shell` with it, and the SSH
// server's per-connection process serves its shared jail (share = "user")
// to the user's other connections.
//
// Everything that must follow a served connection or process (an I/O tap
// for session recording, idle tracking for timeouts) belongs to served
// and to run, where every client's process starts and ends.
type JailServer struct {
	s    *Session
	o    ServerOptions
	lg   *slog.Logger
	ln   *net.UnixListener
	path string

	mu      sync.Mutex
	ending  bool
	conns   map[*served]struct{}
	held    map[string]int // connections being served, by request type
	changed chan struct{}  // poked when held or ending change
}

// served is one client connection: who it is, and what it asked for.
type served struct {
	c    Conn
	pid  int
	uid  uint32
	kind string // the request type, once read
}

// ServeJail listens on o.Path and serves s's jail until Close or the
// jail's end.
func ServeJail(s *Session, o ServerOptions) (*JailServer, error) {
	os.Remove(o.Path)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: o.Path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.Path, err)
	}
	// The owner removes the socket when it decides to (under its own
	// lock, for a shared jail); closing must not remove a successor's.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(o.Path, o.Mode); err != nil {
		ln.Close()
		os.Remove(o.Path)
		return nil, err
	}
	lg := o.Log
	if lg == nil {
		lg = slog.Default().With("session", s.ID)
	}
	srv := &JailServer{s: s, o: o, lg: lg, ln: ln, path: o.Path,
		conns: map[*served]struct{}{}, held: map[string]int{}, changed: make(chan struct{}, 1)}
	go srv.acceptLoop()
	go func() {
		<-s.Jail.Done()
		srv.Close()
	}()
	return srv, nil
}

func (srv *JailServer) poke() {
	select {
	case srv.changed <- struct{}{}:
	default:
	}
}

// Changed is poked when a connection starts or stops being served or the
// server begins to end.
func (srv *JailServer) Changed() <-chan struct{} { return srv.changed }

// Held is how many connections of request type kind are being served.
func (srv *JailServer) Held(kind string) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.held[kind]
}

// Peers are the process ids of the clients being served a request of
// type kind (each as the kernel gave it when it connected).
func (srv *JailServer) Peers(kind string) []int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var pids []int
	for sv := range srv.conns {
		if sv.kind == kind && sv.pid > 0 {
			pids = append(pids, sv.pid)
		}
	}
	return pids
}

// Ending reports whether the server takes no more requests.
func (srv *JailServer) Ending() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.ending
}

// EndIfIdle makes the server take no more requests of type kind if none
// is being served, and reports whether it is ending.
func (srv *JailServer) EndIfIdle(kind string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.held[kind] == 0 {
		srv.ending = true
	}
	return srv.ending
}

// Close stops accepting and hangs up the members (MsgJoin) and the
// connections yet to make a request. A run ends with its process (which
// ends with the jail), so its client still gets the exit; a close returns
// once the session is gone.
func (srv *JailServer) Close() {
	srv.mu.Lock()
	srv.ending = true
	var hang []*served
	for sv := range srv.conns {
		if sv.kind == MsgJoin || sv.kind == "" {
			hang = append(hang, sv)
		}
	}
	srv.mu.Unlock()
	srv.ln.Close()
	for _, sv := range hang {
		sv.c.Close()
	}
	srv.poke()
}

func (srv *JailServer) acceptLoop() {
	for {
		uc, err := srv.ln.AcceptUnix()
		if err != nil {
			return
		}
		sv := &served{c: Conn{uc}}
		srv.mu.Lock()
		if srv.ending {
			srv.mu.Unlock()
			uc.Close()
			continue
		}
		srv.conns[sv] = struct{}{}
		srv.mu.Unlock()
		go func() {
			srv.handle(sv)
			srv.mu.Lock()
			delete(srv.conns, sv)
			srv.mu.Unlock()
			uc.Close()
		}()
	}
}

// hold counts sv as being served a request of its kind until the
// returned func; it refuses once the server is ending.
func (srv *JailServer) hold(sv *served, kind string) (func(), bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.ending {
		return nil, false
	}
	sv.kind = kind
	srv.held[kind]++
	srv.poke()
	return func() {
		srv.mu.Lock()
		srv.held[kind]--
		srv.mu.Unlock()
		srv.poke()
	}, true
}

// handle serves one connection: one request, checked against the rules.
func (srv *JailServer) handle(sv *served) {
	var err error
	if sv.pid, sv.uid, err = peerCred(sv.c.UnixConn); err != nil {
		return
	}
	m, files, err := sv.c.Recv()
	if err != nil {
		return
	}
	defer closeFiles(files)
	want, ok := srv.o.Rules[m.Type]
	if !ok {
		sv.c.Send(&Msg{Type: MsgError, Error: "unknown request " + m.Type})
		return
	}
	if err := want.admits(sv.pid, sv.uid); err != nil {
		srv.lg.Warn("jail server: refused a client", "peer_pid", sv.pid, "peer_uid", sv.uid, "request", m.Type, "err", err)
		sv.c.Send(&Msg{Type: MsgError, Error: "not your login's jail"})
		return
	}
	release, ok := srv.hold(sv, m.Type)
	if !ok {
		sv.c.Send(&Msg{Type: MsgError, Error: "ending"})
		return
	}
	defer release()
	switch m.Type {
	case MsgRun:
		srv.run(sv, m, files)
	case MsgDial:
		f, err := srv.s.Jail.Dial(m.Network, m.Addr)
		srv.answer(sv, &Msg{Type: MsgResult}, f, err)
	case MsgListen:
		f, addr, err := srv.s.Listen(m.Network, m.Addr)
		srv.answer(sv, &Msg{Type: MsgResult, Addr: addr}, f, err)
	case MsgJoin:
		if srv.o.OnJoin != nil {
			srv.o.OnJoin()
		}
		if sv.c.Send(&Msg{Type: MsgJoined, Session: srv.s.ID}) == nil {
			// Held until the member hangs up (or Close hangs up on it).
			for {
				_, f, err := sv.c.Recv()
				closeFiles(f)
				if err != nil {
					break
				}
			}
		}
	case MsgClose:
		srv.o.OnClose()
	}
}

// answer sends res with f, or the error.
func (srv *JailServer) answer(sv *served, res *Msg, f *os.File, err error) {
	if err != nil {
		sv.c.Send(&Msg{Type: MsgError, Error: err.Error()})
		return
	}
	sv.c.Send(res, f)
	f.Close()
}

// run starts a client's process in the jail, relays its signals and
// reports its exit; a vanished client hangs it up, as a closed terminal
// would.
func (srv *JailServer) run(sv *served, m *Msg, files []*os.File) {
	if srv.o.Relay != nil {
		srv.runRelayed(sv, m, files)
		return
	}
	var stdio []*os.File
	if !m.Pty {
		if len(files) != 3 {
			sv.c.Send(&Msg{Type: MsgError, Error: "want stdin, stdout and stderr"})
			return
		}
		stdio = files
	}
	srv.lg.Info("jail server: run", "cmd", m.Cmd, "pty", m.Pty, "sftp", m.SFTP, "peer_pid", sv.pid)
	p, err := srv.s.Jail.Spawn(srv.s.ProcSpec(m.SpawnReq), stdio)
	// The process has its own copies now (init got them by SCM_RIGHTS).
	closeFiles(files)
	if err != nil {
		sv.c.Send(&Msg{Type: MsgError, Error: err.Error()})
		return
	}
	if p.Pty != nil {
		err = sv.c.Send(&Msg{Type: MsgStarted}, p.Pty)
		p.Pty.Close()
	} else {
		err = sv.c.Send(&Msg{Type: MsgStarted})
	}
	if err != nil {
		p.Signal(syscall.SIGHUP)
	}
	go srv.relaySignals(sv, p)
	st, err := p.Wait()
	if err != nil && !errors.Is(err, jail.ErrJailGone) {
		srv.lg.Warn("jail server: wait", "err", err)
	}
	sv.c.Send(&Msg{Type: MsgExit, Code: st.Code, Signal: st.Signal})
}
