package sshd

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Forwarding. Every socket lives in the jail's network namespace: the
// jail's init connects (ssh -L, direct-tcpip), binds (ssh -R,
// tcpip-forward) or makes the agent socket (ssh -A) and passes the fd
// back; this process only relays bytes between that fd and an SSH
// channel, so "localhost" is always the jail's loopback. Each kind is
// allowed by the login's policy ([jail] allow_tcp_forwarding,
// allow_agent_forwarding) and its key's options (no-port-forwarding,
// no-agent-forwarding, restrict, permitopen=, permitlisten=); a refusal
// is an open-failure or a false reply with a reason, and an audit line.

// fwdState is a connection's forwarding: what is open, so that all of it
// closes when the connection ends.
type fwdState struct {
	mu        sync.Mutex
	closed    bool
	listeners map[fwdKey]*remoteListener
	agentPath string // the agent socket's path inside the jail, once made
	agentErr  error  // why it could not be made
	agentLn   net.Listener
	open      map[io.Closer]struct{} // relayed connections
}

// fwdKey is a remote forward as the client named it (address string and
// requested port), which is how cancel-tcpip-forward finds it.
type fwdKey struct {
	addr string
	port uint32
}

type remoteListener struct {
	ln   net.Listener
	port uint32 // the port bound (differs from the key's for port 0)
}

// tcpForwardingAllowed reports whether -L/-R are allowed, and why not.
func (c *conn) tcpForwardingAllowed() (bool, string) {
	if c.login.opts.NoPortFwd {
		return false, "key option no-port-forwarding"
	}
	p, err := c.policy()
	if err != nil {
		return false, "policy: " + err.Error()
	}
	if !p.AllowTCPForwarding {
		return false, "policy allow_tcp_forwarding = false"
	}
	return true, ""
}

func (c *conn) agentForwardingAllowed() (bool, string) {
	if c.login.opts.NoAgentFwd {
		return false, "key option no-agent-forwarding"
	}
	p, err := c.policy()
	if err != nil {
		return false, "policy: " + err.Error()
	}
	if !p.AllowAgentForwarding {
		return false, "policy allow_agent_forwarding = false"
	}
	return true, ""
}

// permitted reports whether host:port matches one of the key's
// permitopen= (or permitlisten=) patterns; none means any. A pattern is
// host:port, [v6]:port or, for permitlisten, a bare port; "*" matches any
// host or port.
func permitted(patterns []string, host string, port uint32, hostOptional bool) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		ph, pp, err := net.SplitHostPort(p)
		if err != nil {
			if !hostOptional {
				continue
			}
			ph, pp = "*", p
		}
		if pp != "*" && pp != strconv.FormatUint(uint64(port), 10) {
			continue
		}
		if ph == "*" || strings.EqualFold(ph, host) || hostOptional && isLoopbackName(ph) && isLoopbackName(host) {
			return true
		}
	}
	return false
}

func isLoopbackName(h string) bool {
	switch strings.ToLower(h) {
	case "", "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// directTCPIP serves ssh -L: a connection from inside the jail to the
// address the client names.
func (c *conn) directTCPIP(nc ssh.NewChannel) {
	var m struct {
		Host       string
		Port       uint32
		OriginAddr string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &m); err != nil || m.Port == 0 || m.Port > 65535 {
		nc.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	target := net.JoinHostPort(m.Host, strconv.FormatUint(uint64(m.Port), 10))
	refuse := func(reason, msg string) {
		c.lg().Info("forwarding refused", "event", evRefused, "type", "direct-tcpip", "target", target, "reason", reason)
		nc.Reject(ssh.Prohibited, msg)
	}
	if ok, why := c.tcpForwardingAllowed(); !ok {
		refuse(why, "port forwarding is disabled")
		return
	}
	if !permitted(c.login.opts.PermitOpen, m.Host, m.Port, false) {
		refuse("key option permitopen", "this destination is not permitted")
		return
	}
	jr, err := c.jail()
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, "your session could not be set up")
		return
	}
	f, err := jr.dial("tcp", target)
	if err != nil {
		c.lg().Info("forwarding failed", "event", evForward, "type", "direct-tcpip", "target", target, "err", err)
		nc.Reject(ssh.ConnectionFailed, "connect to "+target+" failed")
		return
	}
	conn, err := fileConn(f)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, "connect failed")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	c.lg().Info("forwarding", "event", evForward, "type", "direct-tcpip", "target", target,
		"origin", net.JoinHostPort(m.OriginAddr, strconv.FormatUint(uint64(m.OriginPort), 10)))
	c.relay(ch, conn)
}

// tcpipForward serves ssh -R: a listener inside the jail's network
// namespace, on its loopback (as OpenSSH with GatewayPorts no), whose
// connections go to the client as forwarded-tcpip channels.
func (c *conn) tcpipForward(payload []byte) (bool, []byte) {
	var m struct {
		Addr string
		Port uint32
	}
	if err := ssh.Unmarshal(payload, &m); err != nil || m.Port > 65535 {
		return false, nil
	}
	key := fwdKey{m.Addr, m.Port}
	refuse := func(reason string) (bool, []byte) {
		c.lg().Info("forwarding refused", "event", evRefused, "type", "tcpip-forward",
			"listen", net.JoinHostPort(m.Addr, strconv.FormatUint(uint64(m.Port), 10)), "reason", reason)
		return false, nil
	}
	if ok, why := c.tcpForwardingAllowed(); !ok {
		return refuse(why)
	}
	if !permitted(c.login.opts.PermitListen, m.Addr, m.Port, true) {
		return refuse("key option permitlisten")
	}
	if p, _ := c.policy(); m.Port != 0 && m.Port < 1024 && (p == nil || p.UserMode != "root") {
		return refuse("privileged port")
	}
	jr, err := c.jail()
	if err != nil {
		return false, nil
	}
	f, bound, err := jr.listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.FormatUint(uint64(m.Port), 10)))
	if err != nil {
		c.lg().Info("forwarding failed", "event", evForward, "type", "tcpip-forward", "port", m.Port, "err", err)
		return false, nil
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return false, nil
	}
	_, ps, _ := net.SplitHostPort(bound)
	port64, _ := strconv.ParseUint(ps, 10, 16)
	port := uint32(port64)
	fw := &c.fwd
	fw.mu.Lock()
	if fw.closed || fw.listeners[key] != nil {
		fw.mu.Unlock()
		ln.Close()
		return refuse("already forwarded")
	}
	if fw.listeners == nil {
		fw.listeners = map[fwdKey]*remoteListener{}
	}
	fw.listeners[key] = &remoteListener{ln: ln, port: port}
	fw.mu.Unlock()
	c.lg().Info("forwarding", "event", evForward, "type", "tcpip-forward", "listen", "127.0.0.1:"+ps, "requested", m.Addr)
	go c.acceptForwarded(ln, m.Addr, port)
	if m.Port == 0 {
		return true, ssh.Marshal(struct{ Port uint32 }{port})
	}
	return true, nil
}

// acceptForwarded relays each connection accepted inside the jail to the
// client, named by the address and port the client asked to listen on.
func (c *conn) acceptForwarded(ln net.Listener, addr string, port uint32) {
	for {
		nconn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			oa, op := "127.0.0.1", uint32(0)
			if ta, ok := nconn.RemoteAddr().(*net.TCPAddr); ok {
				oa, op = ta.IP.String(), uint32(ta.Port)
			}
			ch, reqs, err := c.sc.OpenChannel("forwarded-tcpip", ssh.Marshal(struct {
				Addr       string
				Port       uint32
				OriginAddr string
				OriginPort uint32
			}{addr, port, oa, op}))
			if err != nil {
				nconn.Close()
				return
			}
			go ssh.DiscardRequests(reqs)
			c.relay(ch, nconn)
		}()
	}
}

func (c *conn) cancelTCPIPForward(payload []byte) bool {
	var m struct {
		Addr string
		Port uint32
	}
	if ssh.Unmarshal(payload, &m) != nil {
		return false
	}
	fw := &c.fwd
	fw.mu.Lock()
	l := fw.listeners[fwdKey{m.Addr, m.Port}]
	if l == nil {
		// A dynamic port is cancelled by the port it got.
		for k, v := range fw.listeners {
			if k.addr == m.Addr && v.port == m.Port {
				l = v
				delete(fw.listeners, k)
				break
			}
		}
	} else {
		delete(fw.listeners, fwdKey{m.Addr, m.Port})
	}
	fw.mu.Unlock()
	if l == nil {
		return false
	}
	l.ln.Close()
	c.lg().Info("forwarding cancelled", "event", evForward, "type", "cancel-tcpip-forward", "port", l.port)
	return true
}

// agentRequest serves auth-agent-req@openssh.com on a session channel:
// the connection's agent socket inside the jail (made at the first
// request, in a fresh 0700 directory under the jail's /tmp owned by the
// user), whose connections go to the client as auth-agent@openssh.com
// channels. The channel's processes get SSH_AUTH_SOCK (agentEnv).
func (s *sessionChannel) agentRequest() bool {
	c := s.c
	if s.isStarted() {
		return false
	}
	if ok, why := c.agentForwardingAllowed(); !ok {
		c.lg().Info("forwarding refused", "event", evRefused, "type", "auth-agent-req@openssh.com", "reason", why)
		return false
	}
	path, err := c.agentSocket(s.jr)
	if err != nil {
		c.lg().Info("forwarding failed", "event", evForward, "type", "auth-agent-req@openssh.com", "err", err)
		return false
	}
	s.mu.Lock()
	s.agent = path
	s.mu.Unlock()
	return true
}

// agentEnv is SSH_AUTH_SOCK for a channel that asked for agent forwarding.
func (s *sessionChannel) agentEnv() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agent == "" {
		return nil
	}
	return []string{"SSH_AUTH_SOCK=" + s.agent}
}

func (c *conn) agentSocket(jr jailRef) (string, error) {
	fw := &c.fwd
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.closed {
		return "", errClosing
	}
	if fw.agentPath != "" || fw.agentErr != nil {
		return fw.agentPath, fw.agentErr
	}
	f, path, err := jr.listen("unix", "")
	if err != nil {
		fw.agentErr = err
		return "", err
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		fw.agentErr = err
		return "", err
	}
	fw.agentPath, fw.agentLn = path, ln
	c.lg().Info("forwarding", "event", evForward, "type", "auth-agent-req@openssh.com", "socket", path)
	go func() {
		for {
			nconn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				ch, reqs, err := c.sc.OpenChannel("auth-agent@openssh.com", nil)
				if err != nil {
					nconn.Close()
					return
				}
				go ssh.DiscardRequests(reqs)
				c.relay(ch, nconn)
			}()
		}
	}()
	return path, nil
}

// relay copies between ch and nconn until both directions ended, passing
// each side's EOF on as a half close, then closes both.
func (c *conn) relay(ch ssh.Channel, nconn net.Conn) {
	fw := &c.fwd
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		ch.Close()
		nconn.Close()
		return
	}
	if fw.open == nil {
		fw.open = map[io.Closer]struct{}{}
	}
	fw.open[nconn] = struct{}{}
	fw.mu.Unlock()
	defer func() {
		fw.mu.Lock()
		delete(fw.open, nconn)
		fw.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(nconn, c.clientInput(ch, nil))
		if cw, ok := nconn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	go func() {
		defer wg.Done()
		io.Copy(ch, nconn)
		ch.CloseWrite()
	}()
	wg.Wait()
	ch.Close()
	nconn.Close()
}

// closeForwarding closes every listener, the agent socket and every
// relayed connection: the connection is over.
func (c *conn) closeForwarding() {
	fw := &c.fwd
	fw.mu.Lock()
	fw.closed = true
	var cl []io.Closer
	for _, l := range fw.listeners {
		cl = append(cl, l.ln)
	}
	if fw.agentLn != nil {
		cl = append(cl, fw.agentLn)
	}
	for o := range fw.open {
		cl = append(cl, o)
	}
	fw.mu.Unlock()
	for _, x := range cl {
		x.Close()
	}
}

// fileConn turns a socket fd from the jail into a net.Conn (and closes f:
// net.FileConn holds a duplicate).
func fileConn(f *os.File) (net.Conn, error) {
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("socket from the jail: %w", err)
	}
	return nc, nil
}
