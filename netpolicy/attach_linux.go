package netpolicy

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// jailIfName is the peer's name inside the jail.
const jailIfName = "eth0"

// Attach gives the jail whose init has host pid pid its NAT network. It
// runs as root in the host's network namespace, before the jail runs
// anything. Steps, in order (each is undone if a later one fails):
//
//  1. the firewall table (once per host), IPv4 forwarding, the bridge with
//     the gateway address; a subnet overlapping a host route is refused
//     before the bridge gets its address;
//  2. an address leased from the pool;
//  3. the veth pair, its peer born as eth0 inside the jail's netns (moving a
//     link between namespaces afterwards costs an RCU wait), the host end
//     created enslaved to the bridge and up, then isolated on the bridge,
//     then guarded by its tc programs (guard_prog.go);
//  4. inside the jail, through a netlink handle bound to its netns (no
//     thread switches): address, up, default route via the gateway;
//  5. if the policy names hosts, the jail's own resolver on the gateway
//     (names_linux.go);
//  6. the session's firewall elements, in one nftables transaction: its
//     address in @jails and, as jumps to its policy's chains, in the
//     verdict maps (and its resolver's redirect); the policy's chains and
//     sets are made with its first jail (see nft_linux.go).
func Attach(spec Spec, pid int) (_ *Attachment, retErr error) {
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	var undo []func() error
	defer func() {
		if retErr != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				if err := undo[i](); err != nil {
					retErr = errors.Join(retErr, fmt.Errorf("undo: %w", err))
				}
			}
		}
	}()

	if err := ensureFirewall(spec.StateDir); err != nil {
		return nil, err
	}
	if err := ensureAntispoof(spec.StateDir); err != nil {
		return nil, err
	}
	if err := ensureForwarding(); err != nil {
		return nil, err
	}
	br, err := ensureBridge(spec.Bridge, spec.Subnet)
	if err != nil {
		return nil, err
	}
	if spec.Subnet6.IsValid() {
		if err := ensureForwarding6(); err != nil {
			return nil, err
		}
		if err := ensureBridge6(br, spec.Subnet6); err != nil {
			return nil, err
		}
	}

	ip, err := leaseIP(spec.StateDir, spec.Subnet, spec.SessionID)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() error { return releaseLease(spec.StateDir, spec.SessionID) })

	nsFd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open netns of pid %d: %w", pid, &os.PathError{Op: "open", Path: fmt.Sprintf("/proc/%d/ns/net", pid), Err: err})
	}
	defer unix.Close(nsFd)

	a := &Attachment{
		IP:       ip,
		Gateway:  gatewayOf(spec.Subnet),
		Prefix:   spec.Subnet.Bits(),
		HostVeth: hostVethName(spec.SessionID),
		IP6:      jailIP6(&spec, ip),
		spec:     spec,
	}
	if a.IP6.IsValid() {
		a.Gateway6 = gatewayOf6(spec.Subnet6)
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name:        a.HostVeth,
			MasterIndex: br.Attrs().Index,
			Flags:       net.FlagUp,
		},
		PeerName:      jailIfName,
		PeerNamespace: netlink.NsFd(nsFd),
		// Fixed, for the anti-spoofing elements (antispoof_linux.go).
		PeerHardwareAddr: jailMAC(spec.SessionID),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s: %w", a.HostVeth, err)
	}
	undo = append(undo, func() error { return delLink(a.HostVeth) })
	// Jail to jail is blocked at layer 2 by port isolation (isolated ports
	// only talk to non-isolated ones: the bridge itself), and at layer 3 by
	// the forward chain.
	if err := netlink.LinkSetIsolated(veth, true); err != nil {
		return nil, fmt.Errorf("isolate bridge port %s: %w", a.HostVeth, err)
	}
	// Isolation no nftables flush can remove (guard_prog.go), on the
	// host end while the jail's end is still down.
	if err := attachGuard(veth, br, a); err != nil {
		return nil, err
	}

	if err := configureInJail(nsFd, a); err != nil {
		return nil, err
	}

	// The port may send only from the jail's own addresses, before the
	// jail runs anything.
	port := portElemsOf(&spec, ip, a.IP6)
	if err := addPort(port); err != nil {
		return nil, err
	}
	undo = append(undo, func() error { return delPort(port) })

	a.elems = buildElems(ip, &spec)
	if spec.HasNames() {
		if a.names, err = startNameResolver(&spec, ip, a.Gateway); err != nil {
			return nil, err
		}
		undo = append(undo, a.names.stop)
		a.names.jail6 = a.IP6 // AAAA answers open @named_allow6 for it
		a.elems.dnsPort, a.elems.gateway = a.names.srv.Port(), a.Gateway
	}
	if err := attachFirewall(spec.StateDir, spec.Bridge, &a.elems); err != nil {
		return nil, err
	}
	return a, nil
}

// configureInJail sets up eth0 inside the jail's netns through a netlink
// socket opened in it; the calling thread never changes namespace.
func configureInJail(nsFd int, a *Attachment) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(nsFd), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink in jail netns: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(jailIfName)
	if err != nil {
		return fmt.Errorf("find %s in jail: %w", jailIfName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.IP.AsSlice(), Mask: net.CIDRMask(a.Prefix, 32)}}
	if err := h.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add address %v/%d in jail: %w", a.IP, a.Prefix, err)
	}
	// No IPv6 link-local address: anti-spoofing lets a port send IPv6
	// only from the jail's leased address, NDP included.
	if err := h.LinkSetIP6AddrGenMode(link, addrGenModeNone); err != nil && !errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("turn off IPv6 link-local on %s in jail: %w", jailIfName, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up in jail: %w", jailIfName, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: a.Gateway.AsSlice(), Family: netlink.FAMILY_V4}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %v in jail: %w", a.Gateway, err)
	}
	if a.IP6.IsValid() {
		return configureInJail6(h, link, a, a.spec.Subnet6.Bits())
	}
	return nil
}

// ensureForwarding turns on IPv4 forwarding in the host's netns.
func ensureForwarding() error {
	return enableSysctl("/proc/sys/net/ipv4/ip_forward", "ip_forward",
		"netpolicy: enabled IPv4 forwarding (net.ipv4.ip_forward=1) for nat jails")
}

// enableSysctl sets the boolean sysctl at path to 1 if it is not, and
// then logs done; name is how errors call it.
func enableSysctl(path, name, done string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable %s: %w", name, err)
	}
	slog.Info(done)
	return nil
}

// ensureBridge makes the bridge exist, hold the gateway address and be up.
// It refuses a subnet that overlaps any host route or address not on the
// bridge itself.
func ensureBridge(name string, subnet netip.Prefix) (netlink.Link, error) {
	br, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("find bridge %s: %w", name, err)
		}
		br = nil
	}
	if br != nil && br.Type() != "bridge" {
		return nil, fmt.Errorf("bridge %s: exists as a %s link", name, br.Type())
	}
	brIndex := 0
	if br != nil {
		brIndex = br.Attrs().Index
	}
	if err := checkOverlap(subnet, brIndex); err != nil {
		return nil, err
	}
	if br == nil {
		// A fixed MAC: otherwise the bridge takes its lowest port's and
		// the jails' ARP entries for the gateway go stale as ports come
		// and go.
		mac := make(net.HardwareAddr, 6)
		if _, err := rand.Read(mac); err != nil {
			return nil, fmt.Errorf("bridge mac: %w", err)
		}
		mac[0] = (mac[0] | 0x02) &^ 0x01
		err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac}})
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if br, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("find bridge %s: %w", name, err)
		}
	}
	gw := gatewayOf(subnet)
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", name, err)
	}
	have := false
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if a.IP.Equal(gw.AsSlice()) && ones == subnet.Bits() {
			have = true
		}
	}
	if !have {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
		if err := netlink.AddrAdd(br, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("add gateway %v to %s: %w", gw, name, err)
		}
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(br); err != nil {
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	return br, nil
}

// checkOverlap fails if subnet overlaps a route of the host's main table
// or an address of the host, other than the default route and what sits
// on our own bridge (index brIndex, 0 if none yet).
func checkOverlap(subnet netip.Prefix, brIndex int) error {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || (brIndex != 0 && r.LinkIndex == brIndex) {
			continue
		}
		p, ok := ipNetPrefix(r.Dst)
		if !ok || p.Bits() == 0 {
			continue
		}
		if p.Overlaps(subnet) {
			return fmt.Errorf("subnet %v overlaps host route %v (dev index %d): choose another [jail.network] subnet", subnet, p, r.LinkIndex)
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if brIndex != 0 && a.LinkIndex == brIndex {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && subnet.Contains(ip) {
			return fmt.Errorf("subnet %v holds host address %v (dev index %d): choose another [jail.network] subnet", subnet, ip, a.LinkIndex)
		}
	}
	return nil
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip, ones), true
}

func delLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

var releaseMu sync.Mutex

// Release undoes Attach: the veth pair, the firewall elements (and the
// policy's chains and sets if this was its last jail), the lease. It
// runs every step, returns their errors joined, and may be called again.
// The lease is freed only when the veth and elements are gone, so that a
// failure leaves the address held for gc to retry, never handed out twice.
func (a *Attachment) Release() error {
	releaseMu.Lock()
	defer releaseMu.Unlock()
	// Before the elements go: a restore must not add them back.
	if err := markLeaving(a.spec.StateDir, a.spec.SessionID); err != nil {
		return err
	}
	// Deleting a link and deleting set elements each wait for an RCU grace
	// period in the kernel (~10-15 ms here): run them side by side.
	linkErr := make(chan error, 1)
	go func() { linkErr <- delLink(a.HostVeth) }()
	var errs []error
	if a.names != nil {
		// First, so that it opens nothing more; it closes what it opened.
		if err := a.names.stop(); err != nil {
			errs = append(errs, err)
		}
		a.names = nil
	}
	// Only while the lease is still ours may elements be removed by
	// address: once freed, the address may belong to another session.
	ip, leased := LeasedIP(a.spec.StateDir, a.spec.SessionID)
	leased = leased && ip == a.IP
	if leased {
		if err := detachFirewall(a.spec.StateDir, &a.elems); err != nil {
			errs = append(errs, err)
		}
		if err := delPort(portElemsOf(&a.spec, a.IP, a.IP6)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := <-linkErr; err != nil {
		errs = append(errs, err)
	}
	if leased {
		if err := flushConntrack(a.IP); err != nil {
			errs = append(errs, err)
		}
		// The address is freed last, and only when all else is gone, so
		// that a failed step can be retried by gc (Reclaim).
		if len(errs) == 0 {
			if err := releaseLease(a.spec.StateDir, a.spec.SessionID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		if err := unmarkLeaving(a.spec.StateDir, a.spec.SessionID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reclaim undoes Attach for spec.SessionID without its Attachment, for gc
// after the process that held it died. Like Release it runs every step and
// may be called again.
func Reclaim(spec Spec) error {
	if !sessionIDRE().MatchString(spec.SessionID) {
		return fmt.Errorf("reclaim: session id %q: want [a-z0-9]{1,32}", spec.SessionID)
	}
	if err := markLeaving(spec.StateDir, spec.SessionID); err != nil {
		return err
	}
	var errs []error
	if err := delLink(hostVethName(spec.SessionID)); err != nil {
		errs = append(errs, err)
	}
	if ip, ok := LeasedIP(spec.StateDir, spec.SessionID); ok {
		if err := reclaimFirewall(spec.StateDir, ip, jailIP6(&spec, ip)); err != nil {
			errs = append(errs, err)
		}
		if err := delPort(portElemsOf(&spec, ip, jailIP6(&spec, ip))); err != nil {
			errs = append(errs, err)
		}
		if err := flushConntrack(ip); err != nil {
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			if err := releaseLease(spec.StateDir, spec.SessionID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		if err := unmarkLeaving(spec.StateDir, spec.SessionID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flushConntrack forgets the connections a jail's address made: the
// forward chain accepts established flows before it looks at the deny
// list, so a later jail leasing the same address could otherwise ride a
// flow (a UDP one lives 120 s) its own policy denies.
func flushConntrack(ip netip.Addr) error {
	f := &netlink.ConntrackFilter{}
	if err := f.AddIP(netlink.ConntrackOrigSrcIP, net.IP(ip.AsSlice())); err != nil {
		return fmt.Errorf("conntrack filter for %v: %w", ip, err)
	}
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f); err != nil {
		return fmt.Errorf("flush conntrack of %v: %w", ip, err)
	}
	return nil
}
