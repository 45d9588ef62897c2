package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestProxyTrusted(t *testing.T) {
	s := &Server{ProxyProtocolFrom: []string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/32"}}
	tests := []struct {
		peer string
		want bool
	}{
		{"192.0.2.1", true},
		{"192.0.2.255", true},
		{"192.0.3.1", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"::ffff:192.0.2.9", true}, // a v4-mapped peer on a dual-stack listener
		{"2001:db8::1", true},
		{"2001:db9::1", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := s.ProxyTrusted(netip.MustParseAddr(tt.peer)); got != tt.want {
			t.Errorf("ProxyTrusted(%s) = %v, want %v", tt.peer, got, tt.want)
		}
	}
	if s.ProxyTrusted(netip.Addr{}) {
		t.Error("the zero address is trusted")
	}
	if (&Server{}).ProxyTrusted(netip.MustParseAddr("192.0.2.1")) {
		t.Error("an empty list trusts a peer")
	}
	// A bad entry (only an unvalidated config has one) trusts nobody.
	bad := &Server{ProxyProtocolFrom: []string{"!192.0.2.0/24", "192.0.2.1/24"}}
	if bad.ProxyTrusted(netip.MustParseAddr("192.0.2.1")) {
		t.Error("an invalid entry trusts a peer")
	}
}

func TestProxyFromValidation(t *testing.T) {
	tests := []struct {
		content, want string
	}{
		{"[server]\nproxy_protocol_from = [\"192.0.2.10\", \"2001:db8::/32\"]\n", ""},
		{"[server]\nproxy_protocol_from = [\"192.0.2.10\", \"balancer\"]\n", `x.toml:2: server.proxy_protocol_from[2]: "balancer" is not an IP address or CIDR`},
		{"[server]\nproxy_protocol_from = [\"192.0.2.1/24\"]\n", `x.toml:2: server.proxy_protocol_from[1]: "192.0.2.1/24" has host bits set (use "192.0.2.0/24")`},
		{"[server]\nproxy_protocol_from = [\"10.0.0.0/33\"]\n", `x.toml:2: server.proxy_protocol_from[1]: "10.0.0.0/33" is not a valid CIDR`},
		{"[server]\nproxy_protocol_from = [\"!192.0.2.0/24\"]\n", `x.toml:2: server.proxy_protocol_from[1]: "!192.0.2.0/24": exclusions are not allowed here; list only the balancers`},
	}
	for _, tt := range tests {
		_, err := Parse("x.toml", []byte(tt.content))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.content, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: got %v, want %s", tt.content, err, tt.want)
		}
	}
}
