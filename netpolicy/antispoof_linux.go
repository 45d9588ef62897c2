package netpolicy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Anti-spoofing: each jail's bridge port may send only from the jail's own
// MAC (fixed by us at the veth's creation, derived from the session id) and
// its leased IPv4 and IPv6 addresses. A jail granted NET_RAW (or that
// changes its own eth0, as root of its netns may) could otherwise forge a
// neighbour's source address: pass the inet table's per-address policy as
// that neighbour, or claim its address by ARP or NDP and take its traffic
// from the host. The checks sit in a bridge-family table, bridge loginjail,
// at prerouting, so they see every frame a port sends before it is bridged
// or handed to the host:
//
//	set port_mac   ifname . ether_addr     port -> its jail's MAC
//	set port_ip    ifname . ipv4_addr      port -> its jail's IPv4 address
//	set port_ip6   ifname . ipv6_addr      port -> its jail's IPv6 address (subnet6)
//	set schema_v1  marker: the table was made whole by this version
//
//	chain prerouting (filter, priority -300):
//	  iifname "lj*" jump port_check            every jail port (hostVethName)
//	chain port_check:
//	  iifname . ether saddr != @port_mac drop
//	  arp: iifname . arp saddr ether != @port_mac drop
//	  arp: iifname . arp saddr ip != @port_ip drop
//	  ip:  iifname . ip saddr != @port_ip drop
//	  ip6: iifname . ip6 saddr != @port_ip6 drop        no element: no IPv6 at all
//	  ip6: icmpv6 type nd-router-advert drop
//	  ip6: icmpv6 type nd-redirect drop
//	  ip6: icmpv6 type nd-neighbor-advert iifname . target != @port_ip6 drop
//	  meta protocol ip accept; arp accept; ip6 accept
//	  drop                                      other ethertypes (VLAN tags, raw frames)
//
// A jail port that is not in the sets (its session's elements gone) may send
// nothing. Jails get no IPv6 link-local address (addr_gen_mode none) and
// their address no duplicate address detection, so all their NDP uses
// the leased address. A login adds its port's elements in one transaction
// and a logout removes them; like the inet table, this one is rebuilt by
// Restore after a flush.

const brSchemaMark = "schema_v1"

var brTable = &nftables.Table{Name: tableName, Family: nftables.TableFamilyBridge}

var (
	portMACKey = nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeEtherAddr)
	portIPKey  = nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr)
	portIP6Key = nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIP6Addr)

	setPortMAC  = &nftables.Set{Table: brTable, Name: "port_mac", KeyType: portMACKey, Concatenation: true}
	setPortIP   = &nftables.Set{Table: brTable, Name: "port_ip", KeyType: portIPKey, Concatenation: true}
	setPortIP6  = &nftables.Set{Table: brTable, Name: "port_ip6", KeyType: portIP6Key, Concatenation: true}
	brSetSchema = &nftables.Set{Table: brTable, Name: brSchemaMark, KeyType: nftables.TypeIPAddr}
)

// brSchemaChains are the bridge table's chains and their rule counts;
// brSchemaSets its sets (see schemaChains).
var (
	brSchemaChains = map[string]int{"prerouting": 1, "port_check": 12}
	brSchemaSets   = []string{"port_mac", "port_ip", "port_ip6", brSchemaMark}
)

// jailMAC is the MAC of a session's eth0: locally administered, unicast,
// and a function of the session id, so that Restore can rebuild the
// port's elements from the registry alone.
func jailMAC(sessionID string) net.HardwareAddr {
	h := sha256.Sum256([]byte("loginjail-mac:" + sessionID))
	return net.HardwareAddr{0x02, h[0], h[1], h[2], h[3], h[4]}
}

func etherProto(p uint16) []byte { return binaryutil.BigEndian.PutUint16(p) }

// addBrSchema queues the creation of the bridge table, whole.
func addBrSchema(c *nftables.Conn) error {
	c.AddTable(brTable)
	for _, s := range []*nftables.Set{setPortMAC, setPortIP, setPortIP6} {
		s := *s
		if err := c.AddSet(&s, nil); err != nil {
			return fmt.Errorf("add nft set bridge %s: %w", s.Name, err)
		}
	}
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: brTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(-300)})
	check := c.AddChain(&nftables.Chain{Name: "port_check", Table: brTable})
	rule := func(ch *nftables.Chain, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: brTable, Chain: ch, Exprs: all})
	}
	proto := func(p uint16) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherProto(p)},
		}
	}
	// iifname . <load into reg 12> != @set
	portNot := func(load expr.Any, s *nftables.Set) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 8},
			load,
			&expr.Lookup{SourceRegister: 8, SetName: s.Name, Invert: true},
		}
	}
	icmp6Type := func(typ byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
		}
	}
	ll := expr.PayloadBaseLLHeader
	nh := expr.PayloadBaseNetworkHeader
	// By the port's name, not by its bridge (meta ibrname): Debian has
	// nft_meta_bridge, but not every kernel does (CONFIG_NFT_BRIDGE_META).
	// Only bridge ports reach a bridge-family prerouting hook.
	rule(pre, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(vethPrefix)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: check.Name},
	})
	rule(check, portNot(&expr.Payload{DestRegister: 12, Base: ll, Offset: 6, Len: 6}, setPortMAC), dropV)
	rule(check, proto(unix.ETH_P_ARP), portNot(&expr.Payload{DestRegister: 12, Base: nh, Offset: 8, Len: 6}, setPortMAC), dropV)
	rule(check, proto(unix.ETH_P_ARP), portNot(&expr.Payload{DestRegister: 12, Base: nh, Offset: 14, Len: 4}, setPortIP), dropV)
	rule(check, proto(unix.ETH_P_IP), portNot(&expr.Payload{DestRegister: 12, Base: nh, Offset: 12, Len: 4}, setPortIP), dropV)
	rule(check, proto(unix.ETH_P_IPV6), portNot(&expr.Payload{DestRegister: 12, Base: nh, Offset: 8, Len: 16}, setPortIP6), dropV)
	rule(check, proto(unix.ETH_P_IPV6), icmp6Type(134), dropV) // router advertisement
	rule(check, proto(unix.ETH_P_IPV6), icmp6Type(137), dropV) // redirect
	rule(check, proto(unix.ETH_P_IPV6), icmp6Type(136),        // neighbour advertisement: its target
		portNot(&expr.Payload{DestRegister: 12, Base: expr.PayloadBaseTransportHeader, Offset: 8, Len: 16}, setPortIP6), dropV)
	for _, p := range []uint16{unix.ETH_P_IP, unix.ETH_P_ARP, unix.ETH_P_IPV6} {
		rule(check, proto(p), acceptV)
	}
	rule(check, dropV)
	mark := *brSetSchema
	if err := c.AddSet(&mark, nil); err != nil {
		return fmt.Errorf("add nft set bridge %s: %w", mark.Name, err)
	}
	return nil
}

// ensureAntispoof creates the bridge table if it is missing (see
// ensureFirewall).
func ensureAntispoof(stateDir string) error {
	have, err := brPresent()
	if err != nil || have {
		return err
	}
	unlock, err := lockFile(filepath.Join(stateDir, "nft.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if have, err := brPresent(); err != nil || have {
		return err
	}
	return rebuildAntispoof()
}

func brPresent() (bool, error) {
	var have bool
	err := withNft(func(c *nftables.Conn) error {
		_, err := c.GetSetByName(brTable, brSchemaMark)
		have = err == nil
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("look up nft table bridge %s: %w", tableName, err)
		}
		return nil
	})
	return have, err
}

// rebuildAntispoof replaces the bridge table, if any, by a whole, empty
// one. The caller holds nft.lock.
func rebuildAntispoof() error {
	return withNft(func(c *nftables.Conn) error {
		if _, err := c.ListTableOfFamily(tableName, brTable.Family); err == nil {
			slog.Warn("netpolicy: replacing nft table without current schema", "table", "bridge "+tableName)
			c.DelTable(brTable)
		}
		if err := addBrSchema(c); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("create nft table bridge %s: %w", tableName, err)
		}
		return nil
	})
}

// portElems are a jail port's elements in the bridge table.
type portElems struct {
	bridge, veth string
	mac          net.HardwareAddr
	ip, ip6      netip.Addr // ip6 invalid without subnet6
}

func portElemsOf(spec *Spec, ip, ip6 netip.Addr) portElems {
	return portElems{bridge: spec.Bridge, veth: hostVethName(spec.SessionID), mac: jailMAC(spec.SessionID), ip: ip, ip6: ip6}
}

func (p portElems) elems() []struct {
	s  *nftables.Set
	el nftables.SetElement
} {
	port := ifname(p.veth)
	mac := append(append(append([]byte{}, port...), p.mac...), 0, 0)
	out := []struct {
		s  *nftables.Set
		el nftables.SetElement
	}{
		{setPortMAC, nftables.SetElement{Key: mac}},
		{setPortIP, nftables.SetElement{Key: append(append([]byte{}, port...), p.ip.AsSlice()...)}},
	}
	if p.ip6.IsValid() {
		out = append(out, struct {
			s  *nftables.Set
			el nftables.SetElement
		}{setPortIP6, nftables.SetElement{Key: append(append([]byte{}, port...), p.ip6.AsSlice()...)}})
	}
	return out
}

// addPort adds p's elements in one transaction.
func addPort(p portElems) error {
	return withNft(func(c *nftables.Conn) error {
		for _, x := range p.elems() {
			if err := c.SetAddElements(x.s, []nftables.SetElement{x.el}); err != nil {
				return err
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add nft bridge elements of port %s: %w", p.veth, err)
		}
		return nil
	})
}

// delPort deletes p's elements, in one transaction or, should some be
// missing already, one by one; a missing element is no error.
func delPort(p portElems) error {
	err := withNft(func(c *nftables.Conn) error {
		for _, x := range p.elems() {
			if err := c.SetDeleteElements(x.s, []nftables.SetElement{x.el}); err != nil {
				return err
			}
		}
		return c.Flush()
	})
	if err == nil {
		return nil
	}
	var errs []error
	for _, x := range p.elems() {
		err := withNft(func(c *nftables.Conn) error {
			if err := c.SetDeleteElements(x.s, []nftables.SetElement{x.el}); err != nil {
				return err
			}
			return c.Flush()
		})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete port %s from nft set bridge %s: %w", p.veth, x.s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// portsPresent returns, of the ports given, those whose IPv4 element is
// in the bridge table.
func portsPresent(c *nftables.Conn) (map[string]bool, error) {
	els, err := c.GetSetElements(setPortIP)
	if err != nil {
		return nil, fmt.Errorf("list nft set bridge %s: %w", setPortIP.Name, err)
	}
	out := map[string]bool{}
	for _, e := range els {
		if len(e.Key) >= 20 {
			out[string(e.Key[:20])] = true
		}
	}
	return out, nil
}

func portKey(veth string, ip netip.Addr) string {
	return string(append(ifname(veth), ip.AsSlice()...))
}

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h): no
// automatic IPv6 addresses on the link, link-local included.
const addrGenModeNone = 1
