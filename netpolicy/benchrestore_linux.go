package netpolicy

import (
	"fmt"
	"time"

	"github.com/google/nftables"
)

// RestoreTimes measures the firewall's flush survival for bench/fwrestore
// with n live sessions of spec's policy (leases and firewall elements
// only, no veths; spec.Subnet must hold n addresses): how long a login's
// check (Present) takes, a keeper's check when all is whole (Inspect),
// and Restore after both tables were deleted, as a ruleset flush does.
// Leases and tables are removed again.
func RestoreTimes(spec Spec, n int) (present, inspect, restore time.Duration, err error) {
	if err := ensureFirewall(spec.StateDir); err != nil {
		return 0, 0, 0, err
	}
	if err := ensureAntispoof(spec.StateDir); err != nil {
		return 0, 0, 0, err
	}
	var live []Live
	defer func() {
		for _, l := range live {
			releaseLease(spec.StateDir, l.Spec.SessionID)
		}
		withNft(func(c *nftables.Conn) error { c.DelTable(table); c.DelTable(brTable); return c.Flush() })
	}()
	for i := range n {
		s := spec
		s.SessionID = fmt.Sprintf("bench%d", i)
		ip, err := leaseIP(s.StateDir, s.Subnet, s.SessionID)
		if err != nil {
			return 0, 0, 0, err
		}
		live = append(live, Live{Spec: s, IP: ip})
		if err := addPort(portElemsOf(&s, ip, jailIP6(&s, ip))); err != nil {
			return 0, 0, 0, err
		}
		e := buildElems(ip, &s)
		if err := attachFirewall(s.StateDir, s.Bridge, &e); err != nil {
			return 0, 0, 0, err
		}
	}
	t0 := time.Now()
	if ok, err := Present(); err != nil || !ok {
		return 0, 0, 0, fmt.Errorf("present: %v %v", ok, err)
	}
	present = time.Since(t0)
	t0 = time.Now()
	if h, err := Inspect(live); err != nil || !h.Whole() {
		return 0, 0, 0, fmt.Errorf("inspect: %v %v", h, err)
	}
	inspect = time.Since(t0)
	if err := withNft(func(c *nftables.Conn) error { c.DelTable(table); c.DelTable(brTable); return c.Flush() }); err != nil {
		return 0, 0, 0, err
	}
	t0 = time.Now()
	ids, err := Restore(spec.StateDir, live)
	restore = time.Since(t0)
	if err != nil || len(ids) != n {
		return 0, 0, 0, fmt.Errorf("restore: %d of %d: %v", len(ids), n, err)
	}
	return present, inspect, restore, nil
}
