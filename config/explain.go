package config

import (
	"fmt"
	"io"
	"net/netip"
	"path"
	"strings"
)

// Explanation is why a login resolves to the jail it gets, policy by
// policy, as `check-config --user` prints it (the equivalent of OpenSSH's
// `sshd -T -C`).
type Explanation struct {
	User     string
	Groups   []string
	Remote   netip.Addr // zero: no remote address (`run`)
	Matched  int        // 0-based index of the winning [[policy]], -1 when none matched
	Policies []PolicyMatch
	Resolved *Resolved
}

// PolicyMatch is the verdict on one [[policy]].
type PolicyMatch struct {
	Index   int    // 0-based
	Name    string // policy name
	Line    int    // line of its [[policy]] header
	Matches bool   // every non-empty match list matches
	Winner  bool   // the first policy that matches: its overrides apply
	// Reasons says, one entry per match list, what matched or did not:
	// `match_users: "alice" matches "al*"`. A policy with no match list
	// has the single reason "no match lists: matches everyone".
	Reasons []string
}

// Explain resolves the jail of user (member of groups, connecting from
// remote) as Resolve does and says why: for every [[policy]], whether
// each of its match lists matched and by which pattern. The winner and the
// resolved jail are always those Resolve returns.
func (c *Config) Explain(user string, groups []string, remote netip.Addr) (*Explanation, error) {
	res, err := c.Resolve(user, groups, remote)
	if err != nil {
		return nil, err
	}
	e := &Explanation{User: user, Groups: append([]string(nil), groups...), Remote: remote, Matched: -1, Resolved: res}
	for i := range c.Policies {
		p := &c.Policies[i]
		m := PolicyMatch{Index: i, Name: p.Name, Line: p.Line, Matches: true}
		if len(p.MatchUsers) == 0 && len(p.MatchGroups) == 0 && len(p.MatchAddresses) == 0 {
			m.Reasons = append(m.Reasons, "no match lists: matches everyone")
		}
		if len(p.MatchUsers) > 0 {
			ok, why := explainUsers(p.MatchUsers, user)
			m.Matches = m.Matches && ok
			m.Reasons = append(m.Reasons, "match_users: "+why)
		}
		if len(p.MatchGroups) > 0 {
			ok, why := explainGroups(p.MatchGroups, groups)
			m.Matches = m.Matches && ok
			m.Reasons = append(m.Reasons, "match_groups: "+why)
		}
		if len(p.MatchAddresses) > 0 {
			ok, why := explainAddresses(p.MatchAddresses, remote)
			m.Matches = m.Matches && ok
			m.Reasons = append(m.Reasons, "match_addresses: "+why)
		}
		if m.Matches && e.Matched < 0 {
			m.Winner = true
			e.Matched = i
		}
		e.Policies = append(e.Policies, m)
	}
	// Resolve is the authority; Explain must never disagree with it.
	if (e.Matched < 0) != (res.Policy == "") || (e.Matched >= 0 && c.Policies[e.Matched].Name != res.Policy) {
		return nil, fmt.Errorf("explain: internal disagreement with Resolve (policy %q vs index %d)", res.Policy, e.Matched)
	}
	return e, nil
}

// firstMatch returns the first pattern of patterns (with or without "!")
// matching s, and whether it is negated.
func firstMatch(patterns []string, s string, negated bool) (string, bool) {
	for _, pat := range patterns {
		if strings.HasPrefix(pat, "!") != negated {
			continue
		}
		if ok, err := path.Match(strings.TrimPrefix(pat, "!"), s); err == nil && ok {
			return pat, true
		}
	}
	return "", false
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// explainUsers mirrors matchList for match_users.
func explainUsers(patterns []string, user string) (bool, string) {
	if pat, ok := firstMatch(patterns, user, true); ok {
		return false, fmt.Sprintf("%q is rejected by %q", user, pat)
	}
	if pat, ok := firstMatch(patterns, user, false); ok {
		return true, fmt.Sprintf("%q matches %q", user, pat)
	}
	return false, fmt.Sprintf("%q matches none of %s", user, quoteList(patterns))
}

// explainGroups mirrors matchGroups.
func explainGroups(patterns, groups []string) (bool, string) {
	for _, g := range groups {
		if pat, ok := firstMatch(patterns, g, true); ok {
			return false, fmt.Sprintf("group %q is rejected by %q", g, pat)
		}
	}
	for _, g := range groups {
		if pat, ok := firstMatch(patterns, g, false); ok {
			return true, fmt.Sprintf("group %q matches %q", g, pat)
		}
	}
	if len(groups) == 0 {
		return false, fmt.Sprintf("the user has no groups to match %s", quoteList(patterns))
	}
	return false, fmt.Sprintf("none of the groups %s matches %s", strings.Join(groups, ","), quoteList(patterns))
}

// explainAddresses mirrors matchAddresses.
func explainAddresses(patterns []string, remote netip.Addr) (bool, string) {
	if !remote.IsValid() {
		return false, "no remote address (give one with --from ADDR); a policy with match_addresses never matches without one"
	}
	remote = remote.Unmap().WithZone("")
	var hit string
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pfx, err := parseAddrPattern(strings.TrimPrefix(pat, "!"))
		if err != nil || !pfx.Contains(remote) {
			continue
		}
		if neg {
			return false, fmt.Sprintf("%s is rejected by %q", remote, pat)
		}
		if hit == "" {
			hit = pat
		}
	}
	if hit != "" {
		return true, fmt.Sprintf("%s is in %q", remote, hit)
	}
	return false, fmt.Sprintf("%s is in none of %s", remote, quoteList(patterns))
}

// Write prints the explanation: who, each policy with its verdict and
// reasons, then the resolved jail as TOML (see [Resolved.EncodeTOML]).
func (e *Explanation) Write(w io.Writer) error {
	src := e.Resolved.source
	if src == "" {
		src = "<unknown>"
	}
	from := "no remote address"
	if e.Remote.IsValid() {
		from = "from " + e.Remote.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# user %s, groups %s, %s\n", e.User, strings.Join(e.Groups, ","), from)
	if len(e.Policies) == 0 {
		fmt.Fprintf(&b, "# no [[policy]] blocks in %s\n", src)
	}
	for _, m := range e.Policies {
		verdict := "no match"
		switch {
		case m.Winner:
			verdict = "MATCH, applies"
		case m.Matches && e.Matched >= 0 && m.Index > e.Matched:
			verdict = "would match, but policy[" + fmt.Sprint(e.Matched+1) + "] came first"
		case !m.Matches && e.Matched >= 0 && m.Index > e.Matched:
			verdict = "no match (not reached)"
		}
		fmt.Fprintf(&b, "# policy[%d] %q (%s:%d): %s\n", m.Index+1, m.Name, src, m.Line, verdict)
		for _, r := range m.Reasons {
			fmt.Fprintf(&b, "#   %s\n", r)
		}
	}
	e.Resolved.writeNames(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return e.Resolved.EncodeTOML(w)
}

// PolicyJail returns the jail [[policy]] number i (0-based) gives: the
// [jail] table with that policy's [policy.jail] overrides applied. It
// lets tools (`loginjail doctor`) inspect every policy without a user
// that matches it.
func (c *Config) PolicyJail(i int) Jail {
	j := c.Jail.clone()
	if i >= 0 && i < len(c.Policies) && c.Policies[i].override != nil {
		applyOverride(&j, c.Policies[i].override)
	}
	return j
}

// PolicyMatchesIdentity reports whether policy i's match_users and
// match_groups accept user with groups, and whether the policy also has
// match_addresses (so that it may still not apply, depending on where the
// login comes from).
func (c *Config) PolicyMatchesIdentity(i int, user string, groups []string) (match, byAddress bool) {
	p := &c.Policies[i]
	if len(p.MatchUsers) > 0 && matchList(p.MatchUsers, user) != 1 {
		return false, false
	}
	if len(p.MatchGroups) > 0 && !matchGroups(p.MatchGroups, groups) {
		return false, false
	}
	return true, len(p.MatchAddresses) > 0
}
