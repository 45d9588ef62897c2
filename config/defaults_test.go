package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// wantDefaults are the documented defaults, written out by hand.
func wantDefaults() *Config {
	return &Config{
		Server: Server{
			Listen:              ":2222",
			HostKeys:            []string{},
			StateDir:            "/run/loginjail",
			LibDir:              "/var/lib/loginjail",
			PAMService:          "loginjail",
			MaxAuthTries:        6,
			MaxSessions:         10,
			MaxStartups:         "10:30:100",
			LoginGraceTime:      Duration{2 * time.Minute},
			ClientAliveCountMax: 3,
			AcceptEnv:           []string{"LANG", "LC_*"},
			AuthorizedKeysFile:  ".ssh/authorized_keys",
			ProxyProtocolFrom:   []string{},

			PermitRootLogin:              RootNo,
			PasswordAuthentication:       true,
			KbdInteractiveAuthentication: true,
			PubkeyAuthentication:         true,
			AuthenticationMethods:        []string{},
			AllowUsers:                   []string{},
			DenyUsers:                    []string{},
			AllowGroups:                  []string{},
			DenyGroups:                   []string{},
			RecordDir:                    "/var/log/loginjail/sessions",
		},
		Jail: Jail{
			UserMode:    "self",
			Rootfs:      "host",
			Hostname:    "{user}-{id}",
			Path:        "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
			Lang:        "C.UTF-8",
			TmpSize:     512 << 20,
			Hide:        []string{},
			Share:       "none",
			CapsAdd:     []string{},
			CapsDrop:    []string{},
			Seccomp:     "default",
			SeccompDeny: []string{},

			AllowTCPForwarding:   true,
			AllowAgentForwarding: true,
			Record:               "none",
			RecordMaxSize:        100 << 20,
			TimeoutWarning:       Duration{5 * time.Minute},
			Network: Network{
				Mode:      "none",
				Bridge:    "lj0",
				Subnet:    "10.213.0.0/16",
				DNS:       []string{},
				Allow:     []string{},
				Deny:      []string{},
				HostAllow: []string{},
			},
			Limits: Limits{Nofile: 1024},
		},
		Source: defaultsName,
	}
}

func TestDefault(t *testing.T) {
	got := Default()
	want := wantDefaults()
	want.lines = got.lines // where the keys are, not part of the values
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	// Each call is a fresh copy.
	got.Jail.Hide = append(got.Jail.Hide, "/x")
	if len(Default().Jail.Hide) != 0 {
		t.Errorf("Default() shares memory between calls")
	}
}

// TestDefaultTOMLDocumentsEveryKey checks that default.toml sets every key
// of the schema (so it equals Default() with no help from Go zero values)
// and that each key has a comment line right above it.
func TestDefaultTOMLDocumentsEveryKey(t *testing.T) {
	var tree map[string]any
	if _, err := toml.Decode(DefaultTOML(), &tree); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(DefaultTOML(), "\n")
	ix := indexLines(DefaultTOML())
	var walk func(typ reflect.Type, tree map[string]any, path []string)
	walk = func(typ reflect.Type, tree map[string]any, path []string) {
		for key, i := range fieldsByKey(typ) {
			f := typ.Field(i)
			p := append(append([]string(nil), path...), key)
			name := strings.Join(p, ".")
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				continue // [[policy]]: none by default
			}
			v, ok := tree[key]
			if !ok {
				t.Errorf("default.toml does not set %s", name)
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, v.(map[string]any), p)
				continue
			}
			line := ix.lineOf(p)
			if line < 2 || !strings.HasPrefix(strings.TrimSpace(lines[line-2]), "#") {
				t.Errorf("default.toml: %s (line %d) has no comment line above it", name, line)
			}
		}
	}
	walk(reflect.TypeFor[Config](), tree, nil)
}

func TestDefaultsAreValid(t *testing.T) {
	if _, err := parse(defaultsName, DefaultTOML(), &Config{}); err != nil {
		t.Fatalf("embedded defaults: %v", err)
	}
	// A broken embedded file is reported with the embedded name.
	_, err := parse(defaultsName, "[jail]\nuser_mode = \"nobody\"\n", Default())
	if err == nil || !strings.HasPrefix(err.Error(), "<embedded defaults>:2: jail.user_mode:") {
		t.Errorf("got %v", err)
	}
}
