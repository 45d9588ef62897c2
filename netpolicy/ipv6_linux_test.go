package netpolicy

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// tcpFor is "tcp6" for a bracketed IPv6 host:port, else "tcp4".
func tcpFor(addr string) string {
	if strings.HasPrefix(addr, "[") {
		return "tcp6"
	}
	return "tcp4"
}

var testSubnet6 = netip.MustParsePrefix("fd42:213::/64")

// testIPv6 runs inside TestNATInner's host netns (2001:db8::2, upstream
// 2001:db8::1 with listeners on 8080, 8443 and 9000): a jail with subnet6
// reaches upstream masqueraded, reaches neither the host (but for
// host_allow) nor another jail over IPv6, its allow and deny lists apply
// to IPv6 too; a jail without subnet6 (j4only) has no IPv6 at all.
func testIPv6(t *testing.T, spec func(string) Spec, attach func(*testing.T, Spec, *jail) *Attachment, j4only *jail) {
	with6 := func(id string) Spec {
		s := spec(id)
		s.Subnet6 = testSubnet6
		return s
	}
	j6, j7 := newJail(t), newJail(t)
	a6 := attach(t, with6("six"), j6)
	a7 := attach(t, with6("seven"), j7)
	if !a6.IP6.IsValid() || !testSubnet6.Contains(a6.IP6) || a6.IP6 == a7.IP6 {
		t.Fatalf("IPv6 addresses %v, %v: want two distinct ones from %v", a6.IP6, a7.IP6, testSubnet6)
	}
	t.Logf("jail six %v / %v, gateway %v", a6.IP, a6.IP6, a6.Gateway6)
	up := "[2001:db8::1]:"
	if got := expectReach(t, j6, up+"8080", true); !strings.HasPrefix(got, "OK [2001:db8::2]:") {
		t.Errorf("upstream saw %q, want the host's 2001:db8::2 (masquerade)", got)
	}
	expectReach(t, j4only, up+"8080", false)

	// The host over IPv6: 7000 closed, 7001 (host_allow) open.
	for _, p := range []string{"7000", "7001"} {
		l, err := net.Listen("tcp6", "[::]:"+p)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go serveRemoteAddr(l)
	}
	gw := "[" + a6.Gateway6.String() + "]:"
	expectReach(t, j6, gw+"7000", false)
	expectReach(t, j6, gw+"7001", true)
	expectReach(t, j6, "[2001:db8::2]:7000", false)

	// Jail to jail over IPv6.
	_, _, _, ready := startHelper(t, j7.nsenter(), "LJT_ROLE=serve", "LJT_LISTEN=[::]:8080")
	if ready != "READY" {
		t.Fatal(ready)
	}
	if err := hostDial6("[" + a7.IP6.String() + "]:8080"); err != nil {
		t.Fatalf("control: host cannot reach jail seven over IPv6: %v", err)
	}
	expectReach(t, j6, "["+a7.IP6.String()+"]:8080", false)

	// allow and deny: address-free entries apply to IPv6 too.
	s8 := with6("eight")
	s8.Allow = []Rule{{Proto: "tcp", PortLo: 8080, PortHi: 8443}, {Net: netip.MustParsePrefix("192.0.2.1/32"), Proto: "tcp", PortLo: 9000, PortHi: 9000}}
	s8.Deny = []Rule{{Proto: "tcp", PortLo: 8443, PortHi: 8443}}
	j8 := newJail(t)
	attach(t, s8, j8)
	expectReach(t, j8, up+"8080", true)
	expectReach(t, j8, up+"8443", false) // denied
	expectReach(t, j8, up+"9000", false) // allowed for an IPv4 network only
	expectReach(t, j8, "192.0.2.1:9000", true)
}

func hostDial6(addr string) error {
	c, err := net.Dial("tcp6", addr)
	if err == nil {
		c.Close()
	}
	return err
}
