package config

import (
	"strings"
	"testing"
)

func TestIndexLines(t *testing.T) {
	src := `# comment with [fake.header] and key = "x"
top = "a # not a comment = really"   # trailing [comment]

[server]
listen = ":22" # port
"quoted.key" = 1
accept_env = [
  "LANG",   # first
  "LC_*",
]
banner = """
[jail]
hostname = "fake"
"""
pam_service = '''
x = y'''

[ jail . network ]
mode = 'nat'
  dns = ["1.1.1.1", "8.8.8.8"]

[jail]
limits.memory = "1G"
limits = { pids = 5 }

[[policy]]
name = "a\"b = c # d"
[policy.jail]
hostname = "x"
network = { mode = "none",
  bridge = "br1" }

[[policy]]
[policy.jail.limits]
cpu = 1.5
`
	ix := indexLines(src)
	tests := []struct {
		path string
		want int
	}{
		{"top", 2},
		{"server", 4},
		{"server.listen", 5},
		{"server.quoted.key", 6},
		{"server.accept_env", 7},
		{"server.accept_env.1", 8},
		{"server.accept_env.2", 9},
		{"server.banner", 11},
		{"server.pam_service", 15},
		{"jail", 18},
		{"jail.network", 18},
		{"jail.network.mode", 19},
		{"jail.network.dns", 20},
		{"jail.limits", 23},
		{"jail.limits.memory", 23},
		{"jail.limits.pids", 24},
		{"policy", 26},
		{"policy.1", 26},
		{"policy.1.name", 27},
		{"policy.1.jail", 28},
		{"policy.1.jail.hostname", 29},
		{"policy.1.jail.network", 30},
		{"policy.1.jail.network.mode", 30},
		{"policy.1.jail.network.bridge", 31},
		{"policy.2", 33},
		{"policy.2.jail", 34},
		{"policy.2.jail.limits", 34},
		{"policy.2.jail.limits.cpu", 35},
		{"policy.2.jail.limits.nothing", 34}, // falls back to the table
		{"nowhere", 0},
	}
	for _, tt := range tests {
		parts := strings.Split(tt.path, ".")
		if tt.path == "server.quoted.key" {
			parts = []string{"server", "quoted.key"}
		}
		if got := ix.lineOf(parts); got != tt.want {
			t.Errorf("line of %s = %d, want %d", tt.path, got, tt.want)
		}
	}
	// The fake header inside the multi-line string must not have created a table.
	if _, ok := ix[pathKey([]string{"jail", "hostname"})]; ok {
		t.Errorf("a key inside a multi-line string was indexed")
	}
}
