package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The firewall's part of egress by name (see names.go), in table inet
// loginjail next to the schema of nft_linux.go:
//
//	set named_jails   ipv4_addr                    jails with a resolver of their own
//	set gateways      ipv4_addr                    our bridges' gateway addresses
//	map jail_dns      ipv4_addr : inet_service     jail -> its resolver's port on the gateway
//	set dns_block     inet_proto . inet_service    tcp/udp 53 and 853 (DNS, DoT, DoQ)
//	set named_allow   ipv4_addr . ipv4_addr . inet_proto . inet_service
//	                  (interval, timeout)          jail . resolved address . service
//	set named_jails6  ipv6_addr                    the same for a jail's IPv6 address
//	set named_allow6  ipv6_addr . ipv6_addr . inet_proto . inet_service (interval, timeout)
//
//	chain prerouting (nat, dstnat):
//	  iifname @bridges ip daddr @gateways meta l4proto tcp|udp th dport 53
//	      redirect to ip saddr map @jail_dns      (one rule per protocol)
//	chain forward, before the policy verdict map:
//	  iifname @bridges ip saddr @named_jails meta l4proto . th dport @dns_block drop
//	  iifname @bridges ip6 saddr @named_jails6 meta l4proto . th dport @dns_block drop
//	chain input, before the policy verdict map:
//	  iifname @bridges ip saddr @named_jails ct status dnat ct original proto-dst 53 accept
//	  iifname @bridges ip saddr @named_jails meta l4proto . th dport @dns_block drop
//	  iifname @bridges ip6 saddr @named_jails6 meta l4proto . th dport @dns_block drop
//	chain pol_<tag>_fwd, after the deny, allow and link-local rules:
//	  ip saddr . ip daddr . meta l4proto . th dport @named_allow accept
//	  ip6 saddr . ip6 daddr . meta l4proto . th dport @named_allow6 accept
//
// The IPv6 objects wait for IPv6 nat (subnet6): the base chains drop IPv6
// from the bridges before these rules until then, and a jail's IPv6
// address goes in @named_jails6 (and its AAAA answers in @named_allow6)
// only when it has one. The jail's resolver itself is reached over IPv4.
//
// Each resolver listens on the gateway at a port of its own; the jail asks
// the gateway's port 53 and the redirect takes the query to its own
// resolver, which is how a resolver knows whose query it answers without
// one shared process. The only DNAT loginjail does is that redirect, so
// "ct status dnat, original port 53" in input is exactly a redirected
// query. Deny still wins over a resolved name: the deny rule comes first
// in the policy chain.

var (
	namedKey  = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	namedKey6 = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService)

	setNamedJails = &nftables.Set{Table: table, Name: "named_jails", KeyType: nftables.TypeIPAddr}
	setGateways   = &nftables.Set{Table: table, Name: "gateways", KeyType: nftables.TypeIPAddr}
	mapJailDNS    = &nftables.Set{Table: table, Name: "jail_dns", KeyType: nftables.TypeIPAddr, IsMap: true, DataType: nftables.TypeInetService}
	setDNSBlock   = &nftables.Set{Table: table, Name: "dns_block", KeyType: hostKey, Concatenation: true}
	setNamedAllow = &nftables.Set{Table: table, Name: "named_allow", KeyType: namedKey, Interval: true, Concatenation: true, HasTimeout: true}

	setNamedJails6 = &nftables.Set{Table: table, Name: "named_jails6", KeyType: nftables.TypeIP6Addr}
	setNamedAllow6 = &nftables.Set{Table: table, Name: "named_allow6", KeyType: namedKey6, Interval: true, Concatenation: true, HasTimeout: true}
)

// addNamesSets queues the sets of egress by name; dns_block gets its
// four constant elements.
func addNamesSets(c *nftables.Conn) error {
	for _, s := range []*nftables.Set{setNamedJails, setGateways, mapJailDNS, setNamedAllow, setNamedJails6, setNamedAllow6} {
		s := *s
		if err := c.AddSet(&s, nil); err != nil {
			return fmt.Errorf("add nft set %s: %w", s.Name, err)
		}
	}
	var block []nftables.SetElement
	for _, proto := range []byte{protoTCP, protoUDP} {
		for _, port := range []uint32{53, 853} {
			b := box{{uint32(proto), uint32(proto)}, {port, port}}
			block = append(block, nftables.SetElement{Key: encode(b, hostWidths, false)})
		}
	}
	s := *setDNSBlock
	if err := c.AddSet(&s, block); err != nil {
		return fmt.Errorf("add nft set %s: %w", s.Name, err)
	}
	return nil
}

// addNamesPrerouting queues the dstnat chain redirecting a named jail's
// queries to the gateway to its own resolver.
func addNamesPrerouting(c *nftables.Conn, inBridge []expr.Any) {
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	daddrGw := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: setGateways.Name},
	}
	for _, proto := range []byte{protoTCP, protoUDP} {
		addRule(c, pre, inBridge, isV4, daddrGw, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(53)},
			saddrReg1,
			&expr.Lookup{SourceRegister: 1, SetName: mapJailDNS.Name, DestRegister: 1, IsDestRegSet: true},
			&expr.Redir{RegisterProtoMin: 1},
		})
	}
}

// namedJail matches a packet from a jail with a resolver of its own.
func namedJail() []expr.Any {
	return []expr.Any{saddrReg1, &expr.Lookup{SourceRegister: 1, SetName: setNamedJails.Name}}
}

// namedJail6 matches an IPv6 packet from such a jail.
func namedJail6() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
		&expr.Lookup{SourceRegister: 1, SetName: setNamedJails6.Name},
	}
}

// dnsBlocked matches DNS, DoT and DoQ traffic by destination port.
func dnsBlocked() []expr.Any {
	return append(append([]expr.Any{}, hostTuple...), &expr.Lookup{SourceRegister: 8, SetName: setDNSBlock.Name})
}

// redirectedQuery matches a query our prerouting redirect rewrote: a
// destination NATed to a gateway address, which only that redirect makes
// of a jail's traffic (a jail that sends to its resolver's port itself is
// not NATed and meets its policy's input chain). It does not also match
// the original port (ct original proto-dst 53): google/nftables v0.3.0
// cannot read that expression back from the kernel (it takes the u8
// direction for a u32), and Inspect, restore and doctor list these rules.
func redirectedQuery() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: setGateways.Name},
	}
}

// ipsDstNAT is IPS_DST_NAT of the conntrack status bits.
const ipsDstNAT = 1 << 5

// namedAllowRule is the policy chain's rule accepting what the jail's
// resolver opened.
func namedAllowRule() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 8, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 10},
		&expr.Payload{DestRegister: 11, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 8, SetName: setNamedAllow.Name},
	}
}

// namedAllowRule6 is its IPv6 twin: the addresses take four registers
// each (8-11 and 12-15), protocol and port the next two (16, 17).
func namedAllowRule6() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
		&expr.Payload{DestRegister: 8, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
		&expr.Payload{DestRegister: 12, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 16},
		&expr.Payload{DestRegister: 17, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 8, SetName: setNamedAllow6.Name},
	}
}

// namedJailElems are the elements that give jail ip (and ip6, if valid)
// its resolver at port on gateway gw; with port 0 only the keys, for
// deletion.
func namedJailElems(ip, ip6, gw netip.Addr, port uint16) []struct {
	s  *nftables.Set
	el nftables.SetElement
} {
	a := ip.As4()
	key := a[:]
	out := []struct {
		s  *nftables.Set
		el nftables.SetElement
	}{
		{setNamedJails, nftables.SetElement{Key: key}},
		{mapJailDNS, nftables.SetElement{Key: key}},
	}
	if ip6.IsValid() {
		a6 := ip6.As16()
		out = append(out, struct {
			s  *nftables.Set
			el nftables.SetElement
		}{setNamedJails6, nftables.SetElement{Key: a6[:]}})
	}
	if port != 0 {
		g := gw.As4()
		out[1].el.Val = binaryutil.BigEndian.PutUint16(port)
		out = append(out, struct {
			s  *nftables.Set
			el nftables.SetElement
		}{setGateways, nftables.SetElement{Key: g[:]}})
	}
	return out
}

// addNamedJail queues e's resolver elements, if it has a resolver.
func addNamedJail(c *nftables.Conn, e *sessionElems) error {
	if e.dnsPort == 0 {
		return nil
	}
	for _, x := range namedJailElems(e.ip, e.ip6, e.gateway, e.dnsPort) {
		if err := c.SetAddElements(x.s, []nftables.SetElement{x.el}); err != nil {
			return err
		}
	}
	return nil
}

// openNamed adds els to @named_allow with timeout, after deleting old
// (elements of the same jail and address added before, which the new
// ones may overlap: the kernel's interval sets refuse overlaps), in one
// transaction, so the jail never sees the address closed in between.
// Should a deleted element have timed out meanwhile (the transaction then
// fails as a whole with ENOENT), the old ones are deleted one by one and
// the new ones added on their own.
func openNamed(set *nftables.Set, old, els []element, timeout time.Duration) error {
	add := make([]nftables.SetElement, len(els))
	for i, e := range els {
		add[i] = nftables.SetElement{Key: e.Key, KeyEnd: e.KeyEnd, Timeout: timeout}
	}
	err := withNft(func(c *nftables.Conn) error {
		if len(old) > 0 {
			if err := c.SetDeleteElements(set, toSetElements(old)); err != nil {
				return err
			}
		}
		if err := c.SetAddElements(set, add); err != nil {
			return err
		}
		return c.Flush()
	})
	if err == nil || len(old) == 0 || !isNotFound(err) {
		if err != nil {
			return fmt.Errorf("open resolved address in nft: %w", err)
		}
		return nil
	}
	if err := closeNamed(set, old); err != nil {
		return err
	}
	err = withNft(func(c *nftables.Conn) error {
		if err := c.SetAddElements(set, add); err != nil {
			return err
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("open resolved address in nft: %w", err)
	}
	return nil
}

// closeNamed deletes els from @named_allow, in one transaction or, if
// some timed out already (ENOENT fails the whole batch), one by one;
// missing ones are no error.
func closeNamed(set *nftables.Set, els []element) error {
	if len(els) == 0 {
		return nil
	}
	err := withNft(func(c *nftables.Conn) error {
		if err := c.SetDeleteElements(set, toSetElements(els)); err != nil {
			return err
		}
		return c.Flush()
	})
	if err == nil || !isNotFound(err) {
		if err != nil {
			return fmt.Errorf("close resolved addresses in nft: %w", err)
		}
		return nil
	}
	var errs []error
	for _, e := range els {
		err := withNft(func(c *nftables.Conn) error {
			if err := c.SetDeleteElements(set, toSetElements([]element{e})); err != nil {
				return err
			}
			return c.Flush()
		})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("close resolved address in nft: %w", err))
		}
	}
	return errors.Join(errs...)
}

// closeNamedOf deletes every @named_allow element of jail ip: gc's path,
// which has no record of what the dead session's resolver opened.
func closeNamedOf(ip netip.Addr) error {
	a := ip.As4()
	var mine []element
	err := withNft(func(c *nftables.Conn) error {
		els, err := c.GetSetElements(setNamedAllow)
		if err != nil {
			return err
		}
		for _, e := range els {
			if len(e.Key) >= 4 && [4]byte(e.Key[:4]) == a && !e.IntervalEnd {
				mine = append(mine, element{Key: e.Key, KeyEnd: e.KeyEnd})
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("list nft set %s: %w", setNamedAllow.Name, err)
	}
	return closeNamed(setNamedAllow, mine)
}
