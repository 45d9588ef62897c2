package netpolicy

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/nftables"
)

// A ruleset flush (`nft flush ruleset`, which Debian's nftables.service
// runs on every start and restart) deletes the loginjail table with its
// isolation and NAT, and nothing tells the processes that made it. Inspect
// says what is missing; Restore rebuilds the table and puts every live
// session's elements back from what the registry records of it (its Spec
// and leased address), so that isolation and NAT come back, not only the
// skeleton. Watch (watch_linux.go) calls back when nftables changes.
//
// Restoring races with logouts: a session whose Release removed its
// elements must not get them back from a restore that read its record a
// moment before. Release and Reclaim therefore first mark the session as
// leaving (StateDir/leaving/<id>), outside nft.lock, before they take the
// lock to delete its elements; Restore, under nft.lock, skips a session
// that is marked or whose lease is gone. The mark is removed with the
// lease.

const leavingDir = "leaving"

// schemaChains are the base chains addSchema makes, with the number of
// rules it puts in each; schemaSets are the sets it makes. A table missing
// any of them, or a base chain with another number of rules, is partial.
// Keep these in step with addSchema (TestSchemaWhole checks).
var (
	schemaChains = map[string]int{"postrouting": 2, "prerouting": 2, "forward": 10, "input": 9}
	schemaSets   = []string{"bridges", "jails", "jail_policy_fwd", "jail_policy_in", "jails6", "jail_policy_fwd6", "jail_policy_in6",
		"named_jails", "gateways", "jail_dns", "dns_block", "named_allow", "named_jails6", "named_allow6", schemaMark}
)

// Live is one live session's network, as its registry record keeps it.
type Live struct {
	Spec Spec
	IP   netip.Addr
}

// Health is what Inspect found of the firewall.
type Health struct {
	// Table: the table exists.
	Table bool
	// Partial names what the table lacks ("chain forward: 3 of 6 rules",
	// "set jails"); empty when the skeleton is whole.
	Partial []string
	// Checked is the number of live sessions looked at, Missing the ids
	// of those whose elements are not (all) in the table.
	Checked int
	Missing []string
}

// Whole reports whether the table and every checked session's elements
// are in place.
func (h Health) Whole() bool { return h.Table && len(h.Partial) == 0 && len(h.Missing) == 0 }

// Inspect reads the firewall table and checks that its skeleton is whole
// and that each of live has its elements in @jails and both verdict maps.
// It only reads: no lock, no transaction.
func Inspect(live []Live) (Health, error) {
	var h Health
	err := withNft(func(c *nftables.Conn) error {
		var err error
		h.Table, h.Partial, err = inspectSchema(c)
		if err != nil || !h.Table || len(h.Partial) > 0 {
			return err
		}
		have := map[string]map[netip.Addr]bool{}
		for _, s := range []*nftables.Set{setJails, mapPolicyFwd, mapPolicyIn} {
			els, err := c.GetSetElements(s)
			if err != nil {
				return fmt.Errorf("list nft set %s: %w", s.Name, err)
			}
			m := make(map[netip.Addr]bool, len(els))
			for _, e := range els {
				if a, ok := netip.AddrFromSlice(e.Key); ok {
					m[a] = true
				}
			}
			have[s.Name] = m
		}
		ports, err := portsPresent(c)
		if err != nil {
			return err
		}
		for _, l := range live {
			h.Checked++
			ok := ports[portKey(hostVethName(l.Spec.SessionID), l.IP)]
			for _, m := range have {
				ok = ok && m[l.IP]
			}
			if !ok {
				h.Missing = append(h.Missing, l.Spec.SessionID)
			}
		}
		return nil
	})
	if err != nil {
		return Health{}, err
	}
	if !h.Table {
		for _, l := range live {
			h.Checked++
			h.Missing = append(h.Missing, l.Spec.SessionID)
		}
	}
	return h, nil
}

// inspectSchema reports whether our inet table exists and what of the
// skeletons of it and of the bridge table is missing.
func inspectSchema(c *nftables.Conn) (have bool, partial []string, err error) {
	have, partial, err = inspectTable(c, table, schemaChains, schemaSets)
	if err != nil || !have {
		return have, partial, err
	}
	brHave, brPartial, err := inspectTable(c, brTable, brSchemaChains, brSchemaSets)
	if err != nil {
		return have, nil, err
	}
	if !brHave {
		partial = append(partial, "table bridge "+tableName)
	}
	for _, p := range brPartial {
		partial = append(partial, "bridge "+p)
	}
	return have, partial, nil
}

// inspectTable reports whether table t exists and which of its chains
// (with their rule counts) and sets are missing.
func inspectTable(c *nftables.Conn, t *nftables.Table, wantChains map[string]int, wantSets []string) (have bool, partial []string, err error) {
	what := "nft table " + familyName(t.Family) + " " + t.Name
	if _, err := c.ListTableOfFamily(t.Name, t.Family); err != nil {
		if isNotFound(err) {
			return false, nil, nil
		}
		return false, nil, fmt.Errorf("look up %s: %w", what, err)
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return true, nil, fmt.Errorf("list sets of %s: %w", what, err)
	}
	haveSet := map[string]bool{}
	for _, s := range sets {
		haveSet[s.Name] = true
	}
	for _, n := range wantSets {
		if !haveSet[n] {
			partial = append(partial, "set "+n)
		}
	}
	chains, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return true, nil, fmt.Errorf("list chains of %s: %w", what, err)
	}
	haveChain := map[string]*nftables.Chain{}
	for _, ch := range chains {
		if ch.Table != nil && ch.Table.Name == t.Name {
			haveChain[ch.Name] = ch
		}
	}
	names := make([]string, 0, len(wantChains))
	for n := range wantChains {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ch := haveChain[n]
		if ch == nil {
			partial = append(partial, "chain "+n)
			continue
		}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return true, nil, fmt.Errorf("list rules of chain %s of %s: %w", n, what, err)
		}
		if want := wantChains[n]; len(rules) != want {
			partial = append(partial, fmt.Sprintf("chain %s: %d of %d rules", n, len(rules), want))
		}
	}
	return true, partial, nil
}

func familyName(f nftables.TableFamily) string {
	if f == nftables.TableFamilyBridge {
		return "bridge"
	}
	return "inet"
}

// Restore makes the firewall whole for the live sessions given: it
// rebuilds a missing or partial table and adds back every session's
// elements (and its policy's chains and sets) that are not in it. It
// returns the ids of the sessions it restored. A session that is leaving
// or whose lease no longer matches its record is skipped. stateDir is the
// network state dir all of live share.
func Restore(stateDir string, live []Live) (restored []string, err error) {
	h, err := Inspect(live)
	if err != nil {
		return nil, err
	}
	if h.Whole() {
		return nil, nil
	}
	unlock, err := lockFile(filepath.Join(stateDir, "nft.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Again under the lock: another process may have restored meanwhile.
	if h, err = Inspect(live); err != nil || h.Whole() {
		return nil, err
	}
	if !h.Table || len(h.Partial) > 0 {
		slog.Warn("netpolicy: nft table missing or partial; rebuilding it", "table", "inet "+tableName,
			"missing", h.Partial, "live_sessions", len(live))
		if err := rebuildFirewall(stateDir, h.Table); err != nil {
			return nil, err
		}
		if err := rebuildAntispoof(); err != nil {
			return nil, err
		}
		if h, err = Inspect(live); err != nil {
			return nil, err
		}
	}
	missing := map[string]bool{}
	for _, id := range h.Missing {
		missing[id] = true
	}
	var errs []error
	for _, l := range live {
		if !missing[l.Spec.SessionID] {
			continue
		}
		if leaving(stateDir, l.Spec.SessionID) {
			continue
		}
		if ip, ok := LeasedIP(stateDir, l.Spec.SessionID); !ok || ip != l.IP {
			continue
		}
		if err := addPort(portElemsOf(&l.Spec, l.IP, jailIP6(&l.Spec, l.IP))); err != nil {
			errs = append(errs, fmt.Errorf("restore session %s: %w", l.Spec.SessionID, err))
			continue
		}
		e := buildElems(l.IP, &l.Spec)
		if err := attachFirewallLocked(stateDir, l.Spec.Bridge, &e); err != nil {
			errs = append(errs, fmt.Errorf("restore session %s: %w", l.Spec.SessionID, err))
			continue
		}
		restored = append(restored, l.Spec.SessionID)
	}
	return restored, errors.Join(errs...)
}

// rebuildFirewall replaces the table (deleting what is left of it, if
// exists) by a whole, empty one, and forgets the policies of the old. The
// caller holds nft.lock.
func rebuildFirewall(stateDir string, exists bool) error {
	err := withNft(func(c *nftables.Conn) error {
		if exists {
			c.DelTable(table)
		}
		if err := addSchema(c); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("rebuild nft table %s: %w", tableName, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(stateDir, policiesDir)); err != nil {
		return fmt.Errorf("forget policies of the old nft table: %w", err)
	}
	return nil
}

// markLeaving records that sessionID's network is being torn down, so
// that no restore adds its elements back.
func markLeaving(stateDir, sessionID string) error {
	dir := filepath.Join(stateDir, leavingDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mark session leaving: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, sessionID), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("mark session leaving: %w", err)
	}
	return f.Close()
}

func leaving(stateDir, sessionID string) bool {
	_, err := os.Stat(filepath.Join(stateDir, leavingDir, sessionID))
	return err == nil
}

// unmarkLeaving removes the mark once the session's lease is gone.
func unmarkLeaving(stateDir, sessionID string) error {
	err := os.Remove(filepath.Join(stateDir, leavingDir, sessionID))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unmark session leaving: %w", err)
	}
	return nil
}

// String makes Health readable in a log line.
func (h Health) String() string {
	switch {
	case !h.Table:
		return fmt.Sprintf("table inet %s missing (%d live sessions without isolation or NAT)", tableName, h.Checked)
	case len(h.Partial) > 0:
		return fmt.Sprintf("table inet %s partial: missing %s", tableName, strings.Join(h.Partial, ", "))
	case len(h.Missing) > 0:
		return fmt.Sprintf("table inet %s lacks the elements of %d of %d live sessions: %s", tableName, len(h.Missing), h.Checked, strings.Join(h.Missing, ", "))
	}
	return fmt.Sprintf("table inet %s whole, with the elements of all %d live sessions", tableName, h.Checked)
}

// Present reports whether the firewall table exists with its schema
// marker: one netlink request, the check a login can afford.
func Present() (bool, error) {
	var have bool
	err := withNft(func(c *nftables.Conn) error {
		_, err := c.GetSetByName(table, schemaMark)
		have = err == nil
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("look up nft table %s: %w", tableName, err)
		}
		return nil
	})
	return have, err
}
