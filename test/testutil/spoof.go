package testutil

import (
	"bufio"
	be "encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// SpoofEnv names the frames a test binary re-executed inside a jail (with
// CAP_NET_RAW there) sends through Spoof: "FROM TO:PORT [MAC]", e.g.
// "10.213.0.3 192.0.2.1:9999" sends a UDP datagram to 192.0.2.1:9999
// whose source is 10.213.0.3, and a gratuitous ARP reply that claims
// 10.213.0.3 for the sender; with MAC, the frames' Ethernet source is
// MAC instead of the interface's own.
const SpoofEnv = "LJT_SPOOF"

// Spoof sends, on ifName through an AF_PACKET socket, the frames spec
// (SpoofEnv's syntax) names: the anti-spoofing tests' forger. FROM may be
// IPv4 or IPv6; the frames go to the link's router, whose MAC it takes
// from the neighbour table (so the caller talks to it once first).
func Spoof(ifName, spec string) error {
	f := strings.Fields(spec)
	if len(f) < 2 {
		return fmt.Errorf("spoof %q: want FROM TO:PORT [MAC]", spec)
	}
	from, err := netip.ParseAddr(f[0])
	if err != nil {
		return fmt.Errorf("spoof from: %w", err)
	}
	to, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return fmt.Errorf("spoof to: %w", err)
	}
	ifc, err := net.InterfaceByName(ifName)
	if err != nil {
		return err
	}
	src := ifc.HardwareAddr
	if len(f) > 2 {
		if src, err = net.ParseMAC(f[2]); err != nil {
			return fmt.Errorf("spoof mac: %w", err)
		}
	}
	gw, err := routerMAC(ifName, from.Is6())
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket AF_PACKET (needs CAP_NET_RAW)", err)
	}
	defer unix.Close(fd)
	send := func(frame []byte) error {
		sa := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
		copy(sa.Addr[:], frame[0:6])
		return os.NewSyscallError("sendto", unix.Sendto(fd, frame, 0, sa))
	}
	payload := []byte("loginjail spoof test\n")
	if from.Is4() {
		arp := ether(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src, unix.ETH_P_ARP)
		arp = be.BigEndian.AppendUint16(arp, 1)      // Ethernet
		arp = be.BigEndian.AppendUint16(arp, 0x0800) // IPv4
		arp = append(arp, 6, 4)
		arp = be.BigEndian.AppendUint16(arp, 2) // reply
		arp = append(append(arp, src...), from.AsSlice()...)
		arp = append(append(arp, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), from.AsSlice()...)
		if err := send(arp); err != nil {
			return err
		}
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, unix.IPPROTO_UDP
		be.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
		copy(ip[12:], from.AsSlice())
		copy(ip[16:], to.Addr().AsSlice())
		be.BigEndian.PutUint16(ip[10:], ^sum16(0, ip))
		udp := udpHeader(to.Port(), payload)
		frame := append(append(append(ether(gw, src, unix.ETH_P_IP), ip...), udp...), payload...)
		return send(frame)
	}
	// IPv6: a neighbour advertisement claiming FROM, then the datagram.
	ip6 := func(next byte, body []byte, dst netip.Addr) []byte {
		h := make([]byte, 40)
		h[0], h[6], h[7] = 0x60, next, 255
		be.BigEndian.PutUint16(h[4:], uint16(len(body)))
		copy(h[8:], from.AsSlice())
		copy(h[24:], dst.AsSlice())
		return append(h, body...)
	}
	allNodes := netip.MustParseAddr("ff02::1")
	na := make([]byte, 24)
	na[0], na[4] = 136, 0x20 // override
	copy(na[8:], from.AsSlice())
	na = append(na, 2, 1) // target link-layer address option
	na = append(na, src...)
	be.BigEndian.PutUint16(na[2:], ^pseudo6(from, allNodes, unix.IPPROTO_ICMPV6, na))
	if err := send(append(ether(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, src, unix.ETH_P_IPV6), ip6(unix.IPPROTO_ICMPV6, na, allNodes)...)); err != nil {
		return err
	}
	udp := append(udpHeader(to.Port(), payload), payload...)
	be.BigEndian.PutUint16(udp[6:], ^pseudo6(from, to.Addr(), unix.IPPROTO_UDP, udp))
	return send(append(ether(gw, src, unix.ETH_P_IPV6), ip6(unix.IPPROTO_UDP, udp, to.Addr())...))
}

func ether(dst, src net.HardwareAddr, typ uint16) []byte {
	b := append(append([]byte{}, dst...), src...)
	return be.BigEndian.AppendUint16(b, typ)
}

func udpHeader(port uint16, payload []byte) []byte {
	u := make([]byte, 8)
	be.BigEndian.PutUint16(u[0:], 40000)
	be.BigEndian.PutUint16(u[2:], port)
	be.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	return u
}

// sum16 adds b to the one's complement sum s.
func sum16(s uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(be.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// pseudo6 is the checksum sum over IPv6's pseudo-header and body.
func pseudo6(src, dst netip.Addr, next byte, body []byte) uint16 {
	p := append(append([]byte{}, src.AsSlice()...), dst.AsSlice()...)
	p = be.BigEndian.AppendUint32(p, uint32(len(body)))
	p = append(p, 0, 0, 0, next)
	return sum16(uint32(sum16(0, p)), body)
}

// routerMAC finds the MAC of the one neighbour of ifName a jail has: its
// gateway ("ip neigh" through /proc/net/arp for IPv4; for IPv6 the
// gateway's MAC is the same bridge's, so the IPv4 entry serves too).
func routerMAC(ifName string, _ bool) (net.HardwareAddr, error) {
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		l := strings.Fields(s.Text())
		if len(l) >= 6 && l[5] == ifName && l[2] != "0x0" {
			return net.ParseMAC(l[3])
		}
	}
	return nil, fmt.Errorf("no neighbour on %s in /proc/net/arp: talk to the gateway first", ifName)
}
