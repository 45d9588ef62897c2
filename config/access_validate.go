package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// validateAccess checks the access-control keys of [server].
func validateAccess(s *Server, bad complaint) {
	for i, e := range s.AuthenticationMethods {
		if _, err := parseMethodList(e); err != nil {
			bad("authentication_methods", i+1, err.Error())
		}
	}
	for _, l := range []struct {
		key  string
		pats []string
		user bool
	}{{"allow_users", s.AllowUsers, true}, {"deny_users", s.DenyUsers, true},
		{"allow_groups", s.AllowGroups, false}, {"deny_groups", s.DenyGroups, false}} {
		for i, p := range l.pats {
			if err := checkAccessPattern(p, l.user); err != nil {
				bad(l.key, i+1, err.Error())
			}
		}
	}
	for _, f := range []struct{ key, val string }{
		{"trusted_user_ca_keys", s.TrustedUserCAKeys}, {"revoked_keys", s.RevokedKeys}} {
		if f.val != "" {
			if err := checkAbsPath(f.val); err != nil {
				bad(f.key, 0, err.Error())
			}
		}
	}
	if s.AuthorizedPrincipalsFile != "" {
		if err := checkAuthorizedKeysFile(s.AuthorizedPrincipalsFile); err != nil || len(strings.Fields(s.AuthorizedPrincipalsFile)) != 1 {
			bad("authorized_principals_file", 0, fmt.Sprintf("%q: want one file, with only the tokens %%h, %%u and %%%%", s.AuthorizedPrincipalsFile))
		}
	}
	if s.AuthorizedKeysCommand != "" {
		if err := checkAbsPath(strings.Fields(s.AuthorizedKeysCommand)[0]); err != nil {
			bad("authorized_keys_command", 0, "the program: "+err.Error())
		}
		if err := checkCommandTokens(s.AuthorizedKeysCommand); err != nil {
			bad("authorized_keys_command", 0, err.Error())
		}
		switch s.AuthorizedKeysCommandUser {
		case "":
			bad("authorized_keys_command_user", 0, "must name the account authorized_keys_command runs as (OpenSSH requires it too)")
		case "root":
			bad("authorized_keys_command_user", 0, "the command never runs as root: name an unprivileged account (e.g. \"nobody\")")
		}
	}
}

// checkAccessPattern checks one allow/deny entry: non-empty, no blanks,
// and for users a valid host half after "@".
func checkAccessPattern(p string, user bool) error {
	if p == "" || strings.ContainsAny(p, " \t\n\x00") {
		return fmt.Errorf("%q is not a pattern (one name or wildcard per entry)", p)
	}
	u, host, hasHost := strings.Cut(p, "@")
	if !user && hasHost {
		return fmt.Errorf("%q: group patterns take no @host", p)
	}
	if !hasHost {
		return nil
	}
	if u == "" || host == "" {
		return fmt.Errorf("%q: want user@host", p)
	}
	for _, h := range strings.Split(host, ",") {
		h = strings.TrimPrefix(h, "!")
		if strings.Contains(h, "/") {
			if _, err := netip.ParsePrefix(h); err != nil {
				return fmt.Errorf("%q: %q is not a CIDR", p, h)
			}
		} else if h == "" {
			return fmt.Errorf("%q: empty host pattern", p)
		}
	}
	return nil
}

// checkCommandTokens accepts the tokens of authorized_keys_command:
// %u user, %h home, %t key type, %f fingerprint, %k the key (base64), %%.
func checkCommandTokens(s string) error {
	if !onlyTokens(s, "uhtfk%") {
		return fmt.Errorf("%q: only the tokens %%u, %%h, %%t, %%f, %%k and %%%% are allowed", s)
	}
	return nil
}
