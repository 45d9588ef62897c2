package config

import (
	"bytes"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// lint parses content and returns its findings, one string each, with the
// file name "t.toml".
func lint(t *testing.T, content string, o LintOptions) []string {
	t.Helper()
	c, err := Parse("t.toml", []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range c.Lint(o) {
		out = append(out, f.String())
	}
	return out
}

// one asserts that findings holds exactly one line, which starts with
// prefix and contains want.
func one(t *testing.T, findings []string, prefix, want string) {
	t.Helper()
	if len(findings) != 1 || !strings.HasPrefix(findings[0], prefix) || !strings.Contains(findings[0], want) {
		t.Errorf("findings %q, want one %q... containing %q", findings, prefix, want)
	}
}

func none(t *testing.T, findings []string) {
	t.Helper()
	if len(findings) != 0 {
		t.Errorf("findings %q, want none", findings)
	}
}

// fakeIDs writes passwd, group, subuid and subgid files: alice has a
// range, bob has none.
func fakeIDs(t *testing.T) LintOptions {
	d := t.TempDir()
	w := func(name, s string) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return LintOptions{
		Passwd: w("passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n"),
		Group:  w("group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\n"),
		SubUID: w("subuid", "alice:100000:65536\n"),
		SubGID: w("subgid", "alice:100000:65536\n"),
	}
}

func TestLintHostKeys(t *testing.T) {
	d := t.TempDir()
	good := filepath.Join(d, "ssh_host_ed25519_key")
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen not installed (openssh-client)")
		}
		t.Skip("ssh-keygen not installed (openssh-client)")
	}
	for _, k := range []struct{ typ, path string }{{"ed25519", good}, {"ecdsa", filepath.Join(d, "ssh_host_ecdsa_key")}, {"rsa", filepath.Join(d, "ssh_host_rsa_key")}} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", k.typ, "-N", "", "-f", k.path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	none(t, lint(t, "[server]\nhost_keys = [\""+good+"\", \""+filepath.Join(d, "ssh_host_rsa_key")+"\"]\n", LintOptions{Privileged: true}))
	// The generated keys under lib_dir need not exist before the first start.
	none(t, lint(t, "[server]\nlib_dir = \""+filepath.Join(d, "nothing")+"\"\n", LintOptions{Privileged: true}))

	missing := filepath.Join(d, "ssh_host_rsa_key.gone")
	one(t, lint(t, "[server]\n\nhost_keys = [\n  \""+good+"\",\n  \""+missing+"\",\n]\n", LintOptions{}),
		"t.toml:5: host key "+missing+" does not exist", "ssh-keygen -t rsa -b 3072")
	one(t, lint(t, "[server]\nhost_keys = [\""+filepath.Join(d, "ssh_host_ecdsa_key")+"\"]\n", LintOptions{Privileged: true}),
		"t.toml:2: host key", "type ecdsa-sha2-nistp256, which loginjail sshd refuses")
	junk := filepath.Join(d, "junk")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	one(t, lint(t, "[server]\nhost_keys = [\""+junk+"\"]\n", LintOptions{Privileged: true}), "t.toml:2: host key", "not an OpenSSH or PEM private key")
}

func TestHostKeyType(t *testing.T) {
	if got := HostKeyType(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}})); got != KeyTypeRSA {
		t.Errorf("PEM RSA: %q", got)
	}
	if got := HostKeyType([]byte("ssh-ed25519 AAAA")); got != "" {
		t.Errorf("a public key line: %q", got)
	}
	for path, want := range map[string]string{"/etc/ssh/ssh_host_rsa_key": "rsa", "/etc/ssh/ssh_host_ecdsa_key": "ecdsa", "/k": "ed25519"} {
		if got := KeygenType(path, ""); got != want {
			t.Errorf("KeygenType(%s) = %q, want %q", path, got, want)
		}
	}
	if got := KeygenType("/k", KeyTypeRSA); got != "rsa" {
		t.Errorf("KeygenType of an RSA key named /k = %q", got)
	}
}

func TestLintShadowed(t *testing.T) {
	// Only the shadowing findings: the user names below need no accounts.
	lint := func(t *testing.T, content string, o LintOptions) []string {
		var out []string
		for _, f := range lint(t, content, o) {
			if strings.Contains(f, "never applies") {
				out = append(out, f)
			}
		}
		return out
	}
	one(t, lint(t, "[[policy]]\nname = \"all\"\n\n[[policy]]\nname = \"exam\"\nmatch_groups = [\"exam\"]\n", LintOptions{}),
		"t.toml:4: warning: policy[2] \"exam\" never applies: policy[1] \"all\" (line 1)", "matches everyone")
	// A superset that is not a catch-all.
	for _, tt := range []struct{ first, second string }{
		{`match_groups = ["students", "exam"]`, `match_groups = ["exam"]`},
		{`match_users = ["*"]`, `match_users = ["al*", "bob"]`},
		{`match_users = ["al*"]`, `match_users = ["alice"]`},
		{`match_groups = ["exam", "!staff"]`, `match_groups = ["exam", "!staff", "!tutors"]`},
		{`match_addresses = ["10.0.0.0/8"]`, `match_addresses = ["10.1.0.0/16"]` + "\nmatch_users = [\"x\"]"},
		{`match_addresses = ["10.0.0.0/8", "!10.9.0.0/16"]`, `match_addresses = ["10.1.0.0/16"]`},
	} {
		got := lint(t, "[[policy]]\n"+tt.first+"\n[[policy]]\nname = \"later\"\n"+tt.second+"\n", LintOptions{})
		one(t, got, "t.toml:3: warning: policy[2] \"later\" never applies: policy[1] \"policy[1]\"", "matches every login it matches")
	}
	// Not shadowed: the earlier policy misses some of the later one's logins.
	for _, tt := range []struct{ first, second string }{
		{`match_groups = ["exam", "!staff"]`, `match_groups = ["exam"]`},
		{`match_users = ["al*"]`, `match_users = ["b*"]`},
		{`match_users = ["alice"]`, `match_groups = ["alice"]`},
		{`match_addresses = ["10.1.0.0/16"]`, `match_addresses = ["10.0.0.0/8"]`},
		{`match_addresses = ["10.0.0.0/8", "!10.1.2.0/24"]`, `match_addresses = ["10.1.0.0/16"]`},
		{`match_users = ["alice"]`, ``},
	} {
		none(t, lint(t, "[[policy]]\n"+tt.first+"\n[[policy]]\n"+tt.second+"\n", LintOptions{}))
	}
}

func TestLintSubnets(t *testing.T) {
	const nat = "[jail.network]\nmode = \"nat\"\n"
	// The same pool on the same bridge is shared, not a clash.
	none(t, lint(t, nat+"[[policy]]\nmatch_groups = [\"a\"]\n[policy.jail.limits]\npids = 3\n", LintOptions{}))
	// Apart on one bridge: fine.
	none(t, lint(t, nat+"[[policy]]\nmatch_groups = [\"a\"]\n[policy.jail.network]\nsubnet = \"10.9.0.0/16\"\n", LintOptions{}))
	// No nat: nothing to clash.
	none(t, lint(t, "[[policy]]\nmatch_groups = [\"a\"]\n[policy.jail.network]\nsubnet = \"10.213.1.0/24\"\n", LintOptions{}))
	one(t, lint(t, nat+"[[policy]]\nname = \"p\"\nmatch_groups = [\"a\"]\n[policy.jail.network]\nsubnet = \"10.213.1.0/24\"\n", LintOptions{}),
		"t.toml:7: policy[1] \"p\": nat subnet 10.213.1.0/24 overlaps 10.213.0.0/16 of [jail] on the same bridge lj0", "same addresses")
	one(t, lint(t, "[[policy]]\nname = \"a\"\nmatch_groups = [\"a\"]\n[policy.jail.network]\nmode = \"nat\"\n"+
		"[[policy]]\nname = \"b\"\nmatch_groups = [\"b\"]\n[policy.jail.network]\nmode = \"nat\"\nbridge = \"lj1\"\n", LintOptions{}),
		"t.toml:11: policy[2] \"b\": nat subnet 10.213.0.0/16 on bridge lj1 overlaps 10.213.0.0/16 of policy[1] \"a\" on bridge lj0", "two bridges")
}

func TestLintSubIDs(t *testing.T) {
	o := fakeIDs(t)
	none(t, lint(t, "[[policy]]\nmatch_users = [\"alice\", \"b*\", \"!bob\"]\n", o))
	one(t, lint(t, "[[policy]]\nmatch_users = [\n  \"alice\",\n  \"bob\",\n]\n", o),
		"t.toml:4: warning: user \"bob\" has no subordinate uid range", "usermod --add-subuids")
	one(t, lint(t, "[[policy]]\nmatch_users = [\"carol\"]\n", o), "t.toml:2: warning: match_users names \"carol\"", "no such user")
	// --user: an error, not a warning: that user cannot log in.
	o.Users = []string{"bob"}
	one(t, lint(t, "", o), "t.toml: user \"bob\" has no subordinate uid range", "usermod")
	o.Users = []string{"alice"}
	none(t, lint(t, "", o))
	// A policy that allocates the range: no finding, the first login
	// makes it. Another user's policy allocating changes nothing.
	o.Users = []string{"bob"}
	none(t, lint(t, "[jail]\nsubid_allocate = true\n", o))
	none(t, lint(t, "[[policy]]\nmatch_users = [\"bob\"]\n[policy.jail]\nsubid_allocate = true\n", o))
	one(t, lint(t, "[[policy]]\nmatch_users = [\"alice\"]\n[policy.jail]\nsubid_allocate = true\n", o),
		"t.toml: user \"bob\" has no subordinate uid range", "usermod")
}

// TestLintOrder: findings come in the order of the file.
func TestLintOrder(t *testing.T) {
	got := lint(t, "[[policy]]\nname = \"all\"\n[[policy]]\nmatch_users = [\"nobody-here\"]\n", fakeIDs(t))
	if len(got) != 2 || !strings.HasPrefix(got[0], "t.toml:3:") || !strings.HasPrefix(got[1], "t.toml:4:") {
		t.Errorf("findings %q, want lines 3 then 4", got)
	}
}

// TestEncodeTOMLRoundTrip: the dump shows every key of every section and
// loads back to a config that gives every policy the same jail.
func TestEncodeTOMLRoundTrip(t *testing.T) {
	src := "[server]\nlisten = \":2200\"\nlogin_grace_time = \"30s\"\n[jail]\nhostname = \"h-{id}\"\n[jail.limits]\nmemory = \"1G\"\n" +
		"[[policy]]\nname = \"exam\"\nmatch_groups = [\"exam\", \"!staff\"]\nmatch_addresses = [\"192.0.2.0/24\"]\n[policy.jail.network]\nmode = \"nat\"\n" +
		"[[policy]]\n[policy.jail]\nuser_mode = \"root\"\n"
	c, err := Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.EncodeTOML(&b); err != nil {
		t.Fatal(err)
	}
	dump := b.String()
	var keys []string
	keysOf(reflect.TypeOf(Config{}), &keys)
	for _, k := range keys {
		if !strings.Contains(dump, "\n"+k+" = ") {
			t.Errorf("dump lacks key %s", k)
		}
	}
	back, err := Parse("dump", b.Bytes())
	if err != nil {
		t.Fatalf("dump does not load: %v\n%s", err, dump)
	}
	if !reflect.DeepEqual(back.Server, c.Server) || !reflect.DeepEqual(back.Jail, c.Jail) {
		t.Errorf("dump loads to other [server]/[jail]:\n%s", dump)
	}
	if len(back.Policies) != len(c.Policies) {
		t.Fatalf("%d policies back, want %d", len(back.Policies), len(c.Policies))
	}
	for i := range c.Policies {
		p, q := c.Policies[i], back.Policies[i]
		if p.Name != q.Name || strings.Join(p.MatchGroups, ",") != strings.Join(q.MatchGroups, ",") ||
			strings.Join(p.MatchAddresses, ",") != strings.Join(q.MatchAddresses, ",") {
			t.Errorf("policy %d: %+v back as %+v", i, p, q)
		}
		if !reflect.DeepEqual(c.PolicyJail(i), back.PolicyJail(i)) {
			t.Errorf("policy %d jail differs after the round trip", i)
		}
	}
}

// keysOf lists the leaf keys of a schema type by their toml tags.
func keysOf(t reflect.Type, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
			keysOf(ft, out)
			continue
		}
		*out = append(*out, tag)
	}
}

// TestLintSetgroups: allow_setgroups = true where the jail is "self"
// does nothing, which is worth a warning; in a root jail it is fine.
func TestLintSetgroups(t *testing.T) {
	none(t, lint(t, "[jail]\nuser_mode = \"root\"\nallow_setgroups = true\n", LintOptions{}))
	none(t, lint(t, "[[policy]]\nname = \"build\"\n[policy.jail]\nuser_mode = \"root\"\nallow_setgroups = true\n", LintOptions{}))
	one(t, lint(t, "[jail]\nallow_setgroups = true\n", LintOptions{}),
		"t.toml:2: warning: [jail]: allow_setgroups = true has no effect", `user_mode = "self"`)
	one(t, lint(t, "[[policy]]\nname = \"p\"\n[policy.jail]\nallow_setgroups = true\n", LintOptions{}),
		`t.toml:4: warning: policy[1] "p": allow_setgroups = true has no effect`, "always denies setgroups")
}
