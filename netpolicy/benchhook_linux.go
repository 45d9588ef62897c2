package netpolicy

import (
	"fmt"
	"net/netip"
	"time"
)

// FirewallChangeTimes adds and then removes the set elements a session
// with spec's rules and address ip would have, and returns how long each
// transaction took. It is for bench/netsetup, which measures the per-login
// firewall change with many sessions live; it holds no lease, so ip must
// be outside every subnet jails are leased from. The firewall table is
// created if missing.
func FirewallChangeTimes(spec Spec, ip netip.Addr) (add, del time.Duration, err error) {
	if spec.Subnet.IsValid() && spec.Subnet.Contains(ip) {
		return 0, 0, fmt.Errorf("firewall bench: %v lies in the jails' subnet %v", ip, spec.Subnet)
	}
	if err := ensureFirewall(spec.StateDir); err != nil {
		return 0, 0, err
	}
	e := buildElems(ip, &spec)
	start := time.Now()
	if err := addElems(spec.Bridge, &e); err != nil {
		return 0, 0, err
	}
	add = time.Since(start)
	start = time.Now()
	err = delElems(&e)
	return add, time.Since(start), err
}

// AddFirewallFiller adds the elements of a session at ip and returns a
// function removing them: bench/netsetup's stand-in for live sessions.
// The same caveat as FirewallChangeTimes applies to ip.
func AddFirewallFiller(spec Spec, ip netip.Addr) (remove func() error, err error) {
	if spec.Subnet.IsValid() && spec.Subnet.Contains(ip) {
		return nil, fmt.Errorf("firewall bench: %v lies in the jails' subnet %v", ip, spec.Subnet)
	}
	if err := ensureFirewall(spec.StateDir); err != nil {
		return nil, err
	}
	e := buildElems(ip, &spec)
	if err := addElems(spec.Bridge, &e); err != nil {
		return nil, err
	}
	return func() error { return delElems(&e) }, nil
}
