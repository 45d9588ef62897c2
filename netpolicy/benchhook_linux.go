package netpolicy

import (
	"fmt"
	"net/netip"
	"time"
)

// FirewallChangeTimes makes the firewall change of a login with spec's
// rules and address ip, then that of its logout, and returns how long each
// took (lock, state records and one nftables transaction each way). If no
// live session shares spec's policy, the login creates the policy's chains
// and sets and the logout deletes them again. It is for bench/netsetup,
// which measures the per-login firewall change with many sessions live; it
// holds no lease, so ip must be outside every subnet jails are leased
// from. The firewall table is created if missing.
func FirewallChangeTimes(spec Spec, ip netip.Addr) (add, del time.Duration, err error) {
	if spec.Subnet.IsValid() && spec.Subnet.Contains(ip) {
		return 0, 0, fmt.Errorf("firewall bench: %v lies in the jails' subnet %v", ip, spec.Subnet)
	}
	if err := ensureFirewall(spec.StateDir); err != nil {
		return 0, 0, err
	}
	e := buildElems(ip, &spec)
	start := time.Now()
	if err := attachFirewall(spec.StateDir, spec.Bridge, &e); err != nil {
		return 0, 0, err
	}
	add = time.Since(start)
	start = time.Now()
	err = detachFirewall(spec.StateDir, &e)
	return add, time.Since(start), err
}

// AddFirewallFiller makes the firewall change of a session at ip and
// returns a function undoing it: bench/netsetup's stand-in for live
// sessions. The same caveat as FirewallChangeTimes applies to ip.
func AddFirewallFiller(spec Spec, ip netip.Addr) (remove func() error, err error) {
	if spec.Subnet.IsValid() && spec.Subnet.Contains(ip) {
		return nil, fmt.Errorf("firewall bench: %v lies in the jails' subnet %v", ip, spec.Subnet)
	}
	if err := ensureFirewall(spec.StateDir); err != nil {
		return nil, err
	}
	e := buildElems(ip, &spec)
	if err := attachFirewall(spec.StateDir, spec.Bridge, &e); err != nil {
		return nil, err
	}
	return func() error { return detachFirewall(spec.StateDir, &e) }, nil
}
