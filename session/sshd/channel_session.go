package sshd

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/session"
)

// sessionChannel is one "session" channel: at most one shell, command or
// subsystem, run in the connection's jail.
type sessionChannel struct {
	c   *conn
	jr  jailRef
	ch  ssh.Channel
	env []string    // variables the client set that accept_env admits
	pty *ptyRequest // nil: no terminal

	mu      sync.Mutex
	started bool
	proc    proc
	master  *os.File // pty master, while the process runs
	rec     *chanRec // the channel's recording; nil when not recorded
	agent   string   // SSH_AUTH_SOCK inside the jail, after auth-agent-req
}

// sessionChannel serves a new session channel to its end.
func (c *conn) sessionChannel(nc ssh.NewChannel) {
	if !c.takeSession() {
		nc.Reject(ssh.ResourceShortage, "too many sessions on this connection")
		return
	}
	defer c.releaseSession()
	jr, err := c.jail()
	if errors.Is(err, errRecordRequired) {
		// The client shows a channel's stderr, where a rejection reason
		// is only in its debug log: accept, say why in one line, fail.
		if ch, reqs, err := nc.Accept(); err == nil {
			go ssh.DiscardRequests(reqs)
			fmt.Fprintf(ch.Stderr(), "loginjail: %v; please contact the administrator\r\n", errRecordRequired)
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{1}))
			ch.Close()
		}
		return
	}
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, "your session could not be set up; please contact the administrator")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	s := &sessionChannel{c: c, jr: jr, ch: ch}
	s.serve(reqs)
}

func (c *conn) takeSession() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.noMore && c.sessions > 0 || c.sessions >= c.cfg.Server.MaxSessions {
		c.lg().Warn("session channel refused", "event", evRefused, "sessions", c.sessions, "max_sessions", c.cfg.Server.MaxSessions)
		return false
	}
	c.sessions++
	return true
}

func (c *conn) releaseSession() {
	c.mu.Lock()
	c.sessions--
	c.mu.Unlock()
}

// serve answers the channel's requests until it closes. A process still
// running then (the client closed the channel first) gets SIGHUP, as if
// its terminal hung up.
func (s *sessionChannel) serve(reqs <-chan *ssh.Request) {
	for req := range reqs {
		ok, then := s.handle(req)
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if then != nil {
			go then()
		}
	}
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p != nil {
		select {
		case <-p.Done():
		default:
			p.Signal(syscall.SIGHUP)
		}
	}
	s.ch.Close()
}

// handle answers one request; then, if set, runs after the reply (the
// relay of a started process, so its output follows the success reply).
func (s *sessionChannel) handle(req *ssh.Request) (ok bool, then func()) {
	c := s.c
	switch req.Type {
	case "env":
		var m struct{ Name, Value string }
		if ssh.Unmarshal(req.Payload, &m) != nil || s.isStarted() {
			return false, nil
		}
		if !acceptEnv(c.cfg.Server.AcceptEnv, m.Name) || m.Value != "" && containsNUL(m.Value) {
			c.lg().Debug("client variable not accepted", "name", m.Name)
			return false, nil
		}
		s.env = append(s.env, m.Name+"="+m.Value)
		return true, nil
	case "pty-req":
		var m ptyRequest
		if ssh.Unmarshal(req.Payload, &m) != nil || s.isStarted() {
			return false, nil
		}
		if c.login.opts.NoPty {
			c.lg().Info("terminal refused (no-pty)", "event", evRefused, "type", req.Type)
			return false, nil
		}
		s.pty = &m
		return true, nil
	case "window-change":
		var m windowChange
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pty != nil {
			s.pty.Cols, s.pty.Rows, s.pty.Width, s.pty.Height = m.Cols, m.Rows, m.Width, m.Height
		}
		if s.master != nil {
			setWinsize(s.master, m.Rows, m.Cols, m.Width, m.Height)
			s.rec.resize(m.Cols, m.Rows)
		}
		return true, nil
	case "shell":
		return s.startCommand("", false)
	case "exec":
		var m struct{ Command string }
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		return s.startCommand(m.Command, true)
	case "subsystem":
		var m struct{ Name string }
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		if c.login.opts.Command != "" {
			// OpenSSH runs the forced command for a subsystem request too.
			return s.startCommand("", false)
		}
		r, ok := s.subsystem(m.Name)
		if !ok {
			c.lg().Info("subsystem refused", "event", evRefused, "subsystem", m.Name)
			return false, nil
		}
		return s.start(r, "subsystem "+m.Name)
	case "signal":
		var m struct{ Signal string }
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		sig, known := signalNames[m.Signal]
		s.mu.Lock()
		p := s.proc
		s.mu.Unlock()
		if !known || p == nil {
			return false, nil
		}
		return p.Signal(sig) == nil, nil
	case "auth-agent-req@openssh.com":
		return s.agentRequest(), nil
	case "x11-req":
		c.lg().Info("forwarding refused", "event", evRefused, "type", req.Type)
		return false, nil
	}
	return false, nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func (s *sessionChannel) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// subsystem is the process that serves subsystem name, or false when
// this server has none. "sftp" is loginjail's own SFTP server
// (github.com/pkg/sftp), run inside the jail as the user with pipes, so it
// works on a rootfs without sftp-server. A key's command= takes
// precedence, as in OpenSSH: the forced command runs instead, with
// no SSH_ORIGINAL_COMMAND.
func (s *sessionChannel) subsystem(name string) (spawnReq, bool) {
	if name != "sftp" {
		return spawnReq{}, false
	}
	c := s.c
	return spawnReq{SFTP: true, Env: session.MergeEnv(nil, c.pamEnv, s.env, c.login.opts.Environment, c.sshEnv(), s.agentEnv())}, true
}

// startCommand runs the login shell, or `shell -c cmd`; a key's command=
// replaces either, with the client's command in SSH_ORIGINAL_COMMAND.
func (s *sessionChannel) startCommand(cmd string, isExec bool) (bool, func()) {
	c := s.c
	var extra []string
	what := "shell"
	if isExec {
		what = "exec"
	}
	if forced := c.login.opts.Command; forced != "" {
		if isExec {
			extra = append(extra, "SSH_ORIGINAL_COMMAND="+cmd)
		}
		cmd, what = forced, "forced-command"
	}
	r := spawnReq{Cmd: cmd, Pty: s.pty != nil,
		Env: session.MergeEnv(nil, c.pamEnv, s.env, c.login.opts.Environment, c.sshEnv(), s.agentEnv(), extra)}
	if s.pty != nil {
		r.Term = s.pty.Term
	}
	label := what
	if cmd != "" {
		label = what + ": " + cmd
	}
	return s.start(r, label)
}

// start spawns r in the jail, with a terminal or with pipes; the relay
// runs after the request's reply.
func (s *sessionChannel) start(r spawnReq, label string) (bool, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return false, nil
	}
	s.started = true
	c := s.c
	var rl *relay
	var err error
	if r.Pty {
		rl, err = s.spawnPty(r)
	} else {
		rl, err = s.spawnPipes(r)
	}
	if err != nil {
		c.lg().Error("could not start a process in the jail", "event", evExec, "cmd", label, "err", err)
		return false, nil
	}
	s.proc = rl.proc
	s.master = rl.master
	s.rec = s.startRecording(r)
	if r.Pty {
		c.mu.Lock()
		c.ptys[s] = struct{}{}
		c.mu.Unlock()
	}
	c.lg().Info("process started", "event", evExec, "cmd", label, "pty", r.Pty)
	rec := s.rec
	return true, func() { s.finish(rl, label, rec) }
}
