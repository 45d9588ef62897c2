package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// checkProxyFrom checks one proxy_protocol_from entry: an IP address or a
// CIDR without host bits. "!" exclusions, allowed in match_addresses, make
// no sense for a trust list and are refused.
func checkProxyFrom(s string) error {
	if strings.HasPrefix(s, "!") {
		return fmt.Errorf("%q: exclusions are not allowed here; list only the balancers", s)
	}
	p, err := parseAddrPattern(s)
	if err != nil {
		return err
	}
	if strings.Contains(s, "/") {
		if q, _ := netip.ParsePrefix(s); q != p {
			return fmt.Errorf("%q has host bits set (use %q)", s, p)
		}
	}
	return nil
}

// ProxyTrusted reports whether a connection from peer (the TCP peer, a
// load balancer or a client) must start with a PROXY protocol header: peer
// falls in one of proxy_protocol_from. Entries that do not parse (a
// validated config has none) trust nobody.
func (s *Server) ProxyTrusted(peer netip.Addr) bool {
	if !peer.IsValid() {
		return false
	}
	peer = peer.Unmap().WithZone("")
	for _, e := range s.ProxyProtocolFrom {
		if checkProxyFrom(e) != nil {
			continue
		}
		if p, err := parseAddrPattern(e); err == nil && p.Contains(peer) {
			return true
		}
	}
	return false
}
