package doctor

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// natJails are the jails with network mode nat, grouped by bridge and
// subnet.
type natNet struct {
	bridge, subnet string
	uses           []*jailUse
}

func (n *natNet) live() bool {
	for _, u := range n.uses {
		if u.live() {
			return true
		}
	}
	return false
}

func (n *natNet) names() string {
	var s []string
	for _, u := range n.uses {
		s = append(s, u.name)
	}
	return strings.Join(s, ", ")
}

func natNets(s *scope) []*natNet {
	var out []*natNet
	for _, u := range s.jails {
		if u.jail.Network.Mode != "nat" {
			continue
		}
		var n *natNet
		for _, e := range out {
			if e.bridge == u.jail.Network.Bridge && e.subnet == u.jail.Network.Subnet {
				n = e
			}
		}
		if n == nil {
			n = &natNet{bridge: u.jail.Network.Bridge, subnet: u.jail.Network.Subnet}
			out = append(out, n)
		}
		n.uses = append(n.uses, u)
	}
	return out
}

func checkNetwork(h Host, s *scope) []Result {
	nets := natNets(s)
	if len(nets) == 0 {
		return []Result{{"nat", OK, "no policy uses network mode nat: nftables and forwarding not needed", ""}}
	}
	sev, live := Warn, false
	for _, n := range nets {
		if n.live() {
			sev, live = Fail, true
		}
	}
	var out []Result
	idle := ""
	if !live {
		idle = " (no account gets a nat jail yet)"
	}
	// nftables: loginjail talks to nf_tables over netlink; no nft binary needed.
	switch ok, how := nftablesPresent(h); {
	case ok:
		out = append(out, Result{"nftables", OK, how, ""})
	case how == "":
		out = append(out, Result{"nftables", Warn, "cannot tell whether the kernel has nf_tables (no /proc/config.gz, /boot/config, or module lists)" + idle,
			"modprobe nf_tables; `nft list tables` must work"})
	default:
		out = append(out, Result{"nftables", sev, how + idle, "modprobe nf_tables (and add it to /etc/modules-load.d/), or boot a kernel with CONFIG_NF_TABLES"})
	}
	switch v, err := h.readTrim("/proc/sys/net/ipv4/ip_forward"); {
	case err != nil:
		out = append(out, Result{"ip_forward", Warn, "cannot read /proc/sys/net/ipv4/ip_forward: " + err.Error(), ""})
	case v == "1":
		out = append(out, Result{"ip_forward", OK, "net.ipv4.ip_forward = 1", ""})
	default:
		out = append(out, Result{"ip_forward", Warn, "net.ipv4.ip_forward = 0: loginjail turns it on when the first nat jail starts, which routes between all of the host's interfaces",
			"echo net.ipv4.ip_forward=1 > /etc/sysctl.d/60-loginjail.conf && sysctl --system, after checking the host's firewall forwards nothing else"})
	}
	routes := readRoutes(h)
	for _, n := range nets {
		name := "nat subnet " + n.subnet
		pfx, err := netip.ParsePrefix(n.subnet)
		if err != nil {
			out = append(out, Result{name, Fail, err.Error(), "fix [jail.network] subnet"})
			continue
		}
		pfx = pfx.Masked()
		var clash []string
		for _, r := range routes {
			if r.iface == n.bridge || r.dst.Bits() == 0 {
				continue // our own bridge, or the default route
			}
			if r.dst.Overlaps(pfx) {
				clash = append(clash, fmt.Sprintf("%s via %s", r.dst, r.iface))
			}
		}
		sev := Warn
		if n.live() {
			sev = Fail
		}
		if len(clash) > 0 {
			out = append(out, Result{name, sev, fmt.Sprintf("overlaps host routes %s (used by %s); loginjail refuses to set up the bridge %s",
				strings.Join(clash, ", "), n.names(), n.bridge), "pick a free [jail.network] subnet, e.g. one of 10.213.0.0/16, 172.31.213.0/24, 100.96.0.0/16"})
			continue
		}
		out = append(out, Result{name, OK, fmt.Sprintf("bridge %s, no host route overlaps (%s)", n.bridge, n.names()), ""})
	}
	return out
}

// nftablesPresent looks for nf_tables as a loaded module, a built-in, or a
// module that can be loaded; how says what was found ("" when nothing
// could be read to tell).
func nftablesPresent(h Host) (bool, string) {
	if h.exists("/sys/module/nf_tables") {
		return true, "nf_tables module loaded"
	}
	if s, err := h.read("/proc/modules"); err == nil && hasLinePrefix(s, "nf_tables ") {
		return true, "nf_tables module loaded"
	}
	if cfg := kernelConfig(h); cfg != nil {
		switch cfg["CONFIG_NF_TABLES"] {
		case "y":
			return true, "nf_tables built into the kernel"
		case "m":
			return true, "nf_tables available as a module (loaded on first use)"
		default:
			return false, "the kernel is built without nf_tables (CONFIG_NF_TABLES)"
		}
	}
	rel, _ := h.readTrim("/proc/sys/kernel/osrelease")
	if rel == "" {
		return false, ""
	}
	if s, err := h.read("/lib/modules/" + rel + "/modules.builtin"); err == nil && strings.Contains(s, "/nf_tables.ko") {
		return true, "nf_tables built into the kernel"
	}
	if s, err := h.read("/lib/modules/" + rel + "/modules.dep"); err == nil {
		if strings.Contains(s, "/nf_tables.ko") {
			return true, "nf_tables available as a module (loaded on first use)"
		}
		return false, "nf_tables is neither loaded, built in, nor in modules.dep"
	}
	return false, ""
}

func hasLinePrefix(s, prefix string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// route is a line of /proc/net/route.
type route struct {
	iface string
	dst   netip.Prefix
}

// readRoutes parses /proc/net/route (IPv4 main table; addresses are
// hex in host byte order, little-endian on the machines we run on).
func readRoutes(h Host) []route {
	s, _ := h.read("/proc/net/route")
	var out []route
	for i, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		dst, ok1 := hexAddr(f[1])
		mask, ok2 := hexAddr(f[7])
		if !ok1 || !ok2 {
			continue
		}
		bits := 0
		for _, b := range mask.As4() {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
		out = append(out, route{iface: f[0], dst: netip.PrefixFrom(dst, bits).Masked()})
	}
	return out
}

func hexAddr(s string) (netip.Addr, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, false
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
	return netip.AddrFrom4(a), true
}
