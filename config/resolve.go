package config

import (
	"errors"
	"net/netip"
	"path"
	"strings"
)

// Resolved is the jail a login gets: the [jail] table with the overrides of
// the first matching [[policy]] applied.
type Resolved struct {
	Policy string // name of the matched [[policy]], or "" when none matched (the [jail] table applies)
	Line   int    // line of its [[policy]] header, 0 if none
	Jail   Jail   // [jail] with the policy's [policy.jail] overrides applied

	source string // file the configuration came from, for EncodeTOML
}

// Resolve returns the jail for user, member of groups, connecting from
// remote (the zero Addr when there is no remote address, e.g. `run`). The
// first [[policy]] whose match lists all match wins; its [policy.jail] keys
// replace those of [jail] (absent keys keep the [jail] value, nested tables
// merge key by key, lists are replaced as a whole). The result shares no
// memory with c.
func (c *Config) Resolve(user string, groups []string, remote netip.Addr) (*Resolved, error) {
	if user == "" {
		return nil, errors.New("resolve policy: empty user name")
	}
	r := &Resolved{Jail: c.Jail.clone(), source: c.Source}
	for i := range c.Policies {
		p := &c.Policies[i]
		if !p.matches(user, groups, remote) {
			continue
		}
		r.Policy, r.Line = p.Name, p.Line
		if p.override != nil {
			applyOverride(&r.Jail, p.override)
		}
		break
	}
	return r, nil
}

// matches reports whether every non-empty match list of p matches.
func (p *Policy) matches(user string, groups []string, remote netip.Addr) bool {
	if len(p.MatchUsers) > 0 && matchList(p.MatchUsers, user) != 1 {
		return false
	}
	if len(p.MatchGroups) > 0 && !matchGroups(p.MatchGroups, groups) {
		return false
	}
	if len(p.MatchAddresses) > 0 && !matchAddresses(p.MatchAddresses, remote) {
		return false
	}
	return true
}

// matchList applies an OpenSSH pattern-list to s: -1 when a negated
// pattern matches (which rejects, whatever else matches), 1 when a
// positive pattern matches, 0 otherwise.
func matchList(patterns []string, s string) int {
	result := 0
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		ok, err := path.Match(strings.TrimPrefix(pat, "!"), s)
		if err != nil || !ok {
			continue
		}
		if neg {
			return -1
		}
		result = 1
	}
	return result
}

// matchGroups is OpenSSH's Match Group: a negated pattern matching any of
// the groups rejects; otherwise some group must match a positive pattern.
func matchGroups(patterns, groups []string) bool {
	found := false
	for _, g := range groups {
		switch matchList(patterns, g) {
		case -1:
			return false
		case 1:
			found = true
		}
	}
	return found
}

// matchAddresses applies a list of CIDRs (or IPs), "!" negating, to the
// remote address. Without a remote address it never matches.
func matchAddresses(patterns []string, remote netip.Addr) bool {
	if !remote.IsValid() {
		return false
	}
	remote = remote.Unmap().WithZone("")
	found := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pfx, err := parseAddrPattern(strings.TrimPrefix(pat, "!"))
		if err != nil || !pfx.Contains(remote) {
			continue
		}
		if neg {
			return false
		}
		found = true
	}
	return found
}
