package netpolicy

import (
	"net"
	"os/exec"
	"testing"

	"github.com/vishvananda/netlink"
)

// testGuard runs inside TestNATInner's host netns with jails one and two
// attached (IPv4) and two more with IPv6: it flushes the whole ruleset,
// with no keeper running, so the firewall stays gone, and checks that no
// jail reaches the host's addresses (the gateway's and 192.0.2.2, but for
// host_allow's 7001) or another jail, over IPv4 and IPv6, while the host
// still reaches a jail and a jail still reaches upstream. Then the same
// probes without the guard of jails one and six must get through: that is
// what the guard holds shut.
func testGuard(t *testing.T, stateDir string, spec func(string) Spec, attach func(*testing.T, Spec, *jail) *Attachment, j1, j2 *jail, a1, a2 *Attachment) {
	with6 := func(id string) Spec {
		s := spec(id)
		s.Subnet6 = testSubnet6
		return s
	}
	j6, j7 := newJail(t), newJail(t)
	a6 := attach(t, with6("six"), j6)
	a7 := attach(t, with6("seven"), j7)
	for _, id := range []string{"one", "two", "six", "seven"} {
		if present, ok, err := GuardPresent(id); !present || !ok || err != nil {
			t.Fatalf("guard of %s: present=%v ok=%v %v", id, present, ok, err)
		}
	}
	for _, j := range []*jail{j2, j7} {
		if _, _, _, ready := startHelper(t, j.nsenter(), "LJT_ROLE=serve", "LJT_LISTEN=0.0.0.0:8080,[::]:8080"); ready != "READY" {
			t.Fatal(ready)
		}
	}
	for _, p := range []string{"7000", "7001"} {
		l, err := net.Listen("tcp6", "[::]:"+p)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go serveRemoteAddr(l)
	}
	gw, gw6 := a1.Gateway.String()+":", "["+a6.Gateway6.String()+"]:"
	shut := []struct {
		j    *jail
		addr string
	}{
		{j1, gw + "7000"},
		{j1, "192.0.2.2:7000"},
		{j1, a2.IP.String() + ":8080"},
		{j6, gw6 + "7000"},
		{j6, "[2001:db8::2]:7000"},
		{j6, "[" + a7.IP6.String() + "]:8080"},
		{j6, a7.IP.String() + ":8080"},
	}

	// Jails on one subnet are on one link, where bridge port isolation
	// keeps them apart; two jails whose roots route to each other via
	// the gateway would have the host forward between them.
	for _, r := range []struct {
		j     *jail
		route []string
	}{
		{j1, []string{a2.IP.String() + "/32", "via", a1.Gateway.String()}},
		{j6, []string{a7.IP.String() + "/32", "via", a6.Gateway.String()}},
		{j6, []string{"-6", a7.IP6.String() + "/128", "via", a6.Gateway6.String()}},
		{j2, []string{a1.IP.String() + "/32", "via", a1.Gateway.String()}},
		{j7, []string{a6.IP.String() + "/32", "via", a6.Gateway.String()}},
		{j7, []string{"-6", a6.IP6.String() + "/128", "via", a6.Gateway6.String()}},
	} {
		args := append(r.j.nsenter(), "ip")
		fam, dst := []string{}, r.route
		if dst[0] == "-6" {
			fam, dst = dst[:1], dst[1:]
		}
		args = append(append(append(args, fam...), "route", "add"), dst...)
		run(t, args[0], args[1:]...)
		defer exec.Command(args[0], append(append(append(append(r.j.nsenter()[1:], "ip"), fam...), "route", "del"), dst[0])...).Run()
	}

	run(t, "nft", "flush", "ruleset")
	for _, p := range shut {
		expectReach(t, p.j, p.addr, false)
	}
	expectReach(t, j1, gw+"7001", true)
	expectReach(t, j6, gw6+"7001", true)
	expectReach(t, j1, "192.0.2.1:8080", true) // forwarded (not masqueraded now)
	if err := hostDial(a2.IP.String() + ":8080"); err != nil {
		t.Errorf("host to jail two with the guard on: %v", err)
	}
	if err := hostDial6("[" + a7.IP6.String() + "]:8080"); err != nil {
		t.Errorf("host to jail seven over IPv6 with the guard on: %v", err)
	}

	// Without the guards (both ends: the egress guard of the jail
	// reached holds too), the window is open: the test can fail.
	for _, a := range []*Attachment{a1, a2, a6, a7} {
		defer removeGuard(t, a)()
	}
	if present, ok, err := GuardPresent("one"); present || !ok || err != nil {
		t.Errorf("guard of one after its removal: present=%v ok=%v %v", present, ok, err)
	}
	for _, p := range shut {
		expectReach(t, p.j, p.addr, true)
	}

	live := []Live{{spec("one"), a1.IP}, {spec("two"), a2.IP}, {with6("six"), a6.IP}, {with6("seven"), a7.IP}}
	if _, err := Restore(stateDir, live); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}

// removeGuard takes the guard off a's veth and returns what puts it back.
func removeGuard(t *testing.T, a *Attachment) (putBack func()) {
	t.Helper()
	l, err := netlink.LinkByName(a.HostVeth)
	if err != nil {
		t.Fatal(err)
	}
	q := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if err := netlink.QdiscDel(q); err != nil {
		t.Fatalf("remove the guard of %s: %v", a.HostVeth, err)
	}
	return func() {
		br, err := netlink.LinkByName(a.spec.Bridge)
		if err != nil {
			t.Fatal(err)
		}
		if err := attachGuard(l, br, a); err != nil {
			t.Errorf("put the guard of %s back: %v", a.HostVeth, err)
		}
	}
}
