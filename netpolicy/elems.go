package netpolicy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
)

// The firewall sorts jails into policies: a policy is a jail's allow,
// deny and host_allow lists as disjoint boxes in (destination, protocol,
// port) space, and jails whose boxes are the same share one policy: its
// chains and small interval sets (see nft_linux.go). A login adds only its
// address to hash sets and verdict maps, never per-jail interval elements,
// so its cost does not depend on how many jails are live. The boxes of one
// list are made disjoint first, because the kernel's concatenated interval
// sets (pipapo) refuse an element whose start or end lies inside another
// one. A policy is named by a digest of its boxes.

// interval is an inclusive range of one dimension.
type interval struct{ lo, hi uint32 }

// box is a product of intervals, one per dimension.
type box []interval

const (
	protoTCP = 6
	protoUDP = 17
)

var linkLocal = netip.MustParsePrefix("169.254.0.0/16")

// element is one set element: Key is the start, KeyEnd the inclusive end
// (both the box's bounds, one 4-byte register per dimension).
type element struct{ Key, KeyEnd []byte }

// policy is what a policy's sets hold, and its digest.
type policy struct {
	allowAll  bool      // empty Allow: the forward chain ends in accept
	allow     []element // pol_<tag>_allow: daddr . l4proto . dport
	deny      []element // pol_<tag>_deny: same key
	hostAllow []element // pol_<tag>_host: l4proto . dport
	allow6    []element // pol_<tag>_allow6: l4proto . dport of Allow's address-free rules (ipv6.go)
	deny6     []element // pol_<tag>_deny6: same of Deny's
	digest    string    // hex sha256 of all of the above
}

// sessionElems are what one session adds to the firewall: its address in
// @jails and, mapped to its policy's chains, in the verdict maps.
type sessionElems struct {
	ip  netip.Addr
	ip6 netip.Addr // with Subnet6 (ipv6.go), else zero
	pol policy
	tag string // the policy's name in the table, set when attached
	// dnsPort, when not 0, is the port of the jail's own resolver on the
	// gateway: the jail is in @named_jails and @jail_dns (names_nft_linux.go).
	dnsPort uint16
	gateway netip.Addr
}

func prefixInterval(p netip.Prefix) interval {
	if !p.IsValid() {
		return interval{0, ^uint32(0)}
	}
	p = p.Masked()
	lo := binary.BigEndian.Uint32(p.Addr().AsSlice())
	hi := lo | (^uint32(0) >> p.Bits())
	if p.Bits() == 0 {
		hi = ^uint32(0)
	}
	return interval{lo, hi}
}

// protoPorts returns the (protocol, port) intervals a rule covers.
func protoPorts(r Rule) [][2]interval {
	ports := interval{0, 65535}
	if r.PortLo != 0 || r.PortHi != 0 {
		ports = interval{uint32(r.PortLo), uint32(r.PortHi)}
	}
	switch r.Proto {
	case "tcp":
		return [][2]interval{{{protoTCP, protoTCP}, ports}}
	case "udp":
		return [][2]interval{{{protoUDP, protoUDP}, ports}}
	}
	if ports == (interval{0, 65535}) {
		return [][2]interval{{{0, 255}, ports}}
	}
	return [][2]interval{{{protoTCP, protoTCP}, ports}, {{protoUDP, protoUDP}, ports}}
}

// egressBoxes turns rules into disjoint (daddr, proto, port) boxes. With
// clipLinkLocal, a rule not inside 169.254.0.0/16 loses that range: only an
// explicit link-local entry opens it.
func egressBoxes(rules []Rule, clipLinkLocal bool) []box {
	ll := box{prefixInterval(linkLocal), {0, 255}, {0, 65535}}
	var all []box
	for _, r := range rules {
		if r.Name != "" {
			continue // opened per address by the jail's resolver (names.go)
		}
		for _, pp := range protoPorts(r) {
			b := box{prefixInterval(r.Net), pp[0], pp[1]}
			bs := []box{b}
			if clipLinkLocal && !(r.Net.IsValid() && linkLocal.Contains(r.Net.Addr()) && r.Net.Bits() >= linkLocal.Bits()) {
				bs = subtract(b, ll)
			}
			all = append(all, bs...)
		}
	}
	return disjoint(all)
}

func hostBoxes(rules []Rule) []box {
	var all []box
	for _, r := range rules {
		for _, pp := range protoPorts(r) {
			all = append(all, box{pp[0], pp[1]})
		}
	}
	return disjoint(all)
}

func (b box) intersects(o box) bool {
	for i := range b {
		if b[i].hi < o[i].lo || o[i].hi < b[i].lo {
			return false
		}
	}
	return true
}

func (b box) within(o box) bool {
	for i := range b {
		if b[i].lo < o[i].lo || b[i].hi > o[i].hi {
			return false
		}
	}
	return true
}

// subtract returns b minus o as disjoint boxes (at most 2 per dimension).
func subtract(b, o box) []box {
	if !b.intersects(o) {
		return []box{b}
	}
	rest := append(box(nil), b...)
	var out []box
	for d := range rest {
		if rest[d].lo < o[d].lo {
			p := append(box(nil), rest...)
			p[d] = interval{rest[d].lo, o[d].lo - 1}
			out = append(out, p)
			rest[d].lo = o[d].lo
		}
		if rest[d].hi > o[d].hi {
			p := append(box(nil), rest...)
			p[d] = interval{o[d].hi + 1, rest[d].hi}
			out = append(out, p)
			rest[d].hi = o[d].hi
		}
	}
	return out // what is left of rest lies inside o
}

// disjoint returns boxes covering the same points as in, pairwise disjoint.
func disjoint(in []box) []box {
	var out []box
	for _, b := range in {
		pieces := []box{b}
		for _, o := range out {
			var next []box
			for _, p := range pieces {
				if p.within(o) {
					continue
				}
				next = append(next, subtract(p, o)...)
			}
			pieces = next
			if len(pieces) == 0 {
				break
			}
		}
		out = append(out, pieces...)
	}
	return out
}

// widths of each dimension in a set key: addresses 4 bytes, protocol 1 and
// port 2, each padded to a 4-byte register as nftables concatenations are.
var (
	egressWidths = []int{4, 1, 2}
	hostWidths   = []int{1, 2}
)

func encode(b box, widths []int, end bool) []byte {
	key := make([]byte, 0, 4*len(b))
	for i, iv := range b {
		v := iv.lo
		if end {
			v = iv.hi
		}
		var w [4]byte
		switch widths[i] {
		case 4:
			binary.BigEndian.PutUint32(w[:], v)
		case 2:
			binary.BigEndian.PutUint16(w[:2], uint16(v))
		case 1:
			w[0] = byte(v)
		}
		key = append(key, w[:]...)
	}
	return key
}

func elementsFor(boxes []box, widths []int) []element {
	els := make([]element, 0, len(boxes))
	for _, b := range boxes {
		els = append(els, element{Key: encode(b, widths, false), KeyEnd: encode(b, widths, true)})
	}
	return els
}

// buildPolicy computes the policy of a spec: its sets' elements and its
// digest.
func buildPolicy(s *Spec) policy {
	p := policy{allowAll: len(s.Allow) == 0}
	if !p.allowAll {
		p.allow = elementsFor(egressBoxes(s.Allow, true), egressWidths)
	}
	p.deny = elementsFor(egressBoxes(s.Deny, false), egressWidths)
	p.hostAllow = elementsFor(hostBoxes(s.HostAllow), hostWidths)
	p.allow6, p.deny6 = policy6(s)
	h := sha256.New()
	if p.allowAll {
		h.Write([]byte("loginjail policy v3 allow-all\n"))
	} else {
		h.Write([]byte("loginjail policy v3\n"))
	}
	for _, l := range [][]element{p.allow, p.deny, p.hostAllow, p.allow6, p.deny6} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(l)))
		h.Write(n[:])
		for _, e := range l {
			h.Write(e.Key)
			h.Write(e.KeyEnd)
		}
	}
	p.digest = hex.EncodeToString(h.Sum(nil))
	return p
}

// buildElems computes a session's firewall change from its spec.
func buildElems(ip netip.Addr, s *Spec) sessionElems {
	return sessionElems{ip: ip, ip6: jailIP6(s, ip), pol: buildPolicy(s)}
}
