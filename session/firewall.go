package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/netpolicy"
)

// The nat firewall lives in the kernel, where anyone's `nft flush ruleset`
// (Debian's nftables.service runs one on every restart) deletes it with
// the isolation and NAT of every live jail. Its keepers put it back from
// the registry's records:
//   - every process that owns a nat session (the SSH per-connection
//     process, the PAM holder, `loginjail run`) keeps its own session's
//     elements, and the tables' skeletons with them, from what it holds
//     in memory;
//   - the sshd listener keeps all live sessions;
//   - a nat login checks the table before its jail is attached.
//
// A keeper watches nftables' notifications (netpolicy.Watch), which name
// a deletion as soon as it is committed, and also checks every
// firewallCheckEvery, for what notifications do not report (an element
// deleted by hand) or a watch that failed.

// firewallCheckEvery is the keepers' backstop interval.
const firewallCheckEvery = 30 * time.Second

// liveNetworks returns the nat networks of the live sessions, by state dir.
func liveNetworks(g *Registry) (map[string][]netpolicy.Live, error) {
	recs, err := g.LiveSessions()
	if err != nil {
		return nil, err
	}
	byDir := map[string][]netpolicy.Live{}
	for _, r := range recs {
		if r.Network == nil || r.IP == "" {
			continue
		}
		ip, err := netip.ParseAddr(r.IP)
		if err != nil {
			slog.Warn("firewall: session record with a bad address", "session", r.ID, "ip", r.IP)
			continue
		}
		byDir[r.Network.StateDir] = append(byDir[r.Network.StateDir], netpolicy.Live{Spec: *r.Network, IP: ip})
	}
	return byDir, nil
}

// RestoreFirewall checks the nat firewall of every live session and
// restores what is missing. It returns the ids of the sessions restored.
func RestoreFirewall(cfg *config.Config) ([]string, error) {
	return restoreNetworks(func() (map[string][]netpolicy.Live, error) {
		return liveNetworks(NewRegistry(cfg.Server.StateDir))
	})
}

// restoreNetworks restores the firewall of the networks live returns,
// by state dir.
func restoreNetworks(live func() (map[string][]netpolicy.Live, error)) ([]string, error) {
	byDir, err := live()
	if err != nil {
		return nil, fmt.Errorf("firewall restore: %w", err)
	}
	var all []string
	for dir, live := range byDir {
		ids, err := netpolicy.Restore(dir, live)
		all = append(all, ids...)
		if err != nil {
			return all, fmt.Errorf("firewall restore: %w", err)
		}
	}
	return all, nil
}

// FirewallHealth is what `doctor` reports of the nat firewall: whether it
// and the elements of every live nat session are in place. ok is false
// when no live session uses nat and there is no table to look at.
func FirewallHealth(cfg *config.Config) (h netpolicy.Health, ok bool, err error) {
	byDir, err := liveNetworks(NewRegistry(cfg.Server.StateDir))
	if err != nil {
		return h, false, err
	}
	var live []netpolicy.Live
	for _, l := range byDir {
		live = append(live, l...)
	}
	h, err = netpolicy.Inspect(live)
	if err != nil {
		return h, false, err
	}
	return h, h.Table || len(live) > 0, nil
}

// GuardHealth is what `doctor` reports of the guards (netpolicy's tc
// programs on each nat jail's veth, which a flush of nftables does not
// remove): the number of live nat sessions checked, and the ids of those
// whose veth lacks them.
func GuardHealth(cfg *config.Config) (checked int, missing []string, err error) {
	byDir, err := liveNetworks(NewRegistry(cfg.Server.StateDir))
	if err != nil {
		return 0, nil, err
	}
	for _, live := range byDir {
		for _, l := range live {
			present, ok, err := netpolicy.GuardPresent(l.Spec.SessionID)
			if err != nil {
				return checked, missing, err
			}
			if !ok {
				continue // no veth: the session is going or gone
			}
			checked++
			if !present {
				missing = append(missing, l.Spec.SessionID)
			}
		}
	}
	return checked, missing, nil
}

// KeepFirewall restores the firewall of every live session whenever
// nftables reports a deletion of ours, and every firewallCheckEvery. It
// returns when ctx ends.
func KeepFirewall(ctx context.Context, cfg *config.Config, log *slog.Logger) {
	keepFirewall(ctx, func() (map[string][]netpolicy.Live, error) {
		return liveNetworks(NewRegistry(cfg.Server.StateDir))
	}, false, nil, log)
}

// keepFirewall is KeepFirewall for the networks live returns. With
// cheapTimer, the timer's check is only that the table is there
// (netpolicy.Present, one request, ~0.1 ms) and the full one (Inspect:
// both tables and the elements, 7 ms at 500 live sessions, measured by
// bench/fw_restore.sh) waits for a notification: what each of many
// session keepers can afford, the listener's full check covering the rest.
// after, if set, runs after every full check: what only the session's
// own process can put back (its resolver's redirect and open addresses).
func keepFirewall(ctx context.Context, live func() (map[string][]netpolicy.Live, error), cheapTimer bool, after func(), log *slog.Logger) {
	check := make(chan struct{}, 1)
	poke := func() {
		select {
		case check <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := netpolicy.Watch(ctx, poke); err != nil {
				log.Warn("firewall: nftables watch failed; checking on a timer only until it is back", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(firewallCheckEvery):
				}
			}
			poke() // notifications may have been missed meanwhile
		}
	}()
	defer wg.Wait()
	t := time.NewTicker(firewallCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check:
		case <-t.C:
			if cheapTimer {
				if ok, err := netpolicy.Present(); ok && err == nil {
					continue
				}
			}
		}
		ids, err := restoreNetworks(live)
		if len(ids) > 0 {
			log.Warn("firewall: restored the nat firewall after it was flushed or changed", "event", "net.restore", "sessions", ids)
		}
		if err != nil {
			log.Error("firewall: cannot restore the nat firewall", "event", "net.restore", "err", err)
		}
		if after != nil {
			after()
		}
	}
}

// keepOwnFirewall keeps s's own firewall elements (and the tables), if it
// has a nat network, from what it knows of itself: no registry reads, so
// that N sessions' keepers cost N, not N². The returned stop ends it and
// waits.
func (s *Session) keepOwnFirewall() (stop func()) {
	if s.Jail == nil || s.Jail.Net == nil || s.record.Network == nil {
		return func() {}
	}
	own := map[string][]netpolicy.Live{s.record.Network.StateDir: {{Spec: *s.record.Network, IP: s.Jail.Net.IP}}}
	log := slog.Default().With("session", s.ID)
	// The registry does not know the port of a named jail's resolver, so
	// whoever restored the tables, this process puts its redirect and the
	// addresses its resolver opened back (adding what is there is a no-op).
	names := func() {
		if err := s.Jail.Net.RestoreNames(); err != nil {
			log.Error("firewall: cannot restore the jail's names", "event", "net.restore", "err", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepFirewall(ctx, func() (map[string][]netpolicy.Live, error) { return own, nil }, true, names, log)
	}()
	return func() { cancel(); <-done }
}

// restoreBeforeAttach is a nat login's check: if the firewall table is
// gone, the live sessions' elements go back in before the new jail's are
// added (a table made afresh by Attach alone would hold only the new
// jail's).
func restoreBeforeAttach(cfg *config.Config) {
	if ok, err := netpolicy.Present(); ok || err != nil {
		return // an error here is Attach's to report
	}
	ids, err := RestoreFirewall(cfg)
	if len(ids) > 0 {
		slog.Warn("firewall: a login found the nat firewall flushed and restored it", "event", "net.restore", "sessions", ids)
	}
	if err != nil {
		slog.Error("firewall: cannot restore the nat firewall", "event", "net.restore", "err", err)
	}
}
