package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var netipZero netip.Addr

const policies = `
[jail]
hostname = "{user}-{id}"
hide = ["/srv"]

[jail.network]
mode = "nat"
allow = ["10.0.0.0/8", "tcp/443"]

[jail.limits]
memory = "1G"
pids = 100

[[policy]]
name = "exam"
match_groups = ["students", "!staff"]
match_addresses = ["192.0.2.0/24", "2001:db8::/32"]
[policy.jail]
hostname = "exam-{id}"
hide = ["/home/shared"]
[policy.jail.network]
mode = "none"
[policy.jail.limits]
pids = 50

[[policy]]
match_users = ["ad*", "!admin"]
[policy.jail]
user_mode = "root"
network.allow = ["tcp/22"]

[[policy]]
name = "everyone-else"
match_users = ["*"]
jail = { limits = { cpu = 0.5 } }
`

func TestResolve(t *testing.T) {
	c, err := Load(writeConfig(t, policies))
	if err != nil {
		t.Fatal(err)
	}
	base := c.Jail.clone()
	lan := netip.MustParseAddr("192.0.2.7")
	wan := netip.MustParseAddr("198.51.100.1")

	tests := []struct {
		name   string
		user   string
		groups []string
		remote netip.Addr
		policy string
		line   int
		edit   func(j *Jail)
	}{
		{name: "exam from lan", user: "stud1", groups: []string{"users", "students"}, remote: lan,
			policy: "exam", line: 14, edit: func(j *Jail) {
				j.Hostname = "exam-{id}"
				j.Hide = []string{"/home/shared"} // replaced, not appended
				j.Network.Mode = "none"           // other network keys kept
				j.Limits.Pids = 50                // memory kept
			}},
		{name: "exam from mapped v4", user: "stud1", groups: []string{"students"},
			remote: netip.MustParseAddr("::ffff:192.0.2.9"), policy: "exam", line: 14, edit: func(j *Jail) {
				j.Hostname, j.Hide, j.Network.Mode, j.Limits.Pids = "exam-{id}", []string{"/home/shared"}, "none", 50
			}},
		{name: "exam from v6", user: "stud1", groups: []string{"students"},
			remote: netip.MustParseAddr("2001:db8::1"), policy: "exam", line: 14, edit: func(j *Jail) {
				j.Hostname, j.Hide, j.Network.Mode, j.Limits.Pids = "exam-{id}", []string{"/home/shared"}, "none", 50
			}},
		{name: "student from wan falls through", user: "stud1", groups: []string{"students"}, remote: wan,
			policy: "everyone-else", line: 32, edit: func(j *Jail) { j.Limits.CPU = 0.5 }},
		{name: "no remote never matches addresses", user: "stud1", groups: []string{"students"},
			policy: "everyone-else", line: 32, edit: func(j *Jail) { j.Limits.CPU = 0.5 }},
		{name: "negated group rejects", user: "ta", groups: []string{"students", "staff"}, remote: lan,
			policy: "everyone-else", line: 32, edit: func(j *Jail) { j.Limits.CPU = 0.5 }},
		{name: "glob user", user: "adrian", policy: "policy[2]", line: 26, edit: func(j *Jail) {
			j.UserMode = "root"
			j.Network.Allow = []string{"tcp/22"}
		}},
		{name: "negated user rejects", user: "admin", policy: "everyone-else", line: 32,
			edit: func(j *Jail) { j.Limits.CPU = 0.5 }},
		{name: "first match wins", user: "adam", groups: []string{"students"}, remote: lan,
			policy: "exam", line: 14, edit: func(j *Jail) {
				j.Hostname, j.Hide, j.Network.Mode, j.Limits.Pids = "exam-{id}", []string{"/home/shared"}, "none", 50
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Resolve(tt.user, tt.groups, tt.remote)
			if err != nil {
				t.Fatal(err)
			}
			want := base.clone()
			if tt.edit != nil {
				tt.edit(&want)
			}
			if r.Policy != tt.policy || r.Line != tt.line {
				t.Errorf("policy = %q line %d, want %q line %d", r.Policy, r.Line, tt.policy, tt.line)
			}
			if !reflect.DeepEqual(r.Jail, want) {
				t.Errorf("jail =\n%+v\nwant\n%+v", r.Jail, want)
			}
		})
	}
	// Resolving never changes the configuration.
	if !reflect.DeepEqual(c.Jail, base) {
		t.Errorf("Resolve changed Config.Jail")
	}
}

func TestResolveNoPolicy(t *testing.T) {
	c := Default()
	r, err := c.Resolve("alice", []string{"alice"}, netipZero)
	if err != nil {
		t.Fatal(err)
	}
	if r.Policy != "" || r.Line != 0 || !reflect.DeepEqual(r.Jail, c.Jail) {
		t.Errorf("got %+v", r)
	}
	r.Jail.Hide = append(r.Jail.Hide, "/x")
	if len(c.Jail.Hide) != 0 {
		t.Errorf("Resolved shares slices with Config")
	}
	if _, err := c.Resolve("", nil, netipZero); err == nil {
		t.Errorf("empty user: no error")
	}
}

func TestMatchList(t *testing.T) {
	tests := []struct {
		patterns []string
		s        string
		want     int
	}{
		{[]string{"alice"}, "alice", 1},
		{[]string{"alice"}, "bob", 0},
		{[]string{"a*"}, "alice", 1},
		{[]string{"?lice"}, "alice", 1},
		{[]string{"*", "!root"}, "root", -1},
		{[]string{"!root", "*"}, "root", -1},
		{[]string{"!root"}, "alice", 0}, // only negations: no positive match
		{[]string{"[ab]*"}, "bob", 1},
	}
	for _, tt := range tests {
		if got := matchList(tt.patterns, tt.s); got != tt.want {
			t.Errorf("matchList(%q, %q) = %d, want %d", tt.patterns, tt.s, got, tt.want)
		}
	}
}

func TestMatchGroupsAndAddresses(t *testing.T) {
	if !matchGroups([]string{"dev*"}, []string{"users", "developers"}) {
		t.Errorf("dev* should match developers")
	}
	if matchGroups([]string{"dev*", "!contractors"}, []string{"developers", "contractors"}) {
		t.Errorf("negated group should reject")
	}
	if matchGroups([]string{"dev*"}, nil) {
		t.Errorf("no groups should not match")
	}
	a := netip.MustParseAddr("10.1.2.3")
	if !matchAddresses([]string{"10.0.0.0/8"}, a) || !matchAddresses([]string{"10.1.2.3"}, a) {
		t.Errorf("address should match")
	}
	if matchAddresses([]string{"10.0.0.0/8", "!10.1.0.0/16"}, a) {
		t.Errorf("negated address should reject")
	}
	if matchAddresses([]string{"0.0.0.0/0"}, netip.Addr{}) {
		t.Errorf("zero address should never match")
	}
}

func TestEncodeTOML(t *testing.T) {
	c, err := Load(writeConfig(t, policies))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve("stud1", []string{"students"}, netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.EncodeTOML(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	wantHead := "# policy: exam (" + c.Source + ":14)\n[jail]\n"
	if !strings.HasPrefix(out, wantHead) {
		t.Errorf("output starts\n%s\nwant\n%s", out, wantHead)
	}
	for _, line := range []string{`hostname = "exam-{id}"`, `memory = "1G"`, `tmp_size = "512M"`, `[jail.network]`, `[jail.limits]`, `mode = "none"`} {
		if !strings.Contains(out, "\n"+line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	back, err := Load(writeConfig(t, out))
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back.Jail, r.Jail) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back.Jail, r.Jail)
	}

	b.Reset()
	r, _ = Default().Resolve("x", nil, netipZero)
	if err := r.EncodeTOML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "# policy: none (the [jail] table of <embedded defaults>)\n") {
		t.Errorf("got %s", b.String())
	}
}

func TestExpandHostname(t *testing.T) {
	if got := ExpandHostname("{user}-{id}", "john_doe", "0a1b2c3d"); got != "john-doe-0a1b2c3d" {
		t.Errorf("got %q", got)
	}
}
