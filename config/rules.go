package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one parsed egress rule of [jail.network] allow, deny or
// host_allow. Address rules are IPv4 only, like the nat network; a rule
// may name its destination by DNS name instead (see names.go).
type Rule struct {
	// Prefix is the destination; the zero Prefix with an empty Name means
	// any address.
	Prefix netip.Prefix
	// Name is a DNS name ("moodle.example.edu") or a wildcard
	// ("*.debian.org": any name below debian.org, not debian.org itself),
	// lower case, without the final dot; "" for an address rule.
	Name string
	// Proto is "tcp" or "udp", or "" for any protocol and port.
	Proto string
	// PortLo and PortHi bound the destination ports (inclusive) when Proto
	// is set.
	PortLo, PortHi uint16
}

// String prints the rule back in its configuration syntax.
func (r Rule) String() string {
	var b strings.Builder
	if r.Name != "" {
		b.WriteString(r.Name)
		if r.Proto != "" {
			b.WriteByte(':')
		}
	} else if r.Prefix.IsValid() {
		if r.Prefix.IsSingleIP() {
			b.WriteString(r.Prefix.Addr().String())
		} else {
			b.WriteString(r.Prefix.String())
		}
		if r.Proto != "" {
			b.WriteByte(':')
		}
	}
	if r.Proto != "" {
		fmt.Fprintf(&b, "%s/%d", r.Proto, r.PortLo)
		if r.PortHi != r.PortLo {
			fmt.Fprintf(&b, "-%d", r.PortHi)
		}
	}
	return b.String()
}

// ParseRules parses an egress rule of allow or deny into one Rule per
// port: "CIDR", "IP", "NAME", "proto/ports", "IP:proto/ports",
// "CIDR:proto/ports" or "NAME:proto/ports", where proto is tcp or udp and
// ports is a comma-separated list of ports (1..65535) or ranges "lo-hi",
// and NAME a DNS name or wildcard "*.domain".
func ParseRules(s string) ([]Rule, error) {
	head, ports := s, ""
	if i := strings.LastIndexByte(s, '/'); i >= 0 && strings.Contains(s[i:], ",") {
		head, ports = s[:i+1], s[i+1:]
	}
	if ports == "" {
		r, err := ParseRule(s)
		if err != nil {
			return nil, err
		}
		return []Rule{r}, nil
	}
	var out []Rule
	for _, p := range strings.Split(ports, ",") {
		r, err := ParseRule(head + p)
		if err != nil {
			return nil, fmt.Errorf("rule %q: port list item %q: %w", s, p, errors.Unwrap(err))
		}
		out = append(out, r)
	}
	return out, nil
}

// ParseRule parses an egress rule with at most one port or port range
// (see ParseRules).
func ParseRule(s string) (Rule, error) {
	addr, svc := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		addr, svc = s[:i], s[i+1:]
	} else if strings.HasPrefix(s, "tcp/") || strings.HasPrefix(s, "udp/") {
		addr, svc = "", s
	}
	var r Rule
	if addr != "" && looksLikeName(addr) {
		n, err := parseName(addr)
		if err != nil {
			return Rule{}, fmt.Errorf("rule %q: %w", s, err)
		}
		r.Name = n
	} else if addr != "" {
		p, err := parseIPv4Prefix(addr)
		if err != nil {
			return Rule{}, fmt.Errorf("rule %q: %w", s, err)
		}
		r.Prefix = p
	} else if svc == "" {
		return Rule{}, errors.New("empty rule")
	}
	if svc != "" || strings.HasSuffix(s, ":") {
		if err := r.parseService(svc); err != nil {
			return Rule{}, fmt.Errorf("rule %q: %w", s, err)
		}
	}
	return r, nil
}

// ParseHostRule parses a host_allow rule, "proto/port" only.
func ParseHostRule(s string) (Rule, error) {
	var r Rule
	if err := r.parseService(s); err != nil {
		return Rule{}, fmt.Errorf("rule %q: %w (host_allow takes only \"proto/port\")", s, err)
	}
	return r, nil
}

// parseIPv4Prefix parses an IPv4 address (as a /32) or an IPv4 CIDR whose
// host bits are zero.
func parseIPv4Prefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address or CIDR", s)
		}
		return netip.PrefixFrom(a, 32), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 CIDR", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (use %q)", s, p.Masked())
	}
	return p, nil
}

// parseService parses "proto/port" or "proto/lo-hi" into r.
func (r *Rule) parseService(s string) error {
	proto, ports, ok := strings.Cut(s, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return fmt.Errorf("%q is not \"tcp/PORT\" or \"udp/PORT\"", s)
	}
	loS, hiS, isRange := strings.Cut(ports, "-")
	lo, err := parsePort(loS)
	if err != nil {
		return err
	}
	hi := lo
	if isRange {
		if hi, err = parsePort(hiS); err != nil {
			return err
		}
		if hi < lo {
			return fmt.Errorf("port range %q is reversed", ports)
		}
	}
	r.Proto, r.PortLo, r.PortHi = proto, lo, hi
	return nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s[0] == '+' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}
