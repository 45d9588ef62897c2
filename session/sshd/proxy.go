package sshd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/pires/go-proxyproto"
	"golang.org/x/sys/unix"
)

// PROXY protocol (HAProxy's, v1 and v2): a load balancer listed in
// [server] proxy_protocol_from starts each connection with a header that
// names the real client. The listener reads it, exactly and nothing past
// it, before it hands the socket to the per-connection process; the real
// address travels on that process's command line (--remote, given for
// every connection), so the header is read in one place only. The per-connection process refuses a
// stream that starts with a PROXY signature (proxyGuard): a header from a
// peer not trusted, or a second one after the balancer's (a client
// spoofing its address through the balancer).

// proxyHeaderWait caps the wait for a balancer's header; login_grace_time
// caps it further. A balancer sends it at once, so a silent peer cannot
// hold a slot long.
const proxyHeaderWait = 10 * time.Second

// v1 and v2 signatures; v2 headers are 16 bytes plus a length.
var (
	proxySigV1 = []byte("PROXY")
	proxySigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

const (
	proxyV1Max      = 107 // the v1 line, CRLF included
	proxyV2Fixed    = 16
	proxyV2MaxExtra = 4096 // addresses and TLVs; HAProxy sends far less
)

// errProxyQuiet is a peer that closed before sending a byte: a bare TCP
// health check. It is closed without a log line or a penalty.
var errProxyQuiet = errors.New("closed without data")

// errProxyUntrusted is a PROXY header where none may be.
var errProxyUntrusted = errors.New("PROXY protocol header refused: the peer is not in proxy_protocol_from, or the header follows the balancer's (spoofed)")

// readProxyHeader reads one PROXY header (v1 or v2) from r, reading no
// byte past its end, and parses it with go-proxyproto.
func readProxyHeader(r io.Reader) (*proxyproto.Header, error) {
	buf := make([]byte, len(proxySigV1), proxyV2Fixed)
	if n, err := io.ReadFull(r, buf); err != nil {
		if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return nil, errProxyQuiet
		}
		return nil, fmt.Errorf("no PROXY header: %w", err)
	}
	switch {
	case bytes.Equal(buf, proxySigV1):
		// One byte at a time up to the LF: what follows is the client's.
		var b [1]byte
		for buf[len(buf)-1] != '\n' {
			if len(buf) == proxyV1Max {
				return nil, errors.New("PROXY v1 header longer than 107 bytes")
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, fmt.Errorf("PROXY v1 header cut short: %w", err)
			}
			buf = append(buf, b[0])
		}
	case bytes.Equal(buf, proxySigV2[:len(buf)]):
		buf = buf[:proxyV2Fixed]
		if _, err := io.ReadFull(r, buf[len(proxySigV1):]); err != nil {
			return nil, fmt.Errorf("PROXY v2 header cut short: %w", err)
		}
		if !bytes.Equal(buf[:len(proxySigV2)], proxySigV2) {
			return nil, fmt.Errorf("no PROXY header: the stream starts with %q", buf)
		}
		extra := int(binary.BigEndian.Uint16(buf[14:16]))
		if extra > proxyV2MaxExtra {
			return nil, fmt.Errorf("PROXY v2 header of %d bytes is too long", extra)
		}
		buf = append(buf, make([]byte, extra)...)
		if _, err := io.ReadFull(r, buf[proxyV2Fixed:]); err != nil {
			return nil, fmt.Errorf("PROXY v2 header cut short: %w", err)
		}
	default:
		return nil, fmt.Errorf("no PROXY header: the stream starts with %q", buf)
	}
	br := bufio.NewReaderSize(bytes.NewReader(buf), len(buf))
	h, err := proxyproto.Read(br)
	if err != nil {
		return nil, fmt.Errorf("malformed PROXY header: %w", err)
	}
	if br.Buffered() != 0 {
		return nil, errors.New("malformed PROXY header: bytes left inside it")
	}
	return h, nil
}

// proxyClient is the client a PROXY header names: the source of a PROXY
// command over TCP; ok is false for LOCAL (the balancer's own connection,
// such as a health check) and v1 UNKNOWN, where the socket's peer stands.
func proxyClient(h *proxyproto.Header) (client netip.AddrPort, ok bool, err error) {
	if h.Command.IsLocal() || h.TransportProtocol.IsUnspec() {
		return netip.AddrPort{}, false, nil
	}
	src, ok := h.SourceAddr.(*net.TCPAddr)
	if !ok || !h.TransportProtocol.IsStream() {
		return netip.AddrPort{}, false, fmt.Errorf("PROXY header for a connection that is not TCP (family and protocol %#x)", byte(h.TransportProtocol))
	}
	a := src.AddrPort()
	if !a.Addr().IsValid() {
		return netip.AddrPort{}, false, errors.New("PROXY header without a source address")
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), true, nil
}

// peekClosed waits until deadline for nc's first byte without taking it:
// it reports whether the peer closed (or stayed silent) without sending
// one, as a health check after a LOCAL header does.
func peekClosed(nc net.Conn, deadline time.Time) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	tc.SetReadDeadline(deadline)
	defer tc.SetReadDeadline(time.Time{})
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
		return rerr != unix.EAGAIN
	})
	return err != nil || rerr != nil || n == 0
}

// proxySigVerdict looks at the first bytes of a stream: match when they
// are a PROXY signature, more when they are still a proper prefix of one
// (read more before deciding).
func proxySigVerdict(b []byte) (match, more bool) {
	for _, sig := range [][]byte{proxySigV1, proxySigV2} {
		if len(b) >= len(sig) {
			if bytes.Equal(b[:len(sig)], sig) {
				return true, false
			}
		} else if bytes.Equal(b, sig[:len(b)]) {
			more = true
		}
	}
	return false, more
}

// proxyGuard is the connection as the per-connection process serves it:
// the client's address from the balancer's header (if any) as
// RemoteAddr, and a stream that may not start with a PROXY signature.
type proxyGuard struct {
	net.Conn
	remote  net.Addr // nil: the socket's peer
	checked bool
	buf     []byte // bytes read while checking, not yet returned
	err     error  // the read error met while checking, after buf
}

// newProxyGuard wraps nc; remote, if valid, is the client as the
// listener saw it (the socket's peer, or the one a balancer's header
// named).
func newProxyGuard(nc net.Conn, remote netip.AddrPort) *proxyGuard {
	g := &proxyGuard{Conn: nc}
	if remote.IsValid() {
		g.remote = net.TCPAddrFromAddrPort(remote)
	}
	return g
}

// RemoteAddr is the client's address. A socket reset before the
// per-connection process looked has none of its own: then the zero
// address, never nil.
func (g *proxyGuard) RemoteAddr() net.Addr {
	if g.remote != nil {
		return g.remote
	}
	if a := g.Conn.RemoteAddr(); a != nil {
		return a
	}
	return &net.TCPAddr{}
}

// LocalAddr is the socket's local address (the zero address, never nil).
func (g *proxyGuard) LocalAddr() net.Addr {
	if a := g.Conn.LocalAddr(); a != nil {
		return a
	}
	return &net.TCPAddr{}
}

// Read checks the stream's first bytes once, then passes it through.
func (g *proxyGuard) Read(p []byte) (int, error) {
	if !g.checked {
		g.checked = true
		var b [12]byte
		n := 0
		for {
			match, more := proxySigVerdict(b[:n])
			if match {
				g.err = errProxyUntrusted
				break
			}
			if !more && n > 0 {
				break
			}
			m, err := g.Conn.Read(b[n:])
			n += m
			if err != nil {
				if match, _ := proxySigVerdict(b[:n]); match {
					err = errProxyUntrusted
				}
				g.err = err
				break
			}
		}
		if g.err != errProxyUntrusted {
			g.buf = append([]byte(nil), b[:n]...)
		}
	}
	if len(g.buf) > 0 {
		n := copy(p, g.buf)
		g.buf = g.buf[n:]
		return n, nil
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.Conn.Read(p)
}
