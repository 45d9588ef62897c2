package netpolicy

import (
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

// The firewall is one nftables table, inet loginjail. Its base chains are
// fixed and created once. A policy (the disjoint boxes of an allow, deny
// and host_allow list, named by a digest, see elems.go) gets its own
// chains and small interval sets, created with its first live jail and
// deleted with its last; a login only adds its address to @jails and, as
// a jump to its policy's chains, to the two verdict maps, and a logout
// removes those three hash elements again, so the per-login change does
// not grow with the number of live jails. No rule is added or deleted per
// login (rule deletion waits for RCU). The schema, <tag> being 8 hex
// digits of the policy's digest:
//
//	set bridges          ifname                     our bridges
//	set jails            ipv4_addr                  live jail addresses
//	map jail_policy_fwd  ipv4_addr : verdict        jail -> jump pol_<tag>_fwd
//	map jail_policy_in   ipv4_addr : verdict        jail -> jump pol_<tag>_in
//	set schema_v4        marker: the table was made whole by this version
//	(and the sets, chains and rules of egress by name: names_nft_linux.go)
//
//	chain postrouting (nat, srcnat):
//	  ip saddr @jails oifname != @bridges masquerade
//	chain forward (filter):
//	  ct state established,related accept
//	  oifname @bridges drop                       nothing new into a jail, nor jail to jail via the host
//	  iifname @bridges ip6 saddr != @jails6 drop
//	  iifname @bridges ip6 saddr @named_jails6 <dns/dot port> drop
//	  iifname @bridges ip6 saddr vmap @jail_policy_fwd6
//	  iifname @bridges meta nfproto != ipv4 drop
//	  iifname @bridges ip saddr != @jails drop     unleased (spoofed) sources
//	  iifname @bridges ip saddr @named_jails <dns/dot port> drop
//	  iifname @bridges ip saddr vmap @jail_policy_fwd
//	  iifname @bridges drop
//	chain input (filter): the host itself, any of its addresses
//	  iifname @bridges ct state established,related accept
//	  iifname @bridges ip6 <ndp> accept
//	  iifname @bridges ip6 saddr @named_jails6 <dns/dot port> drop
//	  iifname @bridges ip6 saddr vmap @jail_policy_in6
//	  iifname @bridges meta nfproto != ipv4 drop
//	  iifname @bridges ip saddr @named_jails <redirected query> accept
//	  iifname @bridges ip saddr @named_jails <dns/dot port> drop
//	  iifname @bridges ip saddr vmap @jail_policy_in
//	  iifname @bridges drop
//
//	per policy:
//	set pol_<tag>_deny   ipv4_addr . inet_proto . inet_service  (interval)
//	set pol_<tag>_allow  ipv4_addr . inet_proto . inet_service  (interval)
//	set pol_<tag>_host   inet_proto . inet_service              (interval)
//	chain pol_<tag>_fwd:
//	  ip daddr . meta l4proto . th dport @pol_<tag>_deny drop
//	  ip daddr . meta l4proto . th dport @pol_<tag>_allow accept
//	  ip daddr 169.254.0.0/16 drop
//	  ip saddr . ip daddr . meta l4proto . th dport @named_allow accept
//	  (IPv6: pol_<tag>_deny6, pol_<tag>_allow6, fe80::/10 drop)
//	  ip6 saddr . ip6 daddr . meta l4proto . th dport @named_allow6 accept
//	  drop                                         accept if the allow list is empty
//	chain pol_<tag>_in:
//	  meta l4proto . th dport @pol_<tag>_host accept
//	  drop
//
// IPv6 (subnet6) adds sets, maps and rules of its own, listed in
// ipv6_linux.go; anti-spoofing lives in a second table, bridge loginjail
// (antispoof_linux.go); restore_linux.go rebuilds both after a flush.
//
// Which tag names which policy is recorded in the state dir, and all
// changes to policies and verdict maps are made under its nft.lock (see
// policy_linux.go).

const (
	tableName  = "loginjail"
	schemaMark = "schema_v4"
)

var table = &nftables.Table{Name: tableName, Family: nftables.TableFamilyINet}

var (
	egressKey = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	hostKey   = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)

	setBridges   = &nftables.Set{Table: table, Name: "bridges", KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	setJails     = &nftables.Set{Table: table, Name: "jails", KeyType: nftables.TypeIPAddr}
	mapPolicyFwd = &nftables.Set{Table: table, Name: "jail_policy_fwd", KeyType: nftables.TypeIPAddr, IsMap: true, DataType: nftables.TypeVerdict}
	mapPolicyIn  = &nftables.Set{Table: table, Name: "jail_policy_in", KeyType: nftables.TypeIPAddr, IsMap: true, DataType: nftables.TypeVerdict}
	setSchema    = &nftables.Set{Table: table, Name: schemaMark, KeyType: nftables.TypeIPAddr}
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
	if err != nil && !answered(err) {
		nftConn.CloseLasting()
		nftConn = nil
	}
	return err
}

// answered reports whether err is the kernel's answer to a request or to
// a message of a batch (a missing or busy object): every message was then
// acknowledged, and the socket can be used on. Keeping it matters: a
// logout's attempt to delete its policy fails with EBUSY whenever another
// jail still uses the policy, and closing the socket costs an RCU grace
// period (see above).
func answered(err error) bool {
	return errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EEXIST)
}

func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

// ensureFirewall creates the table whole if it is missing, idempotently
// and under a lock so that concurrent first logins create it once. A new
// table holds no policy, so the state dir's record of policies is emptied
// with it.
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
		if err := os.RemoveAll(filepath.Join(stateDir, policiesDir)); err != nil {
			return fmt.Errorf("forget policies of the old nft table: %w", err)
		}
		return nil
	})
}

// Expressions shared by the schema's rules.
var (
	saddrReg1 = &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	isV4      = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
	notV4 = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
	estRel = []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
	// ip daddr . meta l4proto . th dport, in 32-bit registers 8..10
	egressTuple = []expr.Any{
		&expr.Payload{DestRegister: 8, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
	// meta l4proto . th dport, in 32-bit registers 8..9
	hostTuple = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 8},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
	acceptV = []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	dropV   = []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
)

func addRule(c *nftables.Conn, ch *nftables.Chain, exprs ...[]expr.Any) {
	var all []expr.Any
	for _, e := range exprs {
		all = append(all, e...)
	}
	c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: all})
}

func inSet(name string, reg uint32, invert bool) []expr.Any {
	return []expr.Any{&expr.Lookup{SourceRegister: reg, SetName: name, Invert: invert}}
}

func addSchema(c *nftables.Conn) error {
	c.AddTable(table)
	for _, s := range []*nftables.Set{setBridges, setJails, mapPolicyFwd, mapPolicyIn, setJails6, mapPolicyFwd6, mapPolicyIn6} {
		s := *s // AddSet assigns an ID; keep the templates clean
		if err := c.AddSet(&s, nil); err != nil {
			return fmt.Errorf("add nft set %s: %w", s.Name, err)
		}
	}
	if err := addNamesSets(c); err != nil {
		return err
	}
	accept := nftables.ChainPolicyAccept
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})

	inBridge := lookup(&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, setBridges, false)
	outBridge := lookup(&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, setBridges, false)
	notOutBridge := lookup(&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, setBridges, true)
	saddr := []expr.Any{saddrReg1}
	vmap := func(m *nftables.Set) []expr.Any {
		return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: m.Name, DestRegister: 0, IsDestRegSet: true}}
	}

	addRule(c, post, isV4, saddr, inSet(setJails.Name, 1, false), notOutBridge, []expr.Any{&expr.Masq{}})
	addRule(c, post, isV6, saddr6, inSet(setJails6.Name, 1, false), notOutBridge, []expr.Any{&expr.Masq{}})
	addNamesPrerouting(c, inBridge)

	addRule(c, fwd, estRel, acceptV)
	addRule(c, fwd, outBridge, dropV)
	addRule(c, fwd, inBridge, isV6, saddr6, inSet(setJails6.Name, 1, true), dropV)
	// A named jail's DNS goes to its own resolver only, on either family:
	// these come before the dispatch to the policy, whose allow list could
	// name a resolver's address and port.
	addRule(c, fwd, inBridge, namedJail6(), dnsBlocked(), dropV)
	addRule(c, fwd, inBridge, isV6, saddr6, vmap(mapPolicyFwd6))
	addRule(c, fwd, inBridge, notV4, dropV)
	addRule(c, fwd, inBridge, isV4, saddr, inSet(setJails.Name, 1, true), dropV)
	addRule(c, fwd, inBridge, isV4, namedJail(), dnsBlocked(), dropV)
	addRule(c, fwd, inBridge, isV4, saddr, vmap(mapPolicyFwd))
	addRule(c, fwd, inBridge, dropV)

	addRule(c, in, inBridge, estRel, acceptV)
	addRule(c, in, inBridge, isV6, ndp, acceptV)
	addRule(c, in, inBridge, namedJail6(), dnsBlocked(), dropV)
	addRule(c, in, inBridge, isV6, saddr6, vmap(mapPolicyIn6))
	addRule(c, in, inBridge, notV4, dropV)
	addRule(c, in, inBridge, isV4, namedJail(), redirectedQuery(), acceptV)
	addRule(c, in, inBridge, isV4, namedJail(), dnsBlocked(), dropV)
	addRule(c, in, inBridge, isV4, saddr, vmap(mapPolicyIn))
	addRule(c, in, inBridge, dropV)

	mark := *setSchema
	if err := c.AddSet(&mark, nil); err != nil {
		return fmt.Errorf("add nft set %s: %w", mark.Name, err)
	}
	return nil
}

// policyNames are the names of one policy's chains and sets.
type policyNames struct{ fwd, in, deny, allow, host, deny6, allow6 string }

func namesOf(tag string) policyNames {
	p := "pol_" + tag
	return policyNames{fwd: p + "_fwd", in: p + "_in", deny: p + "_deny", allow: p + "_allow", host: p + "_host",
		deny6: p + "_deny6", allow6: p + "_allow6"}
}

// The number of rules addPolicy puts in a policy's chains.
const (
	policyFwdRules = 6 + policy6Rules
	policyInRules  = 2
)

// addPolicy queues the creation of policy p's sets and chains as tag.
func addPolicy(c *nftables.Conn, tag string, p *policy) error {
	n := namesOf(tag)
	for _, s := range []struct {
		name string
		key  nftables.SetDatatype
		els  []element
	}{{n.deny, egressKey, p.deny}, {n.allow, egressKey, p.allow}, {n.host, hostKey, p.hostAllow},
		{n.deny6, hostKey, p.deny6}, {n.allow6, hostKey, p.allow6}} {
		set := &nftables.Set{Table: table, Name: s.name, KeyType: s.key, Interval: true, Concatenation: true}
		if err := c.AddSet(set, toSetElements(s.els)); err != nil {
			return fmt.Errorf("add nft set %s: %w", s.name, err)
		}
	}
	fwd := c.AddChain(&nftables.Chain{Name: n.fwd, Table: table})
	in := c.AddChain(&nftables.Chain{Name: n.in, Table: table})
	ll := prefixInterval(linkLocal)
	llDaddr := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: []byte{255, 255, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint32(ll.lo)},
	}
	// Only IPv4 gets here; the protocol check is for nft, which otherwise
	// lists the address loads as raw payload (@nh,128,32).
	addRule(c, fwd, isV4, egressTuple, inSet(n.deny, 8, false), dropV)
	addRule(c, fwd, isV4, egressTuple, inSet(n.allow, 8, false), acceptV)
	addRule(c, fwd, isV4, llDaddr, dropV)
	addRule(c, fwd, isV4, namedAllowRule(), acceptV)
	addPolicy6Rules(c, fwd, n)
	addRule(c, fwd, namedAllowRule6(), acceptV)
	if p.allowAll {
		addRule(c, fwd, acceptV)
	} else {
		addRule(c, fwd, dropV)
	}
	addRule(c, in, hostTuple, inSet(n.host, 8, false), acceptV)
	addRule(c, in, dropV)
	return nil
}

// delPolicy queues the deletion of policy tag's chains (with their rules)
// and sets. No verdict map element may jump to them any more.
func delPolicy(c *nftables.Conn, tag string) {
	n := namesOf(tag)
	c.DelChain(&nftables.Chain{Name: n.fwd, Table: table})
	c.DelChain(&nftables.Chain{Name: n.in, Table: table})
	for _, name := range []string{n.deny, n.allow, n.host, n.deny6, n.allow6} {
		c.DelSet(&nftables.Set{Table: table, Name: name})
	}
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

// jailElems are a jail's elements in the table's sets and maps; with
// tag == "" only their keys, for deletion.
func jailElems(ip, ip6 netip.Addr, tag string) []struct {
	s  *nftables.Set
	el nftables.SetElement
} {
	a := ip.As4()
	key := a[:]
	n := namesOf(tag)
	out := []struct {
		s  *nftables.Set
		el nftables.SetElement
	}{
		{setJails, nftables.SetElement{Key: key}},
		{mapPolicyFwd, nftables.SetElement{Key: key}},
		{mapPolicyIn, nftables.SetElement{Key: key}},
	}
	if tag != "" {
		out[1].el.VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: n.fwd}
		out[2].el.VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: n.in}
	}
	return append(out, jailElems6(ip6, tag)...)
}

func isNotFound(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist)
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
