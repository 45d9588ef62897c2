package sshd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/record"
	"github.com/loginjail/loginjail/session"
	"github.com/loginjail/loginjail/session/pamauth"
)

// login is what a successful authentication established. An auth
// callback makes it (c.pending); once the handshake returns it becomes
// c.login and never changes.
type login struct {
	who    *session.Identity
	method string      // "publickey", "password", "keyboard-interactive"
	keyFP  string      // SHA256 fingerprint, publickey only
	opts   *keyOptions // the key line's options; empty for PAM methods
	pam    *pamauth.Tx // account checked; its session opens after the handshake
}

// conn is one SSH connection, served by a process of its own. Lifecycle,
// in order:
//
//  1. newConn: host keys, the ssh.ServerConfig, the PAM thread; the
//     login_grace_time timer starts.
//  2. handshake (ssh.NewServerConn): key exchange, then the auth callbacks
//     (auth.go), called one at a time by x/crypto. A callback that
//     succeeds leaves its *login in pending; with authentication_methods
//     it stays a partial login (auth_methods.go) until a list is done.
//     Each failure is logged and reported to the listener.
//  3. authenticated: login = pending, frozen from here on; the listener is
//     told; the PAM session opens.
//  4. serving: global requests (keepalive replies, forwarding refused) and
//     session channels, which share one jail opened at the first one.
//  5. end (client gone, keepalives unanswered, jail ended): Session.Close
//     ends every jailed process and reclaims the jail, then the PAM
//     session closes.
type conn struct {
	id     string
	cfg    *config.Config
	nc     net.Conn
	remote netip.AddrPort
	local  netip.AddrPort
	logp   atomic.Pointer[slog.Logger] // gains user, then session attributes
	status *statusPipe
	thread *lockedThread // PAM calls and the jail's clone
	ssh    *ssh.ServerConfig
	start  time.Time

	// Handshake goroutine only.
	pending *login
	keyOK   map[string]*login // publickey: keys found acceptable, by user and fingerprint
	// methodsDone are the methods that succeeded so far, in order
	// (authentication_methods; auth_methods.go).
	methodsDone []string
	failures    int
	authed      atomic.Bool

	// Set after the handshake, then read-only.
	login  *login
	sc     *ssh.ServerConn
	pamEnv []string

	mu       sync.Mutex
	sess     *session.Session // the login's jail if this process built it (see jail)
	jr       jailRef          // the jail channels run in: sess, or a shared one (share.go)
	sessErr  error
	sessions int  // open session channels
	noMore   bool // no-more-sessions@openssh.com
	closing  bool
	lastExit string
	channels sync.WaitGroup

	rec       *record.Recorder             // the login's recording; nil when not recorded (record.go)
	ptys      map[*sessionChannel]struct{} // channels with a terminal, for timeout notices
	endReason string                       // why the server ended the connection ("" = the client did)

	// activity is the client's last input on any channel, touched by every
	// relay of client bytes; idle_timeout reads it (timeout.go).
	activity *session.Activity

	fwd   fwdState     // forwarding: listeners, agent socket, open relays (forward.go)
	share *shareServer // share = "user": this process serves its jail to the user's other logins
	pol   loginPolicy  // the login's one policy resolution (policy.go)

	jailTime string    // seconds the jail took to build, "-" if joined; guarded by mu
	started  sync.Once // the first process running ends the status pipe
}

// firstProcess tells the listener, once, that the login's first process
// runs in its jail: the end of the login it times.
func (c *conn) firstProcess() {
	c.started.Do(func() {
		c.mu.Lock()
		jt := c.jailTime
		c.mu.Unlock()
		c.status.send(statusStarted, jt)
		if c.thread.main {
			// Twice: the runtime now and then starts one more thread
			// right after the first pass (a timer, a blocking call).
			time.AfterFunc(shedDelay, shedIdleThreads)
			time.AfterFunc(shedAgain, shedIdleThreads)
		}
	})
}

// newConn prepares to serve nc with cfg.
func newConn(cfg *config.Config, nc net.Conn, status *statusPipe, thread *lockedThread) (*conn, error) {
	if thread == nil {
		thread = newLockedThread()
	}
	c := &conn{id: newConnID(), cfg: cfg, nc: nc, status: status, thread: thread,
		keyOK: map[string]*login{}, start: time.Now(), activity: session.NewActivity(),
		ptys: map[*sessionChannel]struct{}{}}
	c.remote = addrPortOf(nc.RemoteAddr())
	c.local = addrPortOf(nc.LocalAddr())
	c.logp.Store(connLogger(c.id, c.remote.String()))
	keys, err := loadHostKeys(&cfg.Server)
	if err != nil {
		return nil, err
	}
	c.ssh = c.serverConfig(keys)
	return c, nil
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// serve runs the connection to its end.
func (c *conn) serve() {
	c.lg().Info("connection", "event", evConnStart, "local", c.local.String())
	if d := c.cfg.Server.LoginGraceTime.Duration; d > 0 {
		grace := time.AfterFunc(d, func() {
			if !c.authed.Load() {
				c.lg().Warn("login grace time exceeded", "event", evGraceExceeded, "grace", d.String())
				c.status.send(statusGrace)
				c.nc.Close()
			}
		})
		defer grace.Stop()
	}
	sc, chans, reqs, err := ssh.NewServerConn(c.nc, c.ssh)
	if err != nil {
		c.abandonPending()
		c.lg().Info("connection closed before login", "event", evConnEnd, "reason", handshakeReason(err),
			"auth_failures", c.failures, "duration", time.Since(c.start).Round(time.Millisecond).String())
		return
	}
	c.sc, c.login = sc, c.pending
	c.status.send(statusAuth, c.login.method)
	c.logp.Store(c.lg().With("user", c.login.who.Name))
	if err := c.openPAMSession(); err != nil {
		c.lg().Error("PAM session refused the login", "event", evSessionFail, "err", err)
		c.status.send(statusRefused, c.login.method)
		sc.Close()
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			nc.Reject(ssh.ConnectionFailed, "session refused")
		}
		c.closePAM()
		return
	}
	go c.globalRequests(reqs)
	stopAlive := c.keepalive()
	stopTimeouts := c.enforceTimeouts()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
		case "direct-tcpip":
			go c.directTCPIP(nc)
			continue
		default:
			// direct-streamlocal, x11 and the like: refused.
			c.lg().Info("channel refused", "event", evRefused, "type", nc.ChannelType())
			nc.Reject(ssh.Prohibited, "not allowed on this server")
			continue
		}
		c.channels.Add(1)
		go func() {
			defer c.channels.Done()
			c.sessionChannel(nc)
		}()
	}
	stopAlive()
	stopTimeouts()
	c.closeForwarding()
	c.endSession()
	c.channels.Wait()
	c.closePAM()
	c.lg().Info("connection closed", "event", evConnEnd, "duration", time.Since(c.start).Round(time.Millisecond).String())
}

// handshakeReason names why a connection ended before login, for the log.
func handshakeReason(err error) string {
	var ae *ssh.ServerAuthError
	switch {
	case errors.As(err, &ae):
		return "authentication failed: " + err.Error()
	case errors.Is(err, net.ErrClosed):
		return "closed (login grace time)"
	}
	return err.Error()
}

// abandonPending closes the PAM transaction of a login that never
// completed.
func (c *conn) abandonPending() {
	for _, l := range []*login{c.pending} {
		if l != nil && l.pam != nil {
			c.thread.do(func() { l.pam.Close() })
			l.pam = nil
		}
	}
}

// openPAMSession opens the PAM session of the authenticated login on the
// PAM thread and keeps PAM's environment for the jail.
func (c *conn) openPAMSession() error {
	tx := c.login.pam
	if tx == nil {
		return errors.New("no PAM transaction")
	}
	var err error
	c.thread.do(func() {
		if err = tx.OpenSession(nil); err == nil {
			c.pamEnv = tx.Env()
		}
	})
	return err
}

func (c *conn) closePAM() {
	if c.login == nil || c.login.pam == nil {
		return
	}
	tx := c.login.pam
	c.thread.do(func() {
		if err := tx.Close(); err != nil {
			c.lg().Warn("PAM close", "err", err)
		}
	})
}

// lg is the connection's logger, with what is known so far attached.
func (c *conn) lg() *slog.Logger { return c.logp.Load() }

// errClosing refuses new sessions on a connection being torn down.
var errClosing = errors.New("connection is closing")

// jail returns the login's jail, building it at the first call (or,
// with share = "user", joining the user's live jail: share.go). Its init
// is cloned on the PAM thread, so it inherits what pam_loginuid set.
func (c *conn) jail() (jailRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, errClosing
	}
	if c.jr != nil || c.sessErr != nil {
		return c.jr, c.sessErr
	}
	built := time.Now()
	c.jr, c.sess, c.sessErr = c.openJail()
	c.jailTime = "-" // joined a live jail
	if c.sess != nil {
		c.jailTime = strconv.FormatFloat(time.Since(built).Seconds(), 'f', 6, 64)
	}
	if c.sessErr != nil {
		c.lg().Error("jail could not be built", "event", evSessionFail, "err", c.sessErr)
		return nil, c.sessErr
	}
	c.logp.Store(c.lg().With("session", c.jr.sessionID()))
	if err := c.openRecorder(c.jr.sessionID()); err != nil {
		// record_required: the login goes no further; a jail of our own
		// is torn down now, a shared one is left.
		c.sessErr = err
		if c.share != nil {
			c.share.srv.Close()
			os.Remove(c.share.path)
		}
		if c.sess != nil {
			c.sess.Close()
		} else if r, ok := c.jr.(*remoteJail); ok {
			r.leave()
		}
		c.jr, c.sess, c.share = nil, nil, nil
		return nil, err
	}
	if s := c.sess; s != nil {
		ip := ""
		if s.Jail.Net != nil {
			ip = s.Jail.Net.IP.String()
		}
		c.lg().Info("session start", "event", evSessionStart, "hostname", s.Spec.Hostname, "ip", ip,
			"pid", s.Jail.Pid, "policy", s.Policy.Policy, "method", c.login.method)
	}
	jr := c.jr
	go func() {
		// A jail ended from outside (loginjail kill, init died) ends the
		// connection.
		<-jr.done()
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if !closing {
			c.lg().Warn("jail ended under a live connection", "event", evSessionEnd)
			c.sc.Close()
		}
	}()
	return jr, nil
}

// buildJail builds a jail of this connection's own.
func (c *conn) buildJail() (*session.Session, error) {
	res, err := c.resolved()
	if err != nil {
		return nil, err
	}
	l := c.sessionLogin()
	l.Policy = res
	var s *session.Session
	c.thread.do(func() { s, err = openSession(context.Background(), c.cfg, l) })
	return s, err
}

// endSession closes the jail, if one was built: every process in it ends.
func (c *conn) endSession() {
	c.mu.Lock()
	c.closing = true
	s := c.sess
	jr := c.jr
	last := c.lastExit
	srv := c.share
	c.mu.Unlock()
	if c.rec != nil {
		if err := c.rec.End(c.endReason); err != nil {
			c.lg().Warn("session.json", "event", evRecord, "err", err)
		}
	}
	if r, ok := jr.(*remoteJail); ok {
		r.leave()
		c.lg().Info("left the shared jail", "event", evSessionLeave, "exit", last,
			"duration", time.Since(c.start).Round(time.Millisecond).String())
		return
	}
	if s == nil {
		return
	}
	if srv != nil {
		// Other logins of the user may still be in this jail.
		srv.waitIdle()
	}
	started := time.Now()
	err := s.Close()
	ip := ""
	if s.Jail.Net != nil {
		ip = s.Jail.Net.IP.String()
	}
	c.lg().Info("session end", "event", evSessionEnd, "hostname", s.Spec.Hostname, "ip", ip,
		"duration", time.Since(c.start).Round(time.Millisecond).String(), "exit", last,
		"teardown", time.Since(started).Round(time.Millisecond).String(), "err", errString(err))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sshEnv is what sshd puts in every session's environment.
func (c *conn) sshEnv() []string {
	return []string{
		fmt.Sprintf("SSH_CLIENT=%s %d %d", c.remote.Addr(), c.remote.Port(), c.local.Port()),
		fmt.Sprintf("SSH_CONNECTION=%s %d %s %d", c.remote.Addr(), c.remote.Port(), c.local.Addr(), c.local.Port()),
	}
}

// globalRequests answers connection-level requests: keepalives get a
// failure reply (as OpenSSH's), remote forwarding goes to forward.go.
func (c *conn) globalRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		var ok bool
		var reply []byte
		switch req.Type {
		case "no-more-sessions@openssh.com":
			c.mu.Lock()
			c.noMore = true
			c.mu.Unlock()
		case "tcpip-forward":
			ok, reply = c.tcpipForward(req.Payload)
		case "cancel-tcpip-forward":
			ok = c.cancelTCPIPForward(req.Payload)
		case "streamlocal-forward@openssh.com", "cancel-streamlocal-forward@openssh.com":
			c.lg().Info("forwarding refused", "event", evRefused, "type", req.Type, "reason", "not supported")
		}
		if req.WantReply {
			req.Reply(ok, reply)
		}
	}
}

// statusPipe tells the listener how the connection's login goes.
type statusPipe struct {
	mu sync.Mutex
	f  *os.File
}

// Status lines, one per event: a word, then space-separated arguments
// (a listener of an older build matches the word alone).
const (
	statusAuth    = "auth"    // METHOD: authenticated; no longer counts towards max_startups
	statusFail    = "fail"    // METHOD: an authentication attempt failed
	statusRefused = "refused" // METHOD: a login was refused (root, PAM account, access rules)
	statusGrace   = "grace"   // login_grace_time passed
	statusStarted = "started" // JAIL_SECONDS|-: the login's first process runs; the last line
)

func (p *statusPipe) send(word string, args ...string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return
	}
	line := strings.Join(append([]string{word}, args...), " ")
	// The listener may be gone (restarted): the connection goes on.
	p.f.Write([]byte(line + "\n"))
	if word == statusStarted {
		p.f.Close()
		p.f = nil
	}
}

// oneLine keeps log values on one line.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
