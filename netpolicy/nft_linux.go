package netpolicy

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The firewall is one nftables table, inet loginjail. Its chains and rules
// are fixed and created once; a login only adds and removes set elements,
// so the cost of a login does not grow with the number of live jails and no
// rule is ever deleted (rule deletion waits for RCU). The schema:
//
//	set bridges      ifname                                   our bridges
//	set jails        ipv4_addr                                live jail addresses
//	set allow_all    ipv4_addr                                jails with an empty allow list
//	set egress_allow ipv4_addr . ipv4_addr . inet_proto . inet_service  (interval)
//	set egress_deny  ipv4_addr . ipv4_addr . inet_proto . inet_service  (interval)
//	set host_allow   ipv4_addr . inet_proto . inet_service              (interval)
//	set schema_v1    marker: the table was made whole by this version
//
//	chain postrouting (nat, srcnat):
//	  ip saddr @jails oifname != @bridges masquerade
//	chain forward (filter):
//	  ct state established,related accept
//	  oifname @bridges drop                       nothing new into a jail, nor jail to jail via the host
//	  iifname @bridges meta nfproto != ipv4 drop
//	  iifname @bridges ip saddr != @jails drop     unleased (spoofed) sources
//	  iifname @bridges ip saddr . ip daddr . meta l4proto . th dport @egress_deny drop
//	  iifname @bridges ip saddr . ip daddr . meta l4proto . th dport @egress_allow accept
//	  iifname @bridges ip daddr 169.254.0.0/16 drop
//	  iifname @bridges ip saddr @allow_all accept
//	  iifname @bridges drop
//	chain input (filter): the host itself, any of its addresses
//	  iifname @bridges ct state established,related accept
//	  iifname @bridges ip saddr . meta l4proto . th dport @host_allow accept
//	  iifname @bridges drop
//
// Every session element starts with the jail's address, so a session's
// elements are exactly those with its address as the first field.

const (
	tableName  = "loginjail"
	schemaMark = "schema_v1"
)

var table = &nftables.Table{Name: tableName, Family: nftables.TableFamilyINet}

var (
	egressKey = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	hostKey   = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)

	setBridges     = &nftables.Set{Table: table, Name: "bridges", KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	setJails       = &nftables.Set{Table: table, Name: "jails", KeyType: nftables.TypeIPAddr}
	setAllowAll    = &nftables.Set{Table: table, Name: "allow_all", KeyType: nftables.TypeIPAddr}
	setEgressAllow = &nftables.Set{Table: table, Name: "egress_allow", KeyType: egressKey, Interval: true, Concatenation: true}
	setEgressDeny  = &nftables.Set{Table: table, Name: "egress_deny", KeyType: egressKey, Interval: true, Concatenation: true}
	setHostAllow   = &nftables.Set{Table: table, Name: "host_allow", KeyType: hostKey, Interval: true, Concatenation: true}
	setSchema      = &nftables.Set{Table: table, Name: schemaMark, KeyType: nftables.TypeIPAddr}
)

// The process keeps one lasting nftables socket, shared under nftMu (a
// Conn batches messages, so two goroutines must not build on it at once).
// A short-lived socket per transaction would be far slower to delete with:
// closing a NETLINK_NETFILTER socket runs nf_tables' NETLINK_URELEASE
// handler, which flushes the deferred transaction destroy work (a
// synchronize_rcu() before freeing deleted elements) while holding the
// netns's nftables commit mutex. A delete followed by a close thus cost a
// full RCU grace period (10-40 ms here) and stalled every other nftables
// commit on the host meanwhile. With the socket kept open, the deleted
// elements are out of the set as soon as the commit is acknowledged (the
// packet path and later transactions no longer see them); only their
// memory is freed later, asynchronously, by the kernel. The socket is
// closed once, when the process exits.
var (
	nftMu   sync.Mutex
	nftConn *nftables.Conn
)

// withNft runs f on the lasting connection. After a failure the socket is
// dropped (it may hold unread answers) and the next call opens a new one.
func withNft(f func(c *nftables.Conn) error) error {
	nftMu.Lock()
	defer nftMu.Unlock()
	if nftConn == nil {
		c, err := nftables.New(nftables.AsLasting())
		if err != nil {
			return fmt.Errorf("open nftables: %w", err)
		}
		nftConn = c
	}
	err := f(nftConn)
	if err != nil {
		nftConn.CloseLasting()
		nftConn = nil
	}
	return err
}

func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

// ensureFirewall creates the table whole if it is missing, idempotently
// and under a lock so that concurrent first logins create it once.
func ensureFirewall(stateDir string) error {
	var have bool
	err := withNft(func(c *nftables.Conn) error {
		_, err := c.GetSetByName(table, schemaMark)
		have = err == nil
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("look up nft table %s: %w", tableName, err)
		}
		return nil
	})
	if err != nil || have {
		return err
	}
	unlock, err := lockFile(filepath.Join(stateDir, "nft.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	return withNft(func(c *nftables.Conn) error {
		_, err := c.GetSetByName(table, schemaMark)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("look up nft table %s: %w", tableName, err)
		}
		if _, terr := c.ListTableOfFamily(tableName, table.Family); terr == nil {
			// A table of ours without the marker: an older or half-made schema.
			slog.Warn("netpolicy: replacing nft table without current schema", "table", "inet "+tableName)
			c.DelTable(table)
		}
		if err := addSchema(c); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("create nft table %s: %w", tableName, err)
		}
		return nil
	})
}

func addSchema(c *nftables.Conn) error {
	c.AddTable(table)
	for _, s := range []*nftables.Set{setBridges, setJails, setAllowAll, setEgressAllow, setEgressDeny, setHostAllow} {
		s := *s // AddSet assigns an ID; keep the templates clean
		if err := c.AddSet(&s, nil); err != nil {
			return fmt.Errorf("add nft set %s: %w", s.Name, err)
		}
	}
	accept := nftables.ChainPolicyAccept
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})

	rule := func(ch *nftables.Chain, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: all})
	}
	inBridge := lookup(&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, setBridges, false)
	outBridge := lookup(&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, setBridges, false)
	notOutBridge := lookup(&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, setBridges, true)
	v4 := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
	notV4 := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
	saddr := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	estRel := []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
	// ip saddr . ip daddr . meta l4proto . th dport, in 32-bit registers 8..11
	egressTuple := []expr.Any{
		&expr.Payload{DestRegister: 8, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 10},
		&expr.Payload{DestRegister: 11, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
	hostTuple := []expr.Any{
		&expr.Payload{DestRegister: 8, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
	ll := prefixInterval(linkLocal)
	llDaddr := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: []byte{255, 255, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint32(ll.lo)},
	}
	set := func(s *nftables.Set, reg uint32, invert bool) []expr.Any {
		return []expr.Any{&expr.Lookup{SourceRegister: reg, SetName: s.Name, Invert: invert}}
	}
	verdict := func(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }
	accept_, drop := verdict(expr.VerdictAccept), verdict(expr.VerdictDrop)

	rule(post, v4, []expr.Any{saddr}, set(setJails, 1, false), notOutBridge, []expr.Any{&expr.Masq{}})

	rule(fwd, estRel, accept_)
	rule(fwd, outBridge, drop)
	rule(fwd, inBridge, notV4, drop)
	rule(fwd, inBridge, v4, []expr.Any{saddr}, set(setJails, 1, true), drop)
	rule(fwd, inBridge, v4, egressTuple, set(setEgressDeny, 8, false), drop)
	rule(fwd, inBridge, v4, egressTuple, set(setEgressAllow, 8, false), accept_)
	rule(fwd, inBridge, v4, llDaddr, drop)
	rule(fwd, inBridge, v4, []expr.Any{saddr}, set(setAllowAll, 1, false), accept_)
	rule(fwd, inBridge, drop)

	rule(in, inBridge, estRel, accept_)
	rule(in, inBridge, v4, hostTuple, set(setHostAllow, 8, false), accept_)
	rule(in, inBridge, drop)

	mark := *setSchema
	if err := c.AddSet(&mark, nil); err != nil {
		return fmt.Errorf("add nft set %s: %w", mark.Name, err)
	}
	return nil
}

func lookup(load expr.Any, s *nftables.Set, invert bool) []expr.Any {
	return []expr.Any{load, &expr.Lookup{SourceRegister: 1, SetName: s.Name, Invert: invert}}
}

func toSetElements(els []element) []nftables.SetElement {
	out := make([]nftables.SetElement, len(els))
	for i, e := range els {
		out[i] = nftables.SetElement{Key: e.Key, KeyEnd: e.KeyEnd}
	}
	return out
}

// addElems adds a session's elements in one transaction.
func addElems(bridge string, e *sessionElems) error {
	return withNft(func(c *nftables.Conn) error {
		ip := e.ip.As4()
		if err := c.SetAddElements(setBridges, []nftables.SetElement{{Key: ifname(bridge)}}); err != nil {
			return err
		}
		if err := c.SetAddElements(setJails, []nftables.SetElement{{Key: ip[:]}}); err != nil {
			return err
		}
		if e.allowAll {
			if err := c.SetAddElements(setAllowAll, []nftables.SetElement{{Key: ip[:]}}); err != nil {
				return err
			}
		}
		for _, p := range []struct {
			s   *nftables.Set
			els []element
		}{{setEgressAllow, e.allow}, {setEgressDeny, e.deny}, {setHostAllow, e.hostAllow}} {
			if len(p.els) == 0 {
				continue
			}
			if err := c.SetAddElements(p.s, toSetElements(p.els)); err != nil {
				return err
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add nft elements for %v: %w", e.ip, err)
		}
		return nil
	})
}

// delElems removes a session's elements: first exactly those it added, in
// one transaction; if that fails (some are gone already, or e is unknown),
// every element whose first field is the session's address.
func delElems(e *sessionElems) error {
	if e == nil || !e.ip.IsValid() {
		return nil
	}
	err := withNft(func(c *nftables.Conn) error {
		ip := e.ip.As4()
		c.SetDeleteElements(setJails, []nftables.SetElement{{Key: ip[:]}})
		if e.allowAll {
			c.SetDeleteElements(setAllowAll, []nftables.SetElement{{Key: ip[:]}})
		}
		for _, p := range []struct {
			s   *nftables.Set
			els []element
		}{{setEgressAllow, e.allow}, {setEgressDeny, e.deny}, {setHostAllow, e.hostAllow}} {
			if len(p.els) > 0 {
				c.SetDeleteElements(p.s, toSetElements(p.els))
			}
		}
		return c.Flush()
	})
	if err == nil {
		return nil
	}
	return delElemsByIP(e.ip)
}

// delElemsByIP removes every element of ip from every set, reading the
// sets first. It costs a dump of each set, so it is gc's path, not logout's.
func delElemsByIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return nil
	}
	// Another process (the session's builder, `kill`, `gc`) may delete the
	// same elements between our listing and our delete: the batch then
	// fails with ENOENT as a whole. List again; nothing left is success.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = delElemsByIPOnce(ip)
		if err == nil || !errors.Is(err, unix.ENOENT) && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return err
}

func delElemsByIPOnce(ip netip.Addr) error {
	var errs []error
	err := withNft(func(c *nftables.Conn) error {
		if _, err := c.ListTableOfFamily(tableName, table.Family); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("look up nft table %s: %w", tableName, err)
		}
		a := ip.As4()
		n := 0
		for _, s := range []*nftables.Set{setJails, setAllowAll, setEgressAllow, setEgressDeny, setHostAllow} {
			els, err := c.GetSetElements(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("list nft set %s: %w", s.Name, err))
				continue
			}
			var mine []nftables.SetElement
			for _, el := range els {
				if el.IntervalEnd || !bytes.HasPrefix(el.Key, a[:]) {
					continue
				}
				mine = append(mine, nftables.SetElement{Key: el.Key, KeyEnd: el.KeyEnd})
			}
			if len(mine) > 0 {
				c.SetDeleteElements(s, mine)
				n += len(mine)
			}
		}
		if n > 0 {
			if err := c.Flush(); err != nil {
				return fmt.Errorf("delete nft elements of %v: %w", ip, err)
			}
		}
		return errors.Join(errs...)
	})
	return err
}

// lockFile takes an exclusive flock on path, creating it.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create lock dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, os.NewSyscallError("flock", err)
	}
	return func() { f.Close() }, nil
}
