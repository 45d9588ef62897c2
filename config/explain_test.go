package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	c, err := Load(writeConfig(t, policies))
	if err != nil {
		t.Fatal(err)
	}
	lan := netip.MustParseAddr("192.0.2.7")
	wan := netip.MustParseAddr("198.51.100.1")
	tests := []struct {
		name    string
		user    string
		groups  []string
		remote  netip.Addr
		matched int
		reasons []string // substrings expected in the reasons, policy by policy ("" = skip)
	}{
		{"student on the LAN", "bob", []string{"bob", "students"}, lan, 0,
			[]string{`match_groups: group "students" matches "students"; match_addresses: 192.0.2.7 is in "192.0.2.0/24"`}},
		{"student from IPv6", "bob", []string{"students"}, netip.MustParseAddr("2001:db8::1"), 0,
			[]string{`match_addresses: 2001:db8::1 is in "2001:db8::/32"`}},
		{"v4-mapped address", "bob", []string{"students"}, netip.MustParseAddr("::ffff:192.0.2.7"), 0,
			[]string{`192.0.2.7 is in "192.0.2.0/24"`}},
		{"student from outside", "bob", []string{"students"}, wan, 2,
			[]string{`198.51.100.1 is in none of ["192.0.2.0/24", "2001:db8::/32"]`, `"bob" matches none of ["ad*", "!admin"]`, `"bob" matches "*"`}},
		{"staff student", "carol", []string{"students", "staff"}, lan, 2,
			[]string{`group "staff" is rejected by "!staff"`, "", ""}},
		{"no remote", "bob", []string{"students"}, netipZero, 2,
			[]string{"no remote address", "", ""}},
		{"adam", "adam", nil, wan, 1,
			[]string{`the user has no groups`, `"adam" matches "ad*"`, ""}},
		{"admin rejected", "admin", nil, wan, 2,
			[]string{"", `"admin" is rejected by "!admin"`, `"admin" matches "*"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := c.Explain(tc.user, tc.groups, tc.remote)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := c.Resolve(tc.user, tc.groups, tc.remote)
			if e.Matched != tc.matched || e.Resolved.Policy != res.Policy || c.Policies[e.Matched].Name != res.Policy {
				t.Fatalf("matched %d (%q), want %d (Resolve: %q)", e.Matched, e.Resolved.Policy, tc.matched, res.Policy)
			}
			if len(e.Policies) != len(c.Policies) {
				t.Fatalf("%d verdicts for %d policies", len(e.Policies), len(c.Policies))
			}
			for i, want := range tc.reasons {
				got := strings.Join(e.Policies[i].Reasons, "; ")
				if !strings.Contains(got, want) {
					t.Errorf("policy[%d] reasons %q, want %q", i+1, got, want)
				}
			}
			for i, m := range e.Policies {
				if m.Winner != (i == tc.matched) {
					t.Errorf("policy[%d] winner = %v", i+1, m.Winner)
				}
			}
		})
	}
}

func TestExplainNoPolicyAndCatchAll(t *testing.T) {
	c, err := Parse("x.toml", []byte("[[policy]]\nname = \"all\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Explain("alice", []string{"alice"}, netipZero)
	if err != nil || e.Matched != 0 || e.Policies[0].Reasons[0] != "no match lists: matches everyone" {
		t.Fatalf("%+v %v", e, err)
	}
	e, err = Default().Explain("alice", nil, netipZero)
	if err != nil || e.Matched != -1 || len(e.Policies) != 0 {
		t.Fatalf("%+v %v", e, err)
	}
	var b strings.Builder
	if err := e.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "# no [[policy]] blocks") || !strings.Contains(b.String(), "# policy: none") || !strings.Contains(b.String(), "[jail]") {
		t.Errorf("output:\n%s", b.String())
	}
}

func TestExplainWrite(t *testing.T) {
	c, err := Load(writeConfig(t, policies))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Explain("bob", []string{"bob", "students"}, netip.MustParseAddr("198.51.100.1"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := e.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# user bob, groups bob,students, from 198.51.100.1\n",
		`# policy[1] "exam" (`, "): no match\n",
		`# policy[3] "everyone-else" (`, "): MATCH, applies\n",
		"#   match_users: \"bob\" matches \"*\"\n",
		"# policy: everyone-else (",
		"[jail.limits]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPolicyJail(t *testing.T) {
	c, err := Load(writeConfig(t, policies))
	if err != nil {
		t.Fatal(err)
	}
	if j := c.PolicyJail(0); j.Hostname != "exam-{id}" || j.Network.Mode != "none" || j.Limits.Pids != 50 || j.Limits.Memory != 1<<30 {
		t.Errorf("exam jail: %+v", j)
	}
	if j := c.PolicyJail(1); j.UserMode != "root" || j.Network.Mode != "nat" {
		t.Errorf("policy[2] jail: %+v", j)
	}
	if j := c.PolicyJail(99); j.Hostname != c.Jail.Hostname {
		t.Errorf("out of range: %+v", j)
	}
	for _, tc := range []struct {
		i          int
		user       string
		groups     []string
		match, adr bool
	}{
		{0, "bob", []string{"students"}, true, true},
		{0, "bob", []string{"students", "staff"}, false, false},
		{1, "adam", nil, true, false},
		{1, "admin", nil, false, false},
		{2, "x", nil, true, false},
	} {
		m, a := c.PolicyMatchesIdentity(tc.i, tc.user, tc.groups)
		if m != tc.match || a != tc.adr {
			t.Errorf("PolicyMatchesIdentity(%d, %s, %v) = %v, %v", tc.i, tc.user, tc.groups, m, a)
		}
	}
}

func TestExplainNames(t *testing.T) {
	c, err := Load(writeConfig(t, `[[policy]]
name = "exam"
[policy.jail.network]
mode = "nat"
allow = ["moodle.example.edu:tcp/443", "*.debian.org:tcp/80,443", "192.0.2.0/24", "files.example.edu"]
deny = ["evil.debian.org"]
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Explain("bob", []string{"bob"}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := e.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := "#   reach moodle.example.edu tcp/443\n#   reach *.debian.org tcp/80,tcp/443\n#   reach files.example.edu any protocol and port\n#   refuse evil.debian.org\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("output lacks\n%s\nin:\n%s", want, b.String())
	}
}

func TestBadNameRuleNamesItsLine(t *testing.T) {
	_, err := Load(writeConfig(t, "[jail.network]\nmode = \"nat\"\nallow = [\n  \"ok.example.org:tcp/80\",\n  \"bad..example.org:tcp/80\",\n]\n"))
	if err == nil || !strings.Contains(err.Error(), ":5") || !strings.Contains(err.Error(), "bad..example.org") || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("error = %v; want one line naming line 5 and the entry", err)
	}
}
