package netpolicy

import (
	"math/big"
	"net/netip"
)

// IPv6 in nat (Spec.Subnet6, a ULA /64 or larger) has no pool of its
// own: a jail's IPv6 address is the subnet6 address with the same offset
// as its IPv4 lease in Subnet, and the gateway's is subnet6's first host
// address, as in IPv4. The IPv4 lease thus holds both, and gc, Restore
// and anti-spoofing derive the IPv6 address from it and the spec.

// jailIP6 is the IPv6 address of the jail leasing ip, or the zero Addr
// when s has no Subnet6.
func jailIP6(s *Spec, ip netip.Addr) netip.Addr {
	if !s.Subnet6.IsValid() || !ip.IsValid() {
		return netip.Addr{}
	}
	off := offsetIn(s.Subnet, ip)
	return addOffset(s.Subnet6.Masked().Addr(), off)
}

// gatewayOf6 is subnet6's first host address, which the bridge holds.
func gatewayOf6(subnet6 netip.Prefix) netip.Addr { return subnet6.Masked().Addr().Next() }

// offsetIn is ip's offset from the start of subnet.
func offsetIn(subnet netip.Prefix, ip netip.Addr) *big.Int {
	a := new(big.Int).SetBytes(ip.AsSlice())
	b := new(big.Int).SetBytes(subnet.Masked().Addr().AsSlice())
	return a.Sub(a, b)
}

func addOffset(base netip.Addr, off *big.Int) netip.Addr {
	n := new(big.Int).SetBytes(base.AsSlice())
	n.Add(n, off)
	var b [16]byte
	n.FillBytes(b[:])
	return netip.AddrFrom16(b)
}

// policy6 returns the IPv6 allow and deny elements of s: those of its
// Allow and Deny entries that name no network (protocol and port only).
// With an empty Allow, IPv6 egress is open like IPv4's, and allow6 is
// not used.
func policy6(s *Spec) (allow6, deny6 []element) {
	if len(s.Allow) > 0 {
		allow6 = elementsFor(hostBoxes(addressFree(s.Allow)), hostWidths)
	}
	return allow6, elementsFor(hostBoxes(addressFree(s.Deny)), hostWidths)
}

func addressFree(rules []Rule) []Rule {
	var out []Rule
	for _, r := range rules {
		// A name rule has no Net either, but its ports are for the
		// addresses the name resolves to (@named_allow6), not for all.
		if !r.Net.IsValid() && r.Name == "" {
			out = append(out, r)
		}
	}
	return out
}
