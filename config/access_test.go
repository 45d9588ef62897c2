package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckUserOrder(t *testing.T) {
	lan := netip.MustParseAddr("10.1.2.3")
	wan := netip.MustParseAddr("192.0.2.7")
	for _, tc := range []struct {
		name   string
		s      Server
		user   string
		groups []string
		from   netip.Addr
		ok     bool
		why    string
	}{
		{"nothing set", Server{}, "alice", nil, lan, true, "no allow_users"},
		{"deny_users wins over allow_users", Server{AllowUsers: []string{"al*"}, DenyUsers: []string{"alice"}}, "alice", nil, lan, false, "deny_users"},
		{"allow_users misses", Server{AllowUsers: []string{"bob"}}, "alice", nil, lan, false, "not listed in allow_users"},
		{"user@cidr matches", Server{AllowUsers: []string{"alice@10.0.0.0/8"}}, "alice", nil, lan, true, `allow_users "alice@10.0.0.0/8"`},
		{"user@cidr other address", Server{AllowUsers: []string{"alice@10.0.0.0/8"}}, "alice", nil, wan, false, "not listed"},
		{"user@wildcard", Server{AllowUsers: []string{"*@192.0.2.*"}}, "bob", nil, wan, true, "allow_users"},
		{"user@negated", Server{AllowUsers: []string{"alice@10.0.0.0/8,!10.1.2.3"}}, "alice", nil, lan, false, "not listed"},
		{"deny_groups after allow_users", Server{AllowUsers: []string{"alice"}, DenyGroups: []string{"guests"}}, "alice", []string{"staff", "guests"}, lan, false, `group "guests"`},
		{"allow_groups", Server{AllowGroups: []string{"st?ff"}}, "alice", []string{"users", "staff"}, lan, true, `group "staff"`},
		{"allow_groups misses", Server{AllowGroups: []string{"admins"}}, "alice", []string{"users"}, lan, false, "allow_groups"},
		{"deny_groups before allow_groups", Server{AllowGroups: []string{"staff"}, DenyGroups: []string{"staff"}}, "alice", []string{"staff"}, lan, false, "deny_groups"},
	} {
		ok, why := tc.s.CheckUser(tc.user, tc.groups, tc.from)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: got %v %q, want %v ~%q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

func TestNextMethods(t *testing.T) {
	s := Server{PasswordAuthentication: true, PubkeyAuthentication: true, KbdInteractiveAuthentication: true,
		AuthenticationMethods: []string{"publickey,password", "publickey,keyboard-interactive:pam"}}
	if c, next := s.NextMethods(nil); c || strings.Join(next, " ") != "publickey" {
		t.Errorf("start: %v %v", c, next)
	}
	if c, next := s.NextMethods([]string{"publickey"}); c || strings.Join(next, " ") != "password keyboard-interactive" {
		t.Errorf("after publickey: %v %v", c, next)
	}
	if c, _ := s.NextMethods([]string{"publickey", "password"}); !c {
		t.Errorf("publickey,password not complete")
	}
	if c, next := s.NextMethods([]string{"password"}); c || len(next) != 0 {
		t.Errorf("password first: %v %v", c, next)
	}
	s.PasswordAuthentication = false
	if c, next := s.NextMethods([]string{"publickey"}); c || strings.Join(next, " ") != "keyboard-interactive" {
		t.Errorf("password off: %v %v", c, next)
	}
	off := Server{PubkeyAuthentication: true}
	if _, next := off.NextMethods(nil); strings.Join(next, " ") != "publickey" {
		t.Errorf("only keys: %v", next)
	}
	if c, _ := off.NextMethods([]string{"publickey"}); !c {
		t.Errorf("one method is enough without lists")
	}
}

func TestRootLogin(t *testing.T) {
	for _, tc := range []struct {
		r      RootLogin
		method string
		forced bool
		ok     bool
	}{
		{RootYes, "password", false, true},
		{RootNo, "publickey", true, false},
		{RootProhibitPassword, "publickey", false, true},
		{RootProhibitPassword, "password", false, false},
		{RootProhibitPassword, "keyboard-interactive", false, false},
		{RootForcedCommandsOnly, "publickey", true, true},
		{RootForcedCommandsOnly, "publickey", false, false},
		{RootForcedCommandsOnly, "password", true, false},
	} {
		if ok, why := tc.r.Allows(tc.method, tc.forced); ok != tc.ok || !strings.Contains(why, string(tc.r)) {
			t.Errorf("%s %s forced=%v: %v %q", tc.r, tc.method, tc.forced, ok, why)
		}
	}
}

func TestPermitRootLoginValues(t *testing.T) {
	for in, want := range map[string]RootLogin{"true": RootYes, "false": RootNo, `"prohibit-password"`: RootProhibitPassword,
		`"forced-commands-only"`: RootForcedCommandsOnly, `"without-password"`: RootProhibitPassword, `"no"`: RootNo} {
		c, err := Parse("x.toml", []byte("[server]\npermit_root_login = "+in+"\n"))
		if err != nil || c.Server.PermitRootLogin != want {
			t.Errorf("%s: %v %v", in, c, err)
		}
	}
	if _, err := Parse("x.toml", []byte("[server]\npermit_root_login = \"maybe\"\n")); err == nil || !strings.Contains(err.Error(), "x.toml:2: server.permit_root_login") {
		t.Errorf("maybe: %v", err)
	}
}

func TestAccessValidation(t *testing.T) {
	for in, want := range map[string]string{
		`authentication_methods = ["publickey,otp"]`:                                       `unknown method "otp"`,
		`allow_users = ["alice@10.0.0.0/33"]`:                                              "not a CIDR",
		`deny_groups = ["wheel@host"]`:                                                     "take no @host",
		`authorized_keys_command = "/bin/keys %u"`:                                         "authorized_keys_command_user: must name",
		"authorized_keys_command = \"/bin/keys\"\nauthorized_keys_command_user = \"root\"": "never runs as root",
		`authorized_keys_command = "keys"`:                                                 "the program",
		`authorized_keys_command = "/bin/keys %z"`:                                         "only the tokens",
		`authorized_principals_file = "a b"`:                                               "want one file",
	} {
		_, err := Parse("x.toml", []byte("[server]\n"+in+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestExplainAccess(t *testing.T) {
	s := Default().Server
	s.AllowUsers = []string{"alice@10.0.0.0/8"}
	s.AuthenticationMethods = []string{"publickey,password"}
	got := strings.Join(s.ExplainAccess("alice", false, nil, netip.MustParseAddr("10.0.0.1")), "\n")
	if !strings.Contains(got, `allowed: allow_users "alice@10.0.0.0/8" matches`) || !strings.Contains(got, "publickey+password") {
		t.Errorf("alice from 10.0.0.1:\n%s", got)
	}
	got = strings.Join(s.ExplainAccess("alice", false, nil, netip.MustParseAddr("192.0.2.1")), "\n")
	if !strings.Contains(got, "REFUSED") {
		t.Errorf("alice from 192.0.2.1:\n%s", got)
	}
	s = Default().Server
	s.PermitRootLogin = RootProhibitPassword
	got = strings.Join(s.ExplainAccess("root", true, nil, netip.Addr{}), "\n")
	if !strings.Contains(got, "methods: any one of publickey\n") && !strings.HasSuffix(got, "methods: any one of publickey") {
		t.Errorf("root prohibit-password:\n%s", got)
	}
}

func TestLintAccess(t *testing.T) {
	d := t.TempDir()
	krl := filepath.Join(d, "krl")
	os.WriteFile(krl, []byte("SSHKRL\n\x00\x00\x00\x00\x01"), 0o644)
	one(t, lint(t, "[server]\nrevoked_keys = \""+krl+"\"\n", LintOptions{Privileged: true}), "t.toml:2: revoked_keys", "binary KRL")
	one(t, lint(t, "[server]\nrevoked_keys = \""+filepath.Join(d, "gone")+"\"\n", LintOptions{Privileged: true}), "t.toml:2: revoked_keys", "refuses every key")
	one(t, lint(t, "[server]\ntrusted_user_ca_keys = \""+filepath.Join(d, "gone")+"\"\n", LintOptions{}), "t.toml:2: trusted_user_ca_keys", "no certificate")
	one(t, lint(t, "[server]\npassword_authentication = false\nkbd_interactive_authentication = false\n\nauthentication_methods = [\"publickey,password\"]\n", LintOptions{}),
		"t.toml:5: authentication_methods", "nobody can log in")
	one(t, lint(t, "[server]\nauthorized_keys_command = \"/bin/true %u\"\nauthorized_keys_command_user = \"ljt-no-such-user\"\n", LintOptions{}),
		"t.toml:3: authorized_keys_command_user", "ljt-no-such-user")
	none(t, lint(t, "[server]\nauthorized_keys_command = \"/bin/true %u\"\nauthorized_keys_command_user = \"nobody\"\n", LintOptions{}))
}
