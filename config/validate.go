package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// complaint reports a problem with key (dotted, relative to the table being
// checked, e.g. "network.subnet"); elem is the 1-based element of a list,
// or 0 for the key as a whole.
type complaint func(key string, elem int, msg string)

// validateServer checks the [server] table.
func validateServer(s *Server, bad complaint) {
	if err := CheckListen(s.Listen); err != nil {
		bad("listen", 0, err.Error())
	}
	for i, k := range s.HostKeys {
		if err := checkAbsPath(k); err != nil {
			bad("host_keys", i+1, err.Error())
		}
	}
	for _, d := range []struct{ key, val string }{{"state_dir", s.StateDir}, {"lib_dir", s.LibDir}, {"record_dir", s.RecordDir}} {
		if err := checkAbsPath(d.val); err != nil {
			bad(d.key, 0, err.Error())
		}
	}
	if s.PAMService == "" || s.PAMService == "." || s.PAMService == ".." ||
		strings.ContainsAny(s.PAMService, "/ \t\n\x00") {
		bad("pam_service", 0, fmt.Sprintf("%q is not a PAM service name (a file name in /etc/pam.d)", s.PAMService))
	}
	checkRange(bad, "max_auth_tries", s.MaxAuthTries, 1, 100)
	checkRange(bad, "max_sessions", s.MaxSessions, 1, 1000)
	if _, _, _, err := ParseMaxStartups(s.MaxStartups); err != nil {
		bad("max_startups", 0, err.Error())
	}
	checkRange(bad, "client_alive_count_max", s.ClientAliveCountMax, 0, 1000)
	for i, p := range s.AcceptEnv {
		if p == "" || strings.ContainsAny(p, "=\x00") {
			bad("accept_env", i+1, fmt.Sprintf("%q is not a variable name pattern", p))
		} else if _, err := path.Match(p, ""); err != nil {
			bad("accept_env", i+1, fmt.Sprintf("%q is not a valid glob pattern", p))
		}
	}
	if err := checkAuthorizedKeysFile(s.AuthorizedKeysFile); err != nil {
		bad("authorized_keys_file", 0, err.Error())
	}
	if s.Banner != "" {
		if err := checkAbsPath(s.Banner); err != nil {
			bad("banner", 0, err.Error())
		}
	}
	if s.MetricsListen != "" {
		if err := CheckListen(s.MetricsListen); err != nil {
			bad("metrics_listen", 0, err.Error())
		}
	}
	for i, a := range s.ProxyProtocolFrom {
		if err := checkProxyFrom(a); err != nil {
			bad("proxy_protocol_from", i+1, err.Error())
		}
	}
	validateAccess(s, bad)
}

// CheckListen checks a listen address as [server] listen takes it, for
// `check-config --listen` (the unit's sshd options).
func CheckListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// validateJail checks a [jail] table (or a policy's merged jail).
func validateJail(j *Jail, bad complaint) {
	checkEnum(bad, "user_mode", j.UserMode, "self", "root")
	if j.Rootfs != "host" {
		if err := checkAbsPath(j.Rootfs); err != nil {
			bad("rootfs", 0, fmt.Sprintf("must be \"host\" or an absolute directory: %v", err))
		}
	}
	if err := checkHostnameTemplate(j.Hostname); err != nil {
		bad("hostname", 0, err.Error())
	}
	if j.Shell != "" {
		if err := checkAbsPath(j.Shell); err != nil {
			bad("shell", 0, err.Error())
		}
	}
	if j.Path == "" {
		bad("path", 0, "must not be empty")
	} else {
		for _, dir := range strings.Split(j.Path, ":") {
			if err := checkAbsPath(dir); err != nil {
				bad("path", 0, fmt.Sprintf("%q: %v", j.Path, err))
				break
			}
		}
	}
	if strings.Trim(j.Lang, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") != "" {
		bad("lang", 0, fmt.Sprintf("%q is not a locale name", j.Lang))
	}
	if j.TmpSize < 1<<20 {
		bad("tmp_size", 0, fmt.Sprintf("%s is less than the minimum 1M", j.TmpSize))
	}
	for i, h := range j.Hide {
		if err := checkAbsPath(h); err != nil {
			bad("hide", i+1, err.Error())
		} else if h == "/" {
			bad("hide", i+1, `"/" cannot be hidden`)
		}
	}
	checkEnum(bad, "share", j.Share, "none", "user")
	for _, list := range []struct {
		key   string
		names []string
	}{{"caps_add", j.CapsAdd}, {"caps_drop", j.CapsDrop}} {
		for i, c := range list.names {
			if !IsCapability(c) && !strings.EqualFold(c, "ALL") {
				bad(list.key, i+1, fmt.Sprintf("%q is not a capability (CAP_NET_ADMIN, net_admin or ALL)", c))
			}
		}
	}
	checkEnum(bad, "seccomp", j.Seccomp, "default", "off")
	for i, n := range j.SeccompDeny {
		if n == "" || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			bad("seccomp_deny", i+1, fmt.Sprintf("%q is not a syscall name", n))
		}
	}
	checkEnum(bad, "record", j.Record, "none", "pty", "all")
	for _, d := range []struct {
		key string
		v   Duration
	}{{"idle_timeout", j.IdleTimeout}, {"max_session_time", j.MaxSessionTime}, {"timeout_warning", j.TimeoutWarning}} {
		if d.v.Duration < 0 {
			bad(d.key, 0, fmt.Sprintf("%s is negative", d.v))
		}
	}
	validateNetwork(&j.Network, bad)
	validateLimits(&j.Limits, bad)
}

// validateNetwork checks the network table of a jail.
func validateNetwork(n *Network, bad complaint) {
	checkEnum(bad, "network.mode", n.Mode, "none", "nat")
	if err := checkIfname(n.Bridge); err != nil {
		bad("network.bridge", 0, err.Error())
	}
	if p, err := netip.ParsePrefix(n.Subnet); err != nil || !p.Addr().Is4() {
		bad("network.subnet", 0, fmt.Sprintf("%q is not a valid IPv4 CIDR", n.Subnet))
	} else if p.Bits() < 8 || p.Bits() > 30 {
		bad("network.subnet", 0, fmt.Sprintf("%q: the prefix length must be from 8 to 30", n.Subnet))
	} else if p.Masked() != p {
		bad("network.subnet", 0, fmt.Sprintf("%q has host bits set (use %q)", n.Subnet, p.Masked()))
	}
	if n.Subnet6 != "" {
		if msg := checkSubnet6(n.Subnet6); msg != "" {
			bad("network.subnet6", 0, msg)
		}
	}
	for i, a := range n.DNS {
		if _, err := netip.ParseAddr(a); err != nil {
			bad("network.dns", i+1, fmt.Sprintf("%q is not an IP address", a))
		}
	}
	for _, list := range []struct {
		key   string
		rules []string
	}{{"network.allow", n.Allow}, {"network.deny", n.Deny}} {
		for i, r := range list.rules {
			if _, err := ParseRules(r); err != nil {
				bad(list.key, i+1, err.Error())
			}
		}
	}
	for i, r := range n.HostAllow {
		if _, err := ParseHostRule(r); err != nil {
			bad("network.host_allow", i+1, err.Error())
		}
	}
}

// validateLimits checks the limits table of a jail.
func validateLimits(l *Limits, bad complaint) {
	if l.Memory != 0 && l.Memory < 1<<20 {
		bad("limits.memory", 0, fmt.Sprintf("%s is less than the minimum 1M (0 = unlimited)", l.Memory))
	}
	if l.Swap < 0 {
		bad("limits.swap", 0, "must not be negative")
	}
	checkRange(bad, "limits.pids", l.Pids, 0, math.MaxInt32)
	if math.IsNaN(l.CPU) || l.CPU < 0 || l.CPU > 1024 {
		bad("limits.cpu", 0, fmt.Sprintf("%v is not a number of cores from 0 to 1024", l.CPU))
	}
	if l.IOWeight != 0 {
		checkRange(bad, "limits.io_weight", l.IOWeight, 1, 10000)
	}
	checkRange(bad, "limits.nofile", l.Nofile, 0, 1<<30)
	checkRange(bad, "limits.nproc", l.Nproc, 0, math.MaxInt32)
}

// validatePolicy checks the match lists of a [[policy]].
func validatePolicy(p *Policy, bad complaint) {
	for _, list := range []struct {
		key      string
		patterns []string
	}{{"match_users", p.MatchUsers}, {"match_groups", p.MatchGroups}} {
		for i, pat := range list.patterns {
			pat = strings.TrimPrefix(pat, "!")
			if pat == "" {
				bad(list.key, i+1, "empty pattern")
			} else if _, err := path.Match(pat, ""); err != nil {
				bad(list.key, i+1, fmt.Sprintf("%q is not a valid glob pattern", list.patterns[i]))
			}
		}
	}
	for i, a := range p.MatchAddresses {
		if _, err := parseAddrPattern(strings.TrimPrefix(a, "!")); err != nil {
			bad("match_addresses", i+1, err.Error())
		}
	}
}

// parseAddrPattern parses a CIDR or a single IP address (as a full-length
// prefix) of match_addresses.
func parseAddrPattern(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	return p.Masked(), nil
}

// checkAbsPath checks that p is an absolute, clean path.
func checkAbsPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case !filepath.IsAbs(p):
		return fmt.Errorf("%q is not an absolute path", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%q contains a NUL byte", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("%q is not a clean path (use %q)", p, filepath.Clean(p))
	}
	return nil
}

// checkIfname checks a Linux network interface name.
func checkIfname(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\r\v\f\x00") {
		return fmt.Errorf("%q is not a network interface name (1 to 15 characters, no '/', ':' or spaces)", s)
	}
	return nil
}

func checkEnum(bad complaint, key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	bad(key, 0, fmt.Sprintf("%q is not one of %s", val, strings.Join(quoted, ", ")))
}

func checkRange(bad complaint, key string, val, lo, hi int) {
	if val < lo || val > hi {
		bad(key, 0, fmt.Sprintf("%d is out of range %d..%d", val, lo, hi))
	}
}

// ula is IPv6's unique local range: subnet6 must lie in it, so that the
// jails' addresses are never mistaken for, or collide with, global ones.
var ula = netip.MustParsePrefix("fd00::/8")

// checkSubnet6 says what is wrong with a subnet6 value, or "".
func checkSubnet6(s string) string {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !p.Addr().Is6() || p.Addr().Is4In6():
		return fmt.Sprintf("%q is not a valid IPv6 CIDR", s)
	case !ula.Contains(p.Addr()):
		return fmt.Sprintf("%q is not a unique local (fd00::/8) prefix", s)
	case p.Bits() < 48 || p.Bits() > 64:
		return fmt.Sprintf("%q: the prefix length must be from 48 to 64", s)
	case p.Masked() != p:
		return fmt.Sprintf("%q has host bits set (use %q)", s, p.Masked())
	}
	return ""
}
