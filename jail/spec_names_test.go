package jail

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns validID and validHostname replaced; they must accept
// exactly the same strings.
var (
	idRegexp       = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	hostnameRegexp = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)
)

func TestValidIDMatchesPattern(t *testing.T) {
	for _, id := range []string{"", "a", "abc123", "ABC", "a-b", "a.b", strings.Repeat("a", 32), strings.Repeat("a", 33),
		"0", "z9", "a b", "a\n", "\na", "é"} {
		if got, want := validID(id), idRegexp.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}

func TestValidHostnameMatchesPattern(t *testing.T) {
	l63, l64 := strings.Repeat("a", 63), strings.Repeat("a", 64)
	cases := []string{"", "a", "A", "0", "-", "a-", "-a", "a-b", "a--b", "a.b", "a..b", ".a", "a.", "a.-b", "a.b-",
		"alice-3f2a", "x.y.z", "Host1.Example-2.ORG", l63, l64, l63 + "." + l63, "a." + l64, "a_b", "a b", "a\n",
		"\na", "é", "a.é", "a.b.c.d.e.f", "1-2-3", "a.1"}
	// Every string of up to 3 bytes over a small alphabet.
	alpha := []byte{'a', 'Z', '9', '-', '.', '_'}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		cases = append(cases, prefix)
		if n == 0 {
			return
		}
		for _, c := range alpha {
			gen(prefix+string(c), n-1)
		}
	}
	gen("", 4)
	for _, h := range cases {
		if got, want := validHostname(h), hostnameRegexp.MatchString(h); got != want {
			t.Errorf("validHostname(%q) = %v, the pattern says %v", h, got, want)
		}
	}
}
