package sshd

// [jail] share = "user": further logins of a user join that user's live
// jail instead of getting their own.
//
// The jail's control connection belongs to the per-connection process
// that built it (the builder); no other process can talk to its init. So
// the builder also serves its jail to the user's other connections with
// session.JailServer, the component the PAM front door's holder serves
// `loginjail shell` with, over a unix socket in the state dir,
// <state_dir>/sshd-share/<uid>-<policy>.sock (directory 0700, root's).
// A joiner finds the socket by its name (the user and the resolved
// policy: a login only joins a jail made by the same policy), holds a
// "join" connection for as long as it lives (the builder counts its
// members by them), and opens one connection per request: run, dial,
// listen (session/jailproto.go draws the protocol).
//
// Peers must be uid 0, i.e. other per-connection processes. Unlike the
// holder's, the rule names no ancestor: a joiner descends from the
// listener that accepted its connection, which after a listener restart
// is not the builder's, and root, the only uid the 0700 directory lets
// connect, could not be fenced off by ancestry anyway.
//
// A flock on <socket>.lock orders "find or build" against "tear down", so
// a login either joins a jail that stays up or builds a new one. The
// builder keeps the jail until its own client and every joiner have left,
// then tears it down as usual (its process outlives its own client until
// then). Limits: processes started for a joiner are children of the
// jail's init like all others, so they carry the builder's loginuid and
// PAM limits, not the joiner's; ps lists the jail once, under the
// builder's remote address; and `loginjail kill` ends it for everyone.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

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
	srv, err := session.ServeJail(s, session.ServerOptions{
		Path: path,
		Mode: 0o600,
		Rules: session.Rules{
			session.MsgJoin:   {UID: 0},
			session.MsgRun:    {UID: 0},
			session.MsgDial:   {UID: 0},
			session.MsgListen: {UID: 0},
		},
		Log:    c.lg(),
		OnJoin: func() { c.lg().Info("a further login joined the shared jail", "event", evSessionJoin) },
	})
	if err != nil {
		// The jail works; it is just not shared.
		c.lg().Warn("shared jail not served to further logins", "err", err)
	} else {
		c.share = &shareServer{path: path, srv: srv, s: s}
	}
	return localJail{s}, s, nil
}

// shareProto is the version of the protocol a shared jail is served in,
// part of its socket's name: a login of a newer binary never joins a
// jail whose builder speaks an older one.
const shareProto = "2"

// shareSocket names the user's shared jail of this login's policy.
func (c *conn) shareSocket() string {
	p, _ := c.policyName()
	h := sha256.Sum256([]byte(shareProto + "\x00" + p))
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

// --- joiner side

// errNoShared: no live shared jail of this user and policy.
var errNoShared = errors.New("no shared jail")

// remoteJail is a jail served by the process that built it.
type remoteJail struct {
	path   string
	id     string
	member session.Conn
	gone   chan struct{}
}

func joinShared(path string) (*remoteJail, error) {
	sc, err := session.DialJail(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			os.Remove(path) // a builder that died; we hold the lock
			return nil, errNoShared
		}
		return nil, err
	}
	m, files, err := session.Request(sc, &session.Msg{Type: session.MsgJoin})
	session.CloseFiles(files)
	var refused *session.RefusedError
	if errors.As(err, &refused) {
		sc.Close()
		return nil, errNoShared // ending
	}
	if err != nil || m.Type != session.MsgJoined {
		sc.Close()
		return nil, fmt.Errorf("join: %v", err)
	}
	r := &remoteJail{path: path, id: m.Session, member: sc, gone: make(chan struct{})}
	go func() {
		// The builder never writes on this connection again: EOF means
		// the jail (or its builder) is gone.
		for {
			_, files, err := sc.Recv()
			session.CloseFiles(files)
			if err != nil {
				close(r.gone)
				return
			}
		}
	}()
	return r, nil
}

func (r *remoteJail) sessionID() string     { return r.id }
func (r *remoteJail) done() <-chan struct{} { return r.gone }
func (r *remoteJail) leave()                { r.member.Close() }

// request opens a connection to the builder and asks it for one socket.
func (r *remoteJail) request(m *session.Msg) (*session.Msg, *os.File, error) {
	sc, err := session.DialJail(r.path)
	if err != nil {
		return nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	defer sc.Close()
	res, files, err := session.Request(sc, m)
	if err != nil {
		return nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	if len(files) != 1 {
		session.CloseFiles(files)
		return nil, nil, fmt.Errorf("shared jail %s: %s: no socket came back", r.id, m.Type)
	}
	return res, files[0], nil
}

func (r *remoteJail) dial(network, addr string) (*os.File, error) {
	_, f, err := r.request(&session.Msg{Type: session.MsgDial, Network: network, Addr: addr})
	return f, err
}

func (r *remoteJail) listen(network, addr string) (*os.File, string, error) {
	res, f, err := r.request(&session.Msg{Type: session.MsgListen, Network: network, Addr: addr})
	if err != nil {
		return nil, "", err
	}
	return f, res.Addr, nil
}

func (r *remoteJail) spawn(req spawnReq, stdio []*os.File) (proc, *os.File, error) {
	sc, err := session.DialJail(r.path)
	if err != nil {
		return nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	p, master, err := session.StartRemote(sc, req, stdio)
	if err != nil {
		sc.Close()
		return nil, nil, fmt.Errorf("shared jail %s: %w", r.id, err)
	}
	return p, master, nil
}

// --- builder side

// shareServer is the builder's jail as served to the user's other
// connections.
type shareServer struct {
	path string
	srv  *session.JailServer
	s    *session.Session
}

// waitIdle is called when the builder's own client has gone: it returns
// once no joiner is left (or the jail ended), with the socket removed so
// that no one joins any more.
func (sh *shareServer) waitIdle() {
	for {
		if sh.srv.Held(session.MsgJoin) == 0 || sh.srv.Ending() {
			unlock, err := lockFile(sh.path + ".lock")
			ending := sh.srv.EndIfIdle(session.MsgJoin)
			if ending {
				sh.srv.Close()
				os.Remove(sh.path)
			}
			if err == nil {
				unlock()
			}
			if ending {
				return
			}
			continue
		}
		select {
		case <-sh.srv.Changed():
		case <-sh.s.Jail.Done():
		}
	}
}
