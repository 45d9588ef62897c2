package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseMaxStartups parses max_startups: OpenSSH's "start:rate:full" (start
// refusing rate percent of new unauthenticated connections at start,
// refuse all at full) or a single number N (= "N:100:N").
func ParseMaxStartups(s string) (start, rate, full int, err error) {
	parts := strings.Split(s, ":")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 0 || p[0] == '+' {
			return 0, 0, 0, fmt.Errorf("%q is not \"start:rate:full\" or a number", s)
		}
		nums[i] = n
	}
	switch {
	case len(nums) == 1 && nums[0] >= 1:
		return nums[0], 100, nums[0], nil
	case len(nums) == 3 && nums[0] >= 1 && nums[1] >= 1 && nums[1] <= 100 && nums[2] >= nums[0]:
		return nums[0], nums[1], nums[2], nil
	}
	return 0, 0, 0, fmt.Errorf("%q is not \"start:rate:full\" (start >= 1, rate 1..100, full >= start) or a number >= 1", s)
}

// checkAuthorizedKeysFile checks OpenSSH AuthorizedKeysFile syntax:
// space-separated files with the tokens %h, %u and %%, or "none".
func checkAuthorizedKeysFile(s string) error {
	files := strings.Fields(s)
	if len(files) == 0 {
		return fmt.Errorf("must name at least one file (or \"none\")")
	}
	for _, f := range files {
		if f == "none" && len(files) == 1 {
			return nil
		}
		if !onlyTokens(f, "hu%") {
			return fmt.Errorf("%q: only the tokens %%h, %%u and %%%% are allowed", f)
		}
	}
	return nil
}

// onlyTokens reports whether every '%' in s starts one of the tokens
// named by the letters of allowed ("hu%": %h, %u, %%).
func onlyTokens(s, allowed string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 == len(s) || !strings.ContainsRune(allowed, rune(s[i+1])) {
			return false
		}
		i++
	}
	return true
}

// AuthorizedKeysFiles expands authorized_keys_file for a user: tokens are
// replaced and relative paths are taken from home. "none" gives nil.
func (s *Server) AuthorizedKeysFiles(user, home string) []string {
	var out []string
	for _, f := range strings.Fields(s.AuthorizedKeysFile) {
		if f == "none" {
			return nil
		}
		out = append(out, expandUserFile(f, user, home))
	}
	return out
}

// AuthorizedPrincipalsPath expands authorized_principals_file for a user
// as AuthorizedKeysFiles does; "" when the option is not set.
func (s *Server) AuthorizedPrincipalsPath(user, home string) string {
	if s.AuthorizedPrincipalsFile == "" {
		return ""
	}
	return expandUserFile(s.AuthorizedPrincipalsFile, user, home)
}

// expandUserFile replaces %h, %u and %% in f and makes it absolute from
// home.
func expandUserFile(f, user, home string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] == '%' && i+1 < len(f) {
			i++
			switch f[i] {
			case 'h':
				b.WriteString(home)
			case 'u':
				b.WriteString(user)
			default:
				b.WriteByte(f[i])
			}
			continue
		}
		b.WriteByte(f[i])
	}
	p := b.String()
	if !filepath.IsAbs(p) {
		p = filepath.Join(home, p)
	}
	return filepath.Clean(p)
}
