// Package packaging holds what a distribution package ships; this test
// keeps the shipped /etc/loginjail/loginjail.toml honest.
package packaging

import (
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/loginjail/loginjail/config"
)

const shipped = "loginjail.toml"

// TestShippedConfigLoads: the file validates as it is shipped, with only
// the catch-all policy live (the examples are commented out, so that a
// fresh install's doctor has nothing to warn about them), and nothing for
// check-config to find.
func TestShippedConfigLoads(t *testing.T) {
	c, err := config.Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	if names := policyNames(c); names != "default" {
		t.Errorf("live policies %q, want only default (the examples commented out)", names)
	}
	r, err := c.Resolve("alice", []string{"alice", "exam", "build"}, netip.Addr{})
	if err != nil || r.Policy != "default" {
		t.Errorf("alice resolves to %q, %v; want the default policy", r.Policy, err)
	}
	for _, f := range c.Lint(config.LintOptions{}) {
		t.Errorf("check-config finds: %s", f)
	}
}

// TestShippedExamplesLoad: the commented example policies are complete:
// with one '#' removed from each line of their blocks (a "#[[policy]]"
// line up to the next blank line), as the file tells admins to do, the
// file loads, the examples come before the catch-all in order, and
// check-config finds nothing (no example shadowed).
func TestShippedExamplesLoad(t *testing.T) {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in, blocks := false, 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#[[policy]]") {
			in = true
			blocks++
		}
		if strings.TrimSpace(line) == "" {
			in = false
		}
		if in {
			if !strings.HasPrefix(line, "#") {
				t.Fatalf("example block line %q is not commented", line)
			}
			line = line[1:]
		}
		out = append(out, line)
	}
	if blocks != 2 {
		t.Fatalf("%d commented example blocks, want 2 (exam, build)", blocks)
	}
	c, err := config.Parse("uncommented", []byte(strings.Join(out, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if names := policyNames(c); names != "exam,build,default" {
		t.Fatalf("policies %q, want exam,build,default", names)
	}
	// The exam example shows a name-based allow list, one more '#' down.
	var names []string
	for _, line := range out {
		if rest, ok := strings.CutPrefix(line, "#allow = "); ok {
			var list []string
			if err := toml.Unmarshal([]byte("l = "+rest), &struct{ L *[]string }{&list}); err != nil {
				t.Fatalf("exam's name allow list %q: %v", rest, err)
			}
			for _, e := range list {
				rs, err := config.ParseRules(e)
				if err != nil {
					t.Errorf("exam's name allow list: %v", err)
				}
				for _, r := range rs {
					if r.Name != "" {
						names = append(names, r.Name)
					}
				}
			}
		}
	}
	if len(names) == 0 {
		t.Error("the exam example shows no allow list by name")
	}
	exam, build := c.PolicyJail(0), c.PolicyJail(1)
	if exam.Network.Mode != "none" || exam.Limits.Memory == 0 || exam.Limits.Pids == 0 {
		t.Errorf("exam policy: network %q, limits %+v", exam.Network.Mode, exam.Limits)
	}
	if build.UserMode != "root" || build.Rootfs == "host" || build.Network.Mode != "nat" {
		t.Errorf("build policy: user_mode %q rootfs %q network %q", build.UserMode, build.Rootfs, build.Network.Mode)
	}
	for groups, want := range map[string]string{"exam": "exam", "build": "build", "exam,staff": "default", "users": "default"} {
		r, err := c.Resolve("alice", strings.Split(groups, ","), netip.Addr{})
		if err != nil || r.Policy != want {
			t.Errorf("alice in groups %s resolves to %q, %v; want %q", groups, r.Policy, err, want)
		}
	}
	for _, f := range c.Lint(config.LintOptions{}) {
		t.Errorf("check-config finds: %s", f)
	}
}

func policyNames(c *config.Config) string {
	var names []string
	for _, p := range c.Policies {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

// keyLine is a key set or shown commented with a single '#' (two in a
// commented example policy).
var keyLine = regexp.MustCompile(`^#{0,2}([a-z_][a-z0-9_]*) = `)

// tableLine is a table header, live or in a commented example.
var tableLine = regexp.MustCompile(`^#?\[\[?([a-z_.]+)\]\]?\s*$`)

// keysByTable reads which keys the file shows under which table.
func keysByTable(t *testing.T) map[string]bool {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	table := ""
	for _, line := range strings.Split(string(b), "\n") {
		if m := tableLine.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			seen[table+"."+m[1]] = true
		}
	}
	return seen
}

// schemaKeys lists every key of the schema as "table.key", walking the
// toml tags of config.Config.
func schemaKeys(typ reflect.Type, table string, out *[]string) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		name := tag
		if table != "" {
			name = table + "." + tag
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem() // [[policy]]
		}
		if ft.Kind() == reflect.Struct && !isValueType(ft) {
			schemaKeys(ft, name, out)
			continue
		}
		*out = append(*out, name)
	}
}

// isValueType: structs the schema uses as single values (durations).
func isValueType(t reflect.Type) bool {
	return t == reflect.TypeOf(config.Duration{})
}

// TestShippedConfigShowsEveryKey: every key of the schema is set or shown
// commented under its table, so the file documents all of them.
func TestShippedConfigShowsEveryKey(t *testing.T) {
	var keys []string
	schemaKeys(reflect.TypeOf(config.Config{}), "", &keys)
	if len(keys) < 40 {
		t.Fatalf("only %d schema keys found: %v", len(keys), keys)
	}
	seen := keysByTable(t)
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("%s: key %s is neither set nor shown commented", shipped, k)
		}
	}
}

// TestShippedCommentedDefaults: the values shown commented are the
// built-in defaults (uncommented, the [server] and [jail] tables equal
// config.Default()), so the file does not lie about what applies.
func TestShippedCommentedDefaults(t *testing.T) {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inPolicies := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "[[policy]]") || strings.HasPrefix(line, "#[[policy]]") {
			inPolicies = true
		}
		if !inPolicies && keyLine.MatchString(line) {
			line = strings.TrimPrefix(line, "#")
		}
		if inPolicies {
			continue
		}
		out = append(out, line)
	}
	c, err := config.Parse("uncommented", []byte(strings.Join(out, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	if !reflect.DeepEqual(c.Server, d.Server) {
		t.Errorf("commented [server] values differ from the defaults:\n%+v\n%+v", c.Server, d.Server)
	}
	if !reflect.DeepEqual(c.Jail, d.Jail) {
		t.Errorf("commented [jail] values differ from the defaults:\n%+v\n%+v", c.Jail, d.Jail)
	}
}

// TestManPageShowsEveryKey: loginjail.toml(5) documents every key.
func TestManPageShowsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../docs/man/loginjail.toml.5.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	schemaKeys(reflect.TypeOf(config.Config{}), "", &keys)
	page := string(b)
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(page, "**"+leaf+"**") {
			t.Errorf("loginjail.toml(5) does not document %s", k)
		}
	}
}

// TestUnitChecksTheConfigItServes: every check-config the unit runs gets
// the options ExecStart gives sshd, so that a --config in
// /etc/default/loginjail's LOGINJAIL_OPTS is the file checked before the
// start and each reload, not the default one.
func TestUnitChecksTheConfigItServes(t *testing.T) {
	b, err := os.ReadFile("systemd/loginjail.service")
	if err != nil {
		t.Fatal(err)
	}
	var start string
	var checks []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch {
		case k == "ExecStart":
			start = v
		case strings.HasPrefix(k, "Exec") && strings.Contains(v, " check-config"):
			checks = append(checks, k+"="+v)
		}
	}
	opts := start[strings.Index(start, " sshd")+len(" sshd"):]
	if !strings.Contains(opts, "$LOGINJAIL_OPTS") {
		t.Fatalf("ExecStart=%s does not take $LOGINJAIL_OPTS", start)
	}
	if len(checks) < 2 {
		t.Fatalf("want check-config in ExecStartPre and ExecReload, got %q", checks)
	}
	for _, c := range checks {
		if !strings.HasSuffix(c, " check-config"+opts) {
			t.Errorf("%s: want the options of ExecStart (check-config%s)", c, opts)
		}
	}
	d, err := os.ReadFile("default/loginjail")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(d), "--config") {
		t.Errorf("default/loginjail does not say how to give another config")
	}
}

// TestShippedConfigShowsOpenSSHKeys: the file tells an admin taking over
// port 22 how to keep OpenSSH's host keys, listing only types loginjail
// serves.
func TestShippedConfigShowsOpenSSHKeys(t *testing.T) {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	const want = `host_keys = ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]`
	if !strings.Contains(string(b), want) {
		t.Errorf("%s does not show %s", shipped, want)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not show %s", want)
	}
}
