package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// matchWild is OpenSSH's match_pattern: '*' any run, '?' one character.
func matchWild(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if matchWild(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}

// matchHostList matches the host half of a user@host pattern against the
// client address (a comma list, see MatchAddressList).
func matchHostList(list string, remote netip.Addr) bool {
	return MatchAddressList(strings.Split(list, ","), remote)
}

// MatchAddressList is OpenSSH's match_host_and_ip without DNS (UseDNS
// no): the address must match a pattern, a CIDR or a wildcard on its
// text, and no negated one ("!pattern"). It serves user@host patterns and
// authorized_keys' from=.
func MatchAddressList(patterns []string, remote netip.Addr) bool {
	if !remote.IsValid() {
		return false
	}
	remote = remote.Unmap().WithZone("")
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var m bool
		if pfx, err := netip.ParsePrefix(p); err == nil {
			m = pfx.Contains(remote)
		} else {
			m = matchWild(strings.ToLower(p), remote.String())
		}
		if m && neg {
			return false
		}
		matched = matched || m
	}
	return matched
}

// matchUserPattern is one allow_users / deny_users entry: a wildcard on
// the user name, optionally "@host" for the client address.
func matchUserPattern(pat, user string, remote netip.Addr) bool {
	u, host, hasHost := strings.Cut(pat, "@")
	if !matchWild(u, user) {
		return false
	}
	return !hasHost || matchHostList(host, remote)
}

// firstUserPattern returns the first entry of pats matching.
func firstUserPattern(pats []string, user string, remote netip.Addr) (string, bool) {
	for _, p := range pats {
		if matchUserPattern(p, user, remote) {
			return p, true
		}
	}
	return "", false
}

// firstGroupPattern returns the first (group, pattern) that matches.
func firstGroupPattern(pats, groups []string) (string, string, bool) {
	for _, g := range groups {
		for _, p := range pats {
			if matchWild(p, g) {
				return g, p, true
			}
		}
	}
	return "", "", false
}

// CheckUser applies deny_users, allow_users, deny_groups and allow_groups
// in OpenSSH's order to user (member of groups) connecting from remote.
// The string names the rule that decided, for the log and check-config;
// the client never sees it.
func (s *Server) CheckUser(user string, groups []string, remote netip.Addr) (bool, string) {
	if p, ok := firstUserPattern(s.DenyUsers, user, remote); ok {
		return false, fmt.Sprintf("user %q is listed in deny_users (%q)", user, p)
	}
	if len(s.AllowUsers) > 0 {
		p, ok := firstUserPattern(s.AllowUsers, user, remote)
		if !ok {
			return false, fmt.Sprintf("user %q from %s is not listed in allow_users", user, addrOrNone(remote))
		}
		if len(s.DenyGroups) == 0 && len(s.AllowGroups) == 0 {
			return true, fmt.Sprintf("allow_users %q matches", p)
		}
	}
	if g, p, ok := firstGroupPattern(s.DenyGroups, groups); ok {
		return false, fmt.Sprintf("user %q is in group %q, listed in deny_groups (%q)", user, g, p)
	}
	if len(s.AllowGroups) > 0 {
		g, p, ok := firstGroupPattern(s.AllowGroups, groups)
		if !ok {
			return false, fmt.Sprintf("none of the groups of %q (%s) is listed in allow_groups", user, strings.Join(groups, ","))
		}
		return true, fmt.Sprintf("group %q is listed in allow_groups (%q)", g, p)
	}
	if len(s.AllowUsers) > 0 {
		p, _ := firstUserPattern(s.AllowUsers, user, remote)
		return true, fmt.Sprintf("allow_users %q matches", p)
	}
	return true, "no allow_users/deny_users/allow_groups/deny_groups restricts this user"
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "no address"
	}
	return a.String()
}

// ExplainAccess says, one line each, whether user may log in from remote
// and with which methods: the allow/deny rule that decides, the root
// policy for uid 0, and the method lists (check-config --user --from).
func (s *Server) ExplainAccess(user string, uid0 bool, groups []string, remote netip.Addr) []string {
	ok, why := s.CheckUser(user, groups, remote)
	verdict := "allowed"
	if !ok {
		verdict = "REFUSED"
	}
	out := []string{fmt.Sprintf("access: %s: %s", verdict, why)}
	if !ok {
		return out
	}
	var methods []string
	if len(s.AuthenticationMethods) == 0 {
		_, methods = s.NextMethods(nil)
	} else {
		for _, l := range s.MethodLists() {
			methods = append(methods, strings.Join(l, "+"))
		}
	}
	if uid0 {
		var kept []string
		for _, m := range methods {
			first := strings.Split(m, "+")
			ok := true
			for _, x := range first {
				if a, _ := s.PermitRootLogin.Allows(x, true); !a {
					ok = false
				}
			}
			if ok {
				kept = append(kept, m)
			}
		}
		out = append(out, "access: root: "+s.PermitRootLogin.describe())
		methods = kept
	}
	if len(methods) == 0 {
		out[0] = "access: REFUSED: " + why
		out = append(out, "access: methods: none left for this user")
		return out
	}
	what := "any one of"
	if len(s.AuthenticationMethods) > 0 {
		what = "authentication_methods, one list of"
	}
	out = append(out, fmt.Sprintf("access: methods: %s %s", what, strings.Join(methods, ", ")))
	return out
}
