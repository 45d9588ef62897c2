// Package dnsproxy is a filtering, forwarding DNS server: it answers
// only names a Policy allows (others get NXDOMAIN), forwards the rest to
// upstream resolvers, and hands each answer's A and AAAA records to the
// Policy before the answer goes back, so that a firewall can open those
// addresses first. Parsing and packing are github.com/miekg/dns's.
package dnsproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Answer is one A or AAAA record of an upstream answer.
type Answer struct {
	Addr netip.Addr
	TTL  uint32 // seconds
}

// Policy decides what the server answers.
type Policy interface {
	// Allowed reports whether the server may answer questions about name
	// (as asked, possibly with a final dot and in any case).
	Allowed(name string) bool
	// Admit is called with the A and AAAA records of an answer about an
	// allowed name before the answer is sent; an error turns the answer
	// into SERVFAIL.
	Admit(name string, answers []Answer) error
	// Refused is told of a question Allowed refused.
	Refused(name string)
}

// Server serves one address's port on UDP and TCP.
type Server struct {
	policy    Policy
	upstreams []string // host:port
	udp, tcp  *dns.Server
	port      uint16
	timeout   time.Duration
	wg        sync.WaitGroup
}

// upstreamTimeout bounds one try of one upstream server.
const upstreamTimeout = 2 * time.Second

// Start listens on addr (port 0: a free port, the same on UDP and TCP)
// and serves until Close. upstreams are the resolvers it forwards to.
func Start(addr netip.AddrPort, upstreams []netip.AddrPort, p Policy) (*Server, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("dns proxy: no upstream resolver")
	}
	pc, l, err := listen(addr)
	if err != nil {
		return nil, err
	}
	s := &Server{policy: p, timeout: upstreamTimeout, port: uint16(pc.LocalAddr().(*net.UDPAddr).Port)}
	for _, u := range upstreams {
		s.upstreams = append(s.upstreams, u.String())
	}
	s.udp = &dns.Server{PacketConn: pc, Handler: s, Net: "udp"}
	s.tcp = &dns.Server{Listener: l, Handler: s, Net: "tcp", ReadTimeout: 10 * time.Second}
	// Close must not come before a server has started: Shutdown would
	// fail and the server then serve on for ever.
	started := make(chan struct{}, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				slog.Warn("dnsproxy: server stopped", "net", srv.Net, "err", err)
				started <- struct{}{}
			}
		}()
	}
	<-started
	<-started
	return s, nil
}

// listen binds UDP and TCP on the same port. With port 0, UDP picks a
// free port and TCP takes the same; should TCP find it taken, it tries
// again with another.
func listen(addr netip.AddrPort) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return nil, nil, fmt.Errorf("dns proxy: listen udp %v: %w", addr, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr(), uint16(port))))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
		if addr.Port() != 0 {
			break
		}
	}
	return nil, nil, fmt.Errorf("dns proxy: listen tcp on %v: %w", addr.Addr(), lastErr)
}

// Port is the port the server listens on, UDP and TCP alike.
func (s *Server) Port() uint16 { return s.port }

// Close stops both servers and waits for them.
func (s *Server) Close() error {
	err := errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("dns proxy: close: %w", err)
	}
	return nil
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	reply := func(rcode int) {
		m := new(dns.Msg)
		m.SetRcode(q, rcode)
		m.RecursionAvailable = true
		if err := w.WriteMsg(m); err != nil {
			slog.Debug("dnsproxy: write reply", "err", err)
		}
	}
	if q.Opcode != dns.OpcodeQuery || len(q.Question) != 1 || q.Response {
		reply(dns.RcodeFormatError)
		return
	}
	name := q.Question[0].Name
	if !s.policy.Allowed(name) {
		s.policy.Refused(name)
		reply(dns.RcodeNameError)
		return
	}
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	resp, err := s.exchange(q, isTCP)
	if err != nil {
		slog.Warn("dnsproxy: no upstream answered", "name", name, "err", err)
		reply(dns.RcodeServerFailure)
		return
	}
	var ans []Answer
	for _, rr := range resp.Answer {
		switch r := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(r.A.To4()); ok {
				ans = append(ans, Answer{Addr: a, TTL: r.Hdr.Ttl})
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(r.AAAA.To16()); ok {
				ans = append(ans, Answer{Addr: a, TTL: r.Hdr.Ttl})
			}
		}
	}
	if len(ans) > 0 {
		if err := s.policy.Admit(name, ans); err != nil {
			slog.Warn("dnsproxy: cannot open the answer's addresses", "name", name, "err", err)
			reply(dns.RcodeServerFailure)
			return
		}
	}
	resp.Id = q.Id
	if !isTCP {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		slog.Debug("dnsproxy: write answer", "err", err)
	}
}

// exchange asks the upstreams in order, over the transport the jail used.
func (s *Server) exchange(q *dns.Msg, tcp bool) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: s.timeout}
	if tcp {
		c.Net = "tcp"
	}
	var errs []error
	for _, u := range s.upstreams {
		resp, _, err := c.Exchange(q, u)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, errors.Join(errs...)
}
