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

	"github.com/loginjail/loginjail/config"
)

const shipped = "loginjail.toml"

// TestShippedConfigLoads: the file validates as it is shipped, with the
// three example policies in order.
func TestShippedConfigLoads(t *testing.T) {
	c, err := config.Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range c.Policies {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "exam,build,default" {
		t.Errorf("policies %v, want exam, build, default", names)
	}
	exam, build := c.PolicyJail(0), c.PolicyJail(1)
	if exam.Network.Mode != "none" || exam.Limits.Memory == 0 || exam.Limits.Pids == 0 {
		t.Errorf("exam policy: network %q, limits %+v", exam.Network.Mode, exam.Limits)
	}
	if build.UserMode != "root" || build.Rootfs == "host" || build.Network.Mode != "nat" {
		t.Errorf("build policy: user_mode %q rootfs %q network %q", build.UserMode, build.Rootfs, build.Network.Mode)
	}
	// A user in no group of note gets the catch-all policy.
	r, err := c.Resolve("alice", []string{"alice", "users"}, netip.Addr{})
	if err != nil || r.Policy != "default" {
		t.Errorf("alice resolves to %q, %v; want the default policy", r.Policy, err)
	}
}

// keyLine is a key set or shown commented with a single '#'.
var keyLine = regexp.MustCompile(`^#?([a-z_]+) = `)

// tableLine is a table header (never commented).
var tableLine = regexp.MustCompile(`^\[\[?([a-z_.]+)\]\]?\s*$`)

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
		if strings.HasPrefix(line, "[[policy]]") {
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
