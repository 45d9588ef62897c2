package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Egress by name. A policy whose allow or deny list names hosts ("Name"
// rules) gets a resolver of its own at the jail's gateway
// (names_linux.go). The resolver answers only names the policy allows,
// and before it passes on an A or AAAA answer it adds the address to the
// firewall's @named_allow set for this jail, with the ports of the rules
// that matched the name and a timeout of max(TTL, 60 s). This file is the
// pure part: which names a policy allows and what a resolved address
// opens.

// minNameTimeout is the shortest life of an address the resolver opens:
// a TTL of 0 or a few seconds must not close the door between the answer
// and the connect.
const minNameTimeout = 60

// maxNameTimeout caps the life of an opened address (a day), so that a
// huge TTL does not keep an address open long after the name moved.
const maxNameTimeout = 24 * 60 * 60

// checkPattern checks a name or "*.domain" wildcard as config wrote it:
// lower case, no final dot, labels of letters, digits, "-" and "_".
func checkPattern(p string) error {
	n := strings.TrimPrefix(p, "*.")
	if n == "" || len(p) > 253 || !strings.Contains(n, ".") && n == p {
		return fmt.Errorf("name %q: want a DNS name with a domain or \"*.domain\"", p)
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return fmt.Errorf("name %q: bad label %q", p, l)
		}
	}
	return nil
}

// canonicalName lowers a query name and drops its final dot.
func canonicalName(q string) string { return strings.TrimSuffix(strings.ToLower(q), ".") }

// matchName reports whether name (canonical) matches pattern: equal, or,
// for "*.domain", any name below domain (not domain itself).
func matchName(pattern, name string) bool {
	if d, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(name, "."+d)
	}
	return pattern == name
}

// HasNames reports whether the spec's allow or deny list names a host,
// and so whether the jail gets loginjail's resolver.
func (s *Spec) HasNames() bool {
	for _, l := range [][]Rule{s.Allow, s.Deny} {
		for _, r := range l {
			if r.Name != "" {
				return true
			}
		}
	}
	return false
}

// nameFilter is a policy's view of names: which ones the resolver answers
// and what an answer opens.
type nameFilter struct {
	allow []Rule // the Name rules of Allow
	deny  []Rule // the Name rules of Deny
}

func newNameFilter(s *Spec) nameFilter {
	var f nameFilter
	for _, r := range s.Allow {
		if r.Name != "" {
			f.allow = append(f.allow, r)
		}
	}
	for _, r := range s.Deny {
		if r.Name != "" {
			f.deny = append(f.deny, r)
		}
	}
	return f
}

// Allowed reports whether the resolver answers name: no deny name matches
// it and, if the allow list names hosts, one of them matches. (A policy
// that names hosts only in deny answers every other name, and its CIDR
// allow list alone decides what the jail may connect to.)
func (f nameFilter) Allowed(name string) bool {
	name = canonicalName(name)
	for _, r := range f.deny {
		if matchName(r.Name, name) {
			return false
		}
	}
	if len(f.allow) == 0 {
		return true
	}
	for _, r := range f.allow {
		if matchName(r.Name, name) {
			return true
		}
	}
	return false
}

// services returns the (protocol, port) boxes that an address resolved
// for name opens: those of every allow rule naming it, made disjoint.
func (f nameFilter) services(name string) []box {
	name = canonicalName(name)
	var all []box
	for _, r := range f.allow {
		if !matchName(r.Name, name) {
			continue
		}
		for _, pp := range protoPorts(r) {
			all = append(all, box{pp[0], pp[1]})
		}
	}
	return disjoint(all)
}

// namedElements are the elements that let jail reach dst on svcs
// (disjoint (protocol, port) boxes): for @named_allow when both are IPv4,
// for @named_allow6 when both are IPv6 (keys of jail . dst . protocol .
// port, each padded to 4-byte registers as nftables concatenations are).
func namedElements(jail, dst netip.Addr, svcs []box) ([]element, error) {
	if jail.Is4() != dst.Is4() || !jail.IsValid() || !dst.IsValid() {
		return nil, fmt.Errorf("named elements: %v and %v are not of one family", jail, dst)
	}
	prefix := append(jail.AsSlice(), dst.AsSlice()...)
	var out []element
	for _, s := range svcs {
		key := append(append([]byte{}, prefix...), encode(s, hostWidths, false)...)
		end := append(append([]byte{}, prefix...), encode(s, hostWidths, true)...)
		out = append(out, element{Key: key, KeyEnd: end})
	}
	return out, nil
}

// nameTimeout is how long an answer with ttl (seconds) keeps its address
// open: max(ttl, 60 s), at most a day.
func nameTimeout(ttl uint32) uint32 {
	return min(max(ttl, minNameTimeout), maxNameTimeout)
}
