package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sync"
)

// Rule is one allow, deny or host_allow entry, already parsed. A zero Net
// means any address, an empty Proto any protocol, and PortLo = PortHi = 0
// any port.
type Rule struct {
	Net netip.Prefix
	// Name, when set, names the destination by DNS name or "*.domain"
	// wildcard instead of Net (which is then zero): the jail's resolver
	// opens the addresses it answers for it (names.go).
	Name           string
	Proto          string // "", "tcp" or "udp"; "" with a port means both tcp and udp
	PortLo, PortHi uint16
}

// Spec says how one session's jail joins the NAT network.
type Spec struct {
	// SessionID names the host veth ("lj" + its first 12 characters) and the
	// session's lease; [a-z0-9]{1,32}.
	SessionID string
	// Bridge is the host bridge the jails hang off, e.g. "lj0".
	Bridge string
	// Subnet holds the gateway (its first host address, on the bridge) and
	// the jails' addresses (the rest), e.g. 10.213.0.0/16. IPv4 only.
	Subnet netip.Prefix
	// Subnet6, if set, gives the jail an IPv6 address too: a ULA prefix
	// (fd00::/8) of /64 or larger, the gateway its first host address
	// (see ipv6.go). Zero: IPv4 only.
	Subnet6 netip.Prefix
	// Allow and Deny filter egress from the jail; deny wins; an empty Allow
	// allows everything except link-local 169.254.0.0/16, which only an
	// Allow entry inside 169.254.0.0/16 opens.
	Allow, Deny []Rule
	// HostAllow lists services on the host itself the jail may reach, by
	// protocol and port only (Net must be zero), e.g. udp/53.
	HostAllow []Rule
	// StateDir holds the IP pool's leases, e.g. /run/loginjail/net.
	StateDir string
	// DNS is the servers the jail's resolv.conf names (ResolvConf);
	// empty: the host's upstream servers.
	DNS []netip.Addr
}

// Attachment is a jail attached to the NAT network. Release undoes it.
type Attachment struct {
	IP, Gateway netip.Addr
	Prefix      int
	HostVeth    string
	// IP6 and Gateway6 are the IPv6 address and gateway with Subnet6;
	// zero without.
	IP6, Gateway6 netip.Addr

	spec  Spec
	elems sessionElems
	names *nameResolver // the jail's resolver when its policy names hosts, else nil
}

// sessionIDRE compiles on first use, not in every process's start.
var sessionIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]{1,32}$`) })

// hostVethName is the host end's name: "lj" + the first 12 characters of
// the session id (IFNAMSIZ allows 15).
func hostVethName(sessionID string) string {
	id := sessionID
	if len(id) > 12 {
		id = id[:12]
	}
	return vethPrefix + id
}

// vethPrefix starts every host veth's name; anti-spoofing checks the
// ports so named.
const vethPrefix = "lj"

// validate checks the spec in pure Go before any syscall.
func (s *Spec) validate() error {
	var errs []error
	if !sessionIDRE().MatchString(s.SessionID) {
		errs = append(errs, fmt.Errorf("session id %q: want [a-z0-9]{1,32}", s.SessionID))
	}
	if s.Bridge == "" || len(s.Bridge) > 15 {
		errs = append(errs, fmt.Errorf("bridge name %q: want 1 to 15 characters", s.Bridge))
	}
	if !s.Subnet.IsValid() || !s.Subnet.Addr().Is4() {
		errs = append(errs, fmt.Errorf("subnet %v: want an IPv4 prefix", s.Subnet))
	} else if s.Subnet.Bits() > 30 {
		errs = append(errs, fmt.Errorf("subnet %v: too small, want /30 or larger", s.Subnet))
	} else if s.Subnet.Masked() != s.Subnet {
		errs = append(errs, fmt.Errorf("subnet %v: host bits set, want %v", s.Subnet, s.Subnet.Masked()))
	}
	if s.Subnet6.IsValid() {
		if !s.Subnet6.Addr().Is6() || s.Subnet6.Addr().Is4In6() || !netip.MustParsePrefix("fd00::/8").Contains(s.Subnet6.Addr()) {
			errs = append(errs, fmt.Errorf("subnet6 %v: want a unique local IPv6 prefix (fd00::/8)", s.Subnet6))
		} else if s.Subnet6.Bits() > 64 || s.Subnet6.Bits() < 48 {
			errs = append(errs, fmt.Errorf("subnet6 %v: want a /48 to /64", s.Subnet6))
		} else if s.Subnet6.Masked() != s.Subnet6 {
			errs = append(errs, fmt.Errorf("subnet6 %v: host bits set, want %v", s.Subnet6, s.Subnet6.Masked()))
		}
	}
	if s.StateDir == "" {
		errs = append(errs, errors.New("state dir: empty"))
	}
	for _, r := range s.Allow {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("allow %v: %w", r, err))
		}
	}
	for _, r := range s.Deny {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("deny %v: %w", r, err))
		}
	}
	for _, r := range s.HostAllow {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("host_allow %v: %w", r, err))
		} else if r.Net.IsValid() {
			errs = append(errs, fmt.Errorf("host_allow %v: only protocol and port, not an address", r))
		}
	}
	return errors.Join(errs...)
}

func (r Rule) validate() error {
	if r.Name != "" {
		if r.Net.IsValid() {
			return errors.New("both a name and a network")
		}
		if err := checkPattern(r.Name); err != nil {
			return err
		}
	}
	if r.Net.IsValid() && !r.Net.Addr().Is4() {
		return errors.New("only IPv4 networks")
	}
	switch r.Proto {
	case "", "tcp", "udp":
	default:
		return fmt.Errorf("protocol %q: want tcp, udp or empty", r.Proto)
	}
	if r.PortLo > r.PortHi {
		return fmt.Errorf("port range %d-%d is empty", r.PortLo, r.PortHi)
	}
	return nil
}

// String prints the rule in the policy's syntax.
func (r Rule) String() string {
	s := ""
	if r.Name != "" {
		s = r.Name
	} else if r.Net.IsValid() {
		s = r.Net.String()
	}
	if r.Proto != "" {
		if s != "" {
			s += ":"
		}
		s += r.Proto
		if r.PortLo != 0 || r.PortHi != 0 {
			if r.PortLo == r.PortHi {
				s += fmt.Sprintf("/%d", r.PortLo)
			} else {
				s += fmt.Sprintf("/%d-%d", r.PortLo, r.PortHi)
			}
		}
	}
	if s == "" {
		s = "any"
	}
	return s
}
