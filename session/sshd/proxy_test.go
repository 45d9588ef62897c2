package sshd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/pires/go-proxyproto"
)

// v2Header is HAProxy's send-proxy-v2 header for a TCP connection from
// src to dst.
func v2Header(t testing.TB, src, dst string) []byte {
	h := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort(dst)))
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadProxyHeader(t *testing.T) {
	local := append([]byte(nil), proxySigV2...)
	local = append(local, 0x20, 0x00, 0x00, 0x00) // v2 LOCAL, UNSPEC, no addresses
	tests := []struct {
		name    string
		in      []byte
		client  string // "" = LOCAL / UNKNOWN
		wantErr string
	}{
		{"v2", v2Header(t, "198.51.100.20:40000", "192.0.2.1:22"), "198.51.100.20:40000", ""},
		{"v2 ipv6", v2Header(t, "[2001:db8::5]:40000", "[2001:db8::1]:22"), "[2001:db8::5]:40000", ""},
		{"v1", []byte("PROXY TCP4 198.51.100.20 192.0.2.1 40000 22\r\n"), "198.51.100.20:40000", ""},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), "", ""},
		{"v2 local", local, "", ""},
		{"quiet", nil, "", "closed without data"},
		{"ssh", []byte("SSH-2.0-OpenSSH_9.2\r\n"), "", "no PROXY header"},
		{"short", []byte("PRO"), "", "no PROXY header"},
		{"v1 bad", []byte("PROXY TCP4 a b c d\r\n"), "", "malformed PROXY header"},
		{"v1 long", []byte("PROXY " + strings.Repeat("1", 200)), "", "longer than 107"},
		{"v1 lf only", []byte("PROXY TCP4 198.51.100.20 192.0.2.1 40000 22\n"), "", "malformed"},
		{"v2 cut", v2Header(t, "198.51.100.20:40000", "192.0.2.1:22")[:20], "", "cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const after = "SSH-2.0-client\r\n"
			r := bytes.NewReader(append(append([]byte(nil), tt.in...), after...))
			if tt.name == "short" || tt.name == "v2 cut" || tt.name == "quiet" {
				r = bytes.NewReader(tt.in)
			}
			h, err := readProxyHeader(r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != after {
				t.Errorf("read past the header: %q left, want %q", rest, after)
			}
			client, ok, err := proxyClient(h)
			if err != nil {
				t.Fatal(err)
			}
			if got := map[bool]string{true: client.String(), false: ""}[ok]; got != tt.client {
				t.Errorf("client = %q, want %q", got, tt.client)
			}
		})
	}
}

func TestProxyGuard(t *testing.T) {
	tests := []struct {
		name, in string
		refused  bool
	}{
		{"ssh", "SSH-2.0-OpenSSH_9.2\r\n", false},
		{"v1 spoof", "PROXY TCP4 203.0.113.9 192.0.2.1 1 22\r\nSSH-2.0-x\r\n", true},
		{"v2 spoof", string(v2Header(t, "203.0.113.9:1", "192.0.2.1:22")) + "SSH-2.0-x\r\n", true},
		{"prefix only", "PROX", false},
		{"cr lf", "\r\n\r\nSSH-2.0-x\r\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			go func() {
				// net.Pipe delivers a byte at a time at most as written:
				// split the writes to exercise the buffering.
				for i := 0; i < len(tt.in); i += 3 {
					b.Write([]byte(tt.in[i:min(i+3, len(tt.in))]))
				}
				b.Close()
			}()
			g := newProxyGuard(a, netip.MustParseAddrPort("198.51.100.20:40000"))
			if got := g.RemoteAddr().String(); got != "198.51.100.20:40000" {
				t.Errorf("RemoteAddr = %s", got)
			}
			got, err := io.ReadAll(g)
			if tt.refused {
				if !errors.Is(err, errProxyUntrusted) {
					t.Fatalf("err = %v, want refusal", err)
				}
				return
			}
			if err != nil || string(got) != tt.in {
				t.Errorf("read %q, %v; want %q", got, err, tt.in)
			}
		})
	}
	a, _ := net.Pipe()
	if g := newProxyGuard(a, netip.AddrPort{}); g.RemoteAddr() != a.RemoteAddr() {
		t.Error("without a client the socket's peer is not the remote")
	}
}

// FuzzReadProxyHeader: any input either fails or yields a header that
// consumed exactly its own bytes, and never panics.
func FuzzReadProxyHeader(f *testing.F) {
	f.Add(v2Header(f, "198.51.100.20:40000", "192.0.2.1:22"))
	f.Add([]byte("PROXY TCP4 198.51.100.20 192.0.2.1 40000 22\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("SSH-2.0-x\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := readProxyHeader(r)
		if err != nil {
			return
		}
		used := len(in) - r.Len()
		if h.Version == 2 {
			if want := proxyV2Fixed + int(binary.BigEndian.Uint16(in[14:16])); used != want {
				t.Errorf("v2 header of %d bytes consumed %d", want, used)
			}
		} else if bytes.IndexByte(in, '\n') != used-1 {
			t.Errorf("v1 header consumed %d bytes, past its LF", used)
		}
		if used > proxyV2Fixed+proxyV2MaxExtra {
			t.Errorf("consumed %d bytes", used)
		}
		proxyClient(h)
	})
}

// FuzzProxyGuard: the guard passes every stream through unchanged unless
// it starts with a PROXY signature.
func FuzzProxyGuard(f *testing.F) {
	f.Add([]byte("SSH-2.0-x\r\n"))
	f.Add([]byte("PROXY TCP4"))
	f.Add(proxySigV2)
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		go func() { b.Write(in); b.Close() }()
		got, err := io.ReadAll(newProxyGuard(a, netip.AddrPort{}))
		sig := bytes.HasPrefix(in, proxySigV1) || bytes.HasPrefix(in, proxySigV2)
		if sig != errors.Is(err, errProxyUntrusted) {
			t.Fatalf("%q: err = %v", in, err)
		}
		if !sig && !bytes.Equal(got, in) {
			t.Fatalf("%q came out as %q", in, got)
		}
	})
}

// nilAddrConn is a socket reset before the per-connection process looked:
// getpeername fails, and net.FileConn leaves RemoteAddr nil.
type nilAddrConn struct{ net.Conn }

func (nilAddrConn) RemoteAddr() net.Addr { return nil }
func (nilAddrConn) LocalAddr() net.Addr  { return nil }

// TestProxyGuardResetSocket: such a socket used to panic the process in
// addrPortOf (a crash, so a penalty for the source: HAProxy's health
// checks close with a reset).
func TestProxyGuardResetSocket(t *testing.T) {
	a, _ := net.Pipe()
	g := newProxyGuard(nilAddrConn{a}, netip.AddrPort{})
	if g.RemoteAddr() == nil || g.LocalAddr() == nil {
		t.Fatal("nil address")
	}
	if got := addrPortOf(g.RemoteAddr()); got.IsValid() && got.Addr().IsValid() && !got.Addr().IsUnspecified() {
		t.Errorf("remote = %v", got)
	}
	g = newProxyGuard(nilAddrConn{a}, netip.MustParseAddrPort("192.0.2.7:1234"))
	if got := addrPortOf(g.RemoteAddr()); got.String() != "192.0.2.7:1234" {
		t.Errorf("remote = %v, want the listener's", got)
	}
}
