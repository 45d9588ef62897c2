package netpolicy

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/nftables"
)

// A policy's chains and sets are made with its first live jail and
// deleted with its last. The kernel keeps the count: a chain's use count
// is the number of verdict map elements (and rules) jumping to it, so a
// logout, after removing its elements, reads the count of its policy's
// forward chain (chainUse: a plain request, not a transaction) and deletes
// the policy when it is zero. (Trying the delete and letting it fail with
// EBUSY would be simpler, but a failed transaction costs the kernel an RCU
// grace period, 15 ms or more.) The state dir records which tag names
// which policy, so that processes agree on tags:
//
//	StateDir/policies/<tag>    the full digest of the policy named <tag>
//
// <tag> is the digest's first 8 hex digits, or, should another policy hold
// them, the next free number (probing +1, +2, ...). A tag is claimed only
// when the table has no chain of that name a jail uses (an unused one, left
// over, is deleted first), and its record is removed after its policy's
// objects are deleted. Every change to records, policies and verdict maps
// is made under StateDir/nft.lock, so concurrent Attach, Release and
// Reclaim in separate processes see them consistent.

const policiesDir = "policies"

func policyPath(stateDir, tag string) string { return filepath.Join(stateDir, policiesDir, tag) }

// policyTag returns the tag of the policy with digest, claiming one if
// none is recorded (claimed is then true). The caller holds nft.lock.
func policyTag(stateDir, digest string) (tag string, claimed bool, err error) {
	if err := os.MkdirAll(filepath.Join(stateDir, policiesDir), 0o700); err != nil {
		return "", false, fmt.Errorf("create policy dir: %w", err)
	}
	h, err := strconv.ParseUint(digest[:8], 16, 32)
	if err != nil {
		return "", false, fmt.Errorf("policy digest %q: %w", digest, err)
	}
	for i := range uint32(1 << 12) {
		tag := fmt.Sprintf("%08x", uint32(h)+i)
		b, err := os.ReadFile(policyPath(stateDir, tag))
		if err == nil {
			if strings.TrimSpace(string(b)) == digest {
				return tag, false, nil
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("read policy record %s: %w", tag, err)
		}
		// Unrecorded: free, unless the table still has objects of that
		// name a jail uses (records lost); unused ones are deleted.
		if used, err := delPolicyIfUnused(tag); err != nil {
			return "", false, err
		} else if used {
			continue
		}
		if err := os.WriteFile(policyPath(stateDir, tag), []byte(digest+"\n"), 0o600); err != nil {
			return "", false, fmt.Errorf("record policy %s: %w", tag, err)
		}
		return tag, true, nil
	}
	return "", false, fmt.Errorf("no free policy tag near %s", digest[:8])
}

// recordedTag returns the tag recorded for the policy with digest, if
// any, without claiming one. The caller holds nft.lock.
func recordedTag(stateDir, digest string) (string, bool) {
	h, err := strconv.ParseUint(digest[:8], 16, 32)
	if err != nil {
		return "", false
	}
	for i := range uint32(1 << 12) {
		tag := fmt.Sprintf("%08x", uint32(h)+i)
		b, err := os.ReadFile(policyPath(stateDir, tag))
		if err != nil {
			return "", false
		}
		if strings.TrimSpace(string(b)) == digest {
			return tag, true
		}
	}
	return "", false
}

// attachFirewall adds e's jail to the firewall, in one nftables
// transaction: its address in @jails and, as jumps to its policy's chains,
// in the verdict maps; the policy's chains and sets too if they are
// missing. It sets e.tag.
func attachFirewall(stateDir, bridge string, e *sessionElems) error {
	unlock, err := lockFile(filepath.Join(stateDir, "nft.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	return attachFirewallLocked(stateDir, bridge, e)
}

// attachFirewallLocked is attachFirewall for a caller holding nft.lock
// (Restore).
func attachFirewallLocked(stateDir, bridge string, e *sessionElems) error {
	tag, claimed, err := policyTag(stateDir, e.pol.digest)
	if err != nil {
		return err
	}
	err = addJail(bridge, e, tag, claimed)
	if err != nil && !claimed && isNotFound(err) {
		// The policy's last jail left, or someone deleted it.
		err = addJail(bridge, e, tag, true)
	}
	if err != nil {
		if claimed {
			os.Remove(policyPath(stateDir, tag))
		}
		return err
	}
	e.tag = tag
	return nil
}

// addJail adds e's elements pointing at policy tag, after creating the
// policy if create, in one transaction.
func addJail(bridge string, e *sessionElems, tag string, create bool) error {
	return withNft(func(c *nftables.Conn) error {
		if create {
			if err := addPolicy(c, tag, &e.pol); err != nil {
				return err
			}
		}
		if err := c.SetAddElements(setBridges, []nftables.SetElement{{Key: ifname(bridge)}}); err != nil {
			return err
		}
		for _, x := range jailElems(e.ip, e.ip6, tag) {
			if err := c.SetAddElements(x.s, []nftables.SetElement{x.el}); err != nil {
				return err
			}
		}
		if err := addNamedJail(c, e); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add nft elements for %v (policy %s): %w", e.ip, tag, err)
		}
		return nil
	})
}

// detachFirewall undoes attachFirewall: e's elements go, and its policy
// with them if no other jail uses it. Missing elements are no error.
func detachFirewall(stateDir string, e *sessionElems) error {
	if e == nil || !e.ip.IsValid() {
		return nil
	}
	unlock, err := lockFile(filepath.Join(stateDir, "nft.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if err := delJail(e.ip, e.ip6, e.dnsPort != 0); err != nil {
		return err
	}
	if t, ok := recordedTag(stateDir, e.pol.digest); ok {
		// A restore after a flush may have named the policy anew.
		e.tag = t
	}
	if e.tag == "" {
		prunePolicies(stateDir)
		return nil
	}
	return dropPolicyIfUnused(stateDir, e.tag)
}

// reclaimFirewall removes the elements of address ip and deletes every
// policy no jail uses any more: gc's path, which does not know ip's
// policy. It costs a transaction per recorded policy.
func reclaimFirewall(stateDir string, ip, ip6 netip.Addr) error {
	if !ip.IsValid() {
		return nil
	}
	unlock, err := lockFile(filepath.Join(stateDir, "nft.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if err := delJail(ip, ip6, true); err != nil {
		return err
	}
	if err := closeNamedOf(ip); err != nil {
		return err
	}
	// Another policy left over is no failure of this jail's reclaim: it
	// is logged, and tried again by the next Release or Reclaim.
	prunePolicies(stateDir)
	return nil
}

// dropPolicyIfUnused deletes policy tag and its record unless a jail still
// uses it. The caller holds nft.lock.
func dropPolicyIfUnused(stateDir, tag string) error {
	used, err := delPolicyIfUnused(tag)
	if err != nil || used {
		return err
	}
	if err := os.Remove(policyPath(stateDir, tag)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forget policy %s: %w", tag, err)
	}
	return nil
}

// delPolicyIfUnused deletes policy tag's chains and sets unless a verdict
// map element still jumps to them (used). Missing objects are no error.
func delPolicyIfUnused(tag string) (used bool, err error) {
	n := namesOf(tag)
	for _, ch := range []struct {
		name  string
		rules uint32
	}{{n.fwd, policyFwdRules}, {n.in, policyInRules}} {
		// The kernel counts a chain's own rules as uses too.
		use, exists, err := chainUse(ch.name)
		if err != nil {
			return false, err
		}
		if use > ch.rules {
			return true, nil
		}
		if !exists && ch.name == n.fwd {
			// Made and deleted whole, in one transaction each: no
			// forward chain, no policy.
			return false, nil
		}
	}
	err = withNft(func(c *nftables.Conn) error { delPolicy(c, tag); return c.Flush() })
	if err == nil {
		return false, nil
	}
	if !isNotFound(err) {
		return false, fmt.Errorf("delete nft policy %s: %w", tag, err)
	}
	// Some objects are missing (not made by us): delete the others one by
	// one.
	var errs []error
	del := func(what string, f func(c *nftables.Conn)) {
		e := withNft(func(c *nftables.Conn) error { f(c); return c.Flush() })
		if e != nil && !isNotFound(e) {
			errs = append(errs, fmt.Errorf("delete nft %s: %w", what, e))
		}
	}
	for _, ch := range []string{n.fwd, n.in} {
		del("chain "+ch, func(c *nftables.Conn) { c.DelChain(&nftables.Chain{Name: ch, Table: table}) })
	}
	for _, s := range []string{n.deny, n.allow, n.host, n.deny6, n.allow6} {
		del("set "+s, func(c *nftables.Conn) { c.DelSet(&nftables.Set{Table: table, Name: s}) })
	}
	return false, errors.Join(errs...)
}

// delJail deletes ip's and ip6's elements from @jails, @jails6 and the
// verdict maps (and, if named, from @named_jails, @jail_dns and
// @named_jails6) in one transaction. Should that fail (another process,
// or an earlier try, removed some already), it deletes each on its own: a
// missing one is no error.
func delJail(ip, ip6 netip.Addr, named bool) error {
	keys := jailElems(ip, ip6, "")
	if named {
		keys = append(keys, namedJailElems(ip, ip6, netip.Addr{}, 0)...)
	}
	err := withNft(func(c *nftables.Conn) error {
		for _, x := range keys {
			if err := c.SetDeleteElements(x.s, []nftables.SetElement{x.el}); err != nil {
				return err
			}
		}
		return c.Flush()
	})
	if err == nil {
		return nil
	}
	var errs []error
	for _, x := range keys {
		err := withNft(func(c *nftables.Conn) error {
			if err := c.SetDeleteElements(x.s, []nftables.SetElement{x.el}); err != nil {
				return err
			}
			return c.Flush()
		})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %v from nft set %s: %w", ip, x.s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// prunePolicies deletes every recorded policy no jail uses, logging what
// it cannot. The caller holds nft.lock.
func prunePolicies(stateDir string) {
	ents, err := os.ReadDir(filepath.Join(stateDir, policiesDir))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("netpolicy: cannot list policies", "err", err)
		}
		return
	}
	for _, ent := range ents {
		if tag := ent.Name(); ent.Type().IsRegular() && len(tag) == 8 {
			if err := dropPolicyIfUnused(stateDir, tag); err != nil {
				slog.Warn("netpolicy: cannot prune policy", "policy", tag, "err", err)
			}
		}
	}
}
