package netpolicy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IPv6 in the inet table, next to IPv4 (see nft_linux.go's schema):
//
//	set jails6           ipv6_addr              live jail IPv6 addresses
//	map jail_policy_fwd6 ipv6_addr : verdict    jail -> jump pol_<tag>_fwd
//	map jail_policy_in6  ipv6_addr : verdict    jail -> jump pol_<tag>_in
//
//	postrouting: ip6 saddr @jails6 oifname != @bridges masquerade
//	forward:     iifname @bridges ip6 saddr != @jails6 drop
//	             iifname @bridges ip6 saddr vmap @jail_policy_fwd6
//	input:       iifname @bridges icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
//	             iifname @bridges ip6 saddr vmap @jail_policy_in6
//
// A policy's chains serve both families. Its allow and deny lists name
// IPv4 networks (or none); for IPv6 only their address-free entries
// ("tcp/443") apply, from two more sets, so that an allow list stays a
// closed list under IPv6 too:
//
//	set pol_<tag>_deny6  inet_proto . inet_service (interval)
//	set pol_<tag>_allow6 inet_proto . inet_service (interval)
//	chain pol_<tag>_fwd, before its last rule:
//	  meta nfproto ipv6 meta l4proto . th dport @pol_<tag>_deny6 drop
//	  meta nfproto ipv6 meta l4proto . th dport @pol_<tag>_allow6 accept
//	  meta nfproto ipv6 ip6 daddr fe80::/10 drop
//
// host_allow (pol_<tag>_in) names no address and applies as it is.

var (
	setJails6     = &nftables.Set{Table: table, Name: "jails6", KeyType: nftables.TypeIP6Addr}
	mapPolicyFwd6 = &nftables.Set{Table: table, Name: "jail_policy_fwd6", KeyType: nftables.TypeIP6Addr, IsMap: true, DataType: nftables.TypeVerdict}
	mapPolicyIn6  = &nftables.Set{Table: table, Name: "jail_policy_in6", KeyType: nftables.TypeIP6Addr, IsMap: true, DataType: nftables.TypeVerdict}
)

var (
	isV6 = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
	}
	saddr6 = []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16}}
	// icmpv6 type 135 or 136: neighbour discovery to the gateway.
	ndp = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{135}, ToData: []byte{136}},
	}
)

// policy6Rules is the number of rules addPolicy6Rules adds.
const policy6Rules = 3

// addPolicy6Rules queues a policy's IPv6 rules in its forward chain.
func addPolicy6Rules(c *nftables.Conn, fwd *nftables.Chain, n policyNames) {
	llDaddr6 := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 2},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0xff, 0xc0}, Xor: []byte{0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0xfe, 0x80}},
	}
	addRule(c, fwd, isV6, hostTuple, inSet(n.deny6, 8, false), dropV)
	addRule(c, fwd, isV6, hostTuple, inSet(n.allow6, 8, false), acceptV)
	addRule(c, fwd, isV6, llDaddr6, dropV)
}

// jailElems6 are a jail's IPv6 elements (none without an address).
func jailElems6(ip6 netip.Addr, tag string) []struct {
	s  *nftables.Set
	el nftables.SetElement
} {
	if !ip6.IsValid() {
		return nil
	}
	key := ip6.AsSlice()
	n := namesOf(tag)
	out := []struct {
		s  *nftables.Set
		el nftables.SetElement
	}{
		{setJails6, nftables.SetElement{Key: key}},
		{mapPolicyFwd6, nftables.SetElement{Key: key}},
		{mapPolicyIn6, nftables.SetElement{Key: key}},
	}
	if tag != "" {
		out[1].el.VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: n.fwd}
		out[2].el.VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: n.in}
	}
	return out
}

// ensureForwarding6 turns on IPv6 forwarding in the host's netns.
func ensureForwarding6() error {
	return enableSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "ipv6 forwarding",
		"netpolicy: enabled IPv6 forwarding (net.ipv6.conf.all.forwarding=1) for nat jails with subnet6; "+
			"interfaces with accept_ra=1 now ignore router advertisements (set accept_ra=2 where the host takes its own route from them)")
}

// ensureBridge6 gives the bridge the IPv6 gateway address.
func ensureBridge6(br netlink.Link, subnet6 netip.Prefix) error {
	gw := gatewayOf6(subnet6)
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("list IPv6 addresses of %s: %w", br.Attrs().Name, err)
	}
	for _, a := range addrs {
		if ones, _ := a.Mask.Size(); a.IP.Equal(gw.AsSlice()) && ones == subnet6.Bits() {
			return nil
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(subnet6.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
	if err := netlink.AddrAdd(br, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add IPv6 gateway %v to %s: %w", gw, br.Attrs().Name, err)
	}
	return nil
}

// configureInJail6 gives the jail's eth0 its IPv6 address (no duplicate
// detection: the address is ours to hand out) and default route.
func configureInJail6(h *netlink.Handle, link netlink.Link, a *Attachment, bits int) error {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.IP6.AsSlice(), Mask: net.CIDRMask(bits, 128)}, Flags: unix.IFA_F_NODAD}
	if err := h.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add address %v/%d in jail: %w", a.IP6, bits, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: a.Gateway6.AsSlice(), Family: netlink.FAMILY_V6}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %v in jail: %w", a.Gateway6, err)
	}
	return nil
}
