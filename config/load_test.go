package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes content to a temporary x.toml and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// everyKey sets every key to a value other than its default.
const everyKey = `
[server]
listen = "127.0.0.1:2022"
host_keys = ["/etc/loginjail/ssh_host_ed25519_key"]
state_dir = "/run/lj"
lib_dir = "/var/lib/lj"
pam_service = "sshd"
max_auth_tries = 3
max_sessions = 20
max_startups = "5"
login_grace_time = "30s"
client_alive_interval = "1m30s"
client_alive_count_max = 5
permit_root_login = true
permit_user_environment = true
accept_env = ["TERM"]
authorized_keys_file = ".ssh/authorized_keys /etc/keys/%u"
banner = "/etc/issue.net"
proxy_protocol_from = ["192.0.2.10", "2001:db8::/32"]
password_authentication = false
kbd_interactive_authentication = false
pubkey_authentication = false
authentication_methods = ["publickey,password", "password"]
allow_users = ["alice", "bob@10.0.0.0/8"]
deny_users = ["mallory"]
allow_groups = ["staff"]
deny_groups = ["guests"]
trusted_user_ca_keys = "/etc/loginjail/user_ca.pub"
authorized_principals_file = "/etc/loginjail/principals/%u"
revoked_keys = "/etc/loginjail/revoked_keys"
authorized_keys_command = "/usr/local/bin/keys %u %f"
authorized_keys_command_user = "nobody"
record_dir = "/var/log/lj"
metrics_listen = "127.0.0.1:9322"

[jail]
user_mode = "root"
rootfs = "/srv/images/debian"
hostname = "lab-{user}"
shell = "/bin/bash"
path = "/usr/bin:/bin"
lang = "en_US.UTF-8"
tmp_size = "1G"
hide = ["/srv", "/opt/secret"]
share = "user"
caps_add = ["CAP_NET_ADMIN", "sys_ptrace"]
caps_drop = ["ALL"]
seccomp = "off"
seccomp_deny = ["ptrace"]
nested_userns = true
allow_setgroups = true
subid_allocate = true
allow_tcp_forwarding = false
allow_agent_forwarding = false
record = "all"
record_input = true
record_max_size = "1G"
record_required = true
idle_timeout = "10m"
max_session_time = "2h"
timeout_warning = "1m"

[jail.network]
mode = "nat"
bridge = "ljbr0"
subnet = "10.50.0.0/24"
subnet6 = "fd42:50::/64"
dns = ["9.9.9.9", "2620:fe::fe"]
allow = ["10.0.0.0/8", "192.0.2.1", "tcp/443", "192.0.2.2:udp/53", "198.51.100.0/24:tcp/8000-8100"]
deny = ["169.254.0.0/16"]
host_allow = ["udp/53"]

[jail.limits]
memory = "2G"
swap = 1048576
pids = 512
cpu = 1.5
io_weight = 200
nofile = 4096
nproc = 256
best_effort = true
per_user = true
`

func TestLoadEveryKey(t *testing.T) {
	c, err := Load(writeConfig(t, everyKey))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Server: Server{
			Listen:                "127.0.0.1:2022",
			HostKeys:              []string{"/etc/loginjail/ssh_host_ed25519_key"},
			StateDir:              "/run/lj",
			LibDir:                "/var/lib/lj",
			PAMService:            "sshd",
			MaxAuthTries:          3,
			MaxSessions:           20,
			MaxStartups:           "5",
			LoginGraceTime:        Duration{30 * time.Second},
			ClientAliveInterval:   Duration{90 * time.Second},
			ClientAliveCountMax:   5,
			PermitRootLogin:       RootYes,
			PermitUserEnvironment: true,
			AcceptEnv:             []string{"TERM"},
			AuthorizedKeysFile:    ".ssh/authorized_keys /etc/keys/%u",
			Banner:                "/etc/issue.net",
			ProxyProtocolFrom:     []string{"192.0.2.10", "2001:db8::/32"},

			PasswordAuthentication:       false,
			KbdInteractiveAuthentication: false,
			PubkeyAuthentication:         false,
			AuthenticationMethods:        []string{"publickey,password", "password"},
			AllowUsers:                   []string{"alice", "bob@10.0.0.0/8"},
			DenyUsers:                    []string{"mallory"},
			AllowGroups:                  []string{"staff"},
			DenyGroups:                   []string{"guests"},
			TrustedUserCAKeys:            "/etc/loginjail/user_ca.pub",
			AuthorizedPrincipalsFile:     "/etc/loginjail/principals/%u",
			RevokedKeys:                  "/etc/loginjail/revoked_keys",
			AuthorizedKeysCommand:        "/usr/local/bin/keys %u %f",
			AuthorizedKeysCommandUser:    "nobody",
			RecordDir:                    "/var/log/lj",
			MetricsListen:                "127.0.0.1:9322",
		},
		Jail: Jail{
			UserMode:       "root",
			Rootfs:         "/srv/images/debian",
			Hostname:       "lab-{user}",
			Shell:          "/bin/bash",
			Path:           "/usr/bin:/bin",
			Lang:           "en_US.UTF-8",
			TmpSize:        1 << 30,
			Hide:           []string{"/srv", "/opt/secret"},
			Share:          "user",
			CapsAdd:        []string{"CAP_NET_ADMIN", "sys_ptrace"},
			CapsDrop:       []string{"ALL"},
			Seccomp:        "off",
			SeccompDeny:    []string{"ptrace"},
			NestedUserns:   true,
			AllowSetgroups: true,
			SubIDAllocate:  true,
			Record:         "all",
			RecordInput:    true,
			RecordMaxSize:  1 << 30,
			RecordRequired: true,
			IdleTimeout:    Duration{10 * time.Minute},
			MaxSessionTime: Duration{2 * time.Hour},
			TimeoutWarning: Duration{time.Minute},
			Network: Network{
				Mode:      "nat",
				Bridge:    "ljbr0",
				Subnet:    "10.50.0.0/24",
				Subnet6:   "fd42:50::/64",
				DNS:       []string{"9.9.9.9", "2620:fe::fe"},
				Allow:     []string{"10.0.0.0/8", "192.0.2.1", "tcp/443", "192.0.2.2:udp/53", "198.51.100.0/24:tcp/8000-8100"},
				Deny:      []string{"169.254.0.0/16"},
				HostAllow: []string{"udp/53"},
			},
			Limits: Limits{Memory: 2 << 30, Swap: 1 << 20, Pids: 512, CPU: 1.5, IOWeight: 200,
				Nofile: 4096, Nproc: 256, BestEffort: true, PerUser: true},
		},
	}
	want.Source = c.Source
	want.lines = c.lines
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", *c, want)
	}
	// Compare field by field too, so that a new key not covered above fails.
	def := Default()
	for _, pair := range [][2]reflect.Value{
		{reflect.ValueOf(c.Server), reflect.ValueOf(def.Server)},
		{reflect.ValueOf(c.Jail.Network), reflect.ValueOf(def.Jail.Network)},
		{reflect.ValueOf(c.Jail.Limits), reflect.ValueOf(def.Jail.Limits)},
		{reflect.ValueOf(c.Jail), reflect.ValueOf(def.Jail)},
	} {
		for i := 0; i < pair[0].NumField(); i++ {
			if reflect.DeepEqual(pair[0].Field(i).Interface(), pair[1].Field(i).Interface()) {
				t.Errorf("everyKey leaves %s.%s at its default", pair[0].Type().Name(), pair[0].Type().Field(i).Name)
			}
		}
	}

	// The resolved jail printed by EncodeTOML loads back to the same jail.
	r, err := c.Resolve("alice", nil, netipZero)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.EncodeTOML(&b); err != nil {
		t.Fatal(err)
	}
	back, err := Load(writeConfig(t, b.String()))
	if err != nil {
		t.Fatalf("loading EncodeTOML output: %v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(back.Jail, c.Jail) {
		t.Errorf("EncodeTOML round trip:\n%+v\nwant\n%+v", back.Jail, c.Jail)
	}
}

func TestLoadKeepsDefaults(t *testing.T) {
	c, err := Load(writeConfig(t, "[jail.network]\nmode = \"nat\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Jail.Network.Mode = "nat"
	want.Source = c.Source
	want.lines = c.lines // where the file's keys are, not part of the values
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

// loadErr loads content and returns the error text with the temp path
// replaced by "x.toml".
func loadErr(t *testing.T, content string) string {
	t.Helper()
	p := writeConfig(t, content)
	_, err := Load(p)
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), p, "x.toml")
}

// TestLoadUnknownKeys: an unknown key is named with its line and, when a
// known key of its table is a small typo away, that key.
func TestLoadUnknownKeys(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"top", "listen = 1\n", `x.toml:1: unknown key "listen"`},
		{"top table", "\n[servr]\nlisten = \":22\"\n", `x.toml:2: unknown key "servr"; did you mean "server"?`},
		{"server", "[server]\nlisten = \":22\"\nmax_auth_try = 3\n", `x.toml:3: unknown key "server.max_auth_try"; did you mean "max_auth_tries"?`},
		{"jail", "[jail]\n\n\nhostnme = \"x\"\n", `x.toml:4: unknown key "jail.hostnme"; did you mean "hostname"?`},
		{"network", "[jail.network]\nmode = \"nat\"\nbridg = \"x\"\n", `x.toml:3: unknown key "jail.network.bridg"; did you mean "bridge"?`},
		{"limits", "[jail.limits]\nmemroy = \"1G\"\n", `x.toml:2: unknown key "jail.limits.memroy"; did you mean "memory"?`},
		{"dotted", "[jail]\nlimits.cpus = 2\n", `x.toml:2: unknown key "jail.limits.cpus"; did you mean "cpu"?`},
		{"inline", "[jail]\nnetwork = { mode = \"nat\",\n  brige = \"x\" }\n", `x.toml:3: unknown key "jail.network.brige"; did you mean "bridge"?`},
		{"quoted", "[jail]\n\"host name\" = \"x\"\n", `x.toml:2: unknown key "jail.\"host name\""; did you mean "hostname"?`},
		{"policy", "[[policy]]\nname = \"a\"\n[[policy]]\nname = \"b\"\nmatch_user = [\"x\"]\n", `x.toml:5: unknown key "policy[2].match_user"; did you mean "match_users"?`},
		{"policy jail", "[[policy]]\n[policy.jail]\nhostnme = \"x\"\n", `x.toml:3: unknown key "policy[1].jail.hostnme"; did you mean "hostname"?`},
		{"policy nested", "[[policy]]\nname = \"a\"\n[[policy]]\nname = \"b\"\n[policy.jail.network]\nmode = \"nat\"\nmod = \"x\"\n",
			`x.toml:7: unknown key "policy[2].jail.network.mod"; did you mean "mode"?`},
		{"policy limits", "[[policy]]\n[policy.jail]\nlimits = { pids = 3, pid = 4 }\n", `x.toml:3: unknown key "policy[1].jail.limits.pid"; did you mean "pids"?`},
		{"trys", "[server]\nmax_auth_trys = 3\n", `x.toml:2: unknown key "server.max_auth_trys"; did you mean "max_auth_tries"?`},
		{"transposed", "[server]\nmax_auth_tires = 3\n", `x.toml:2: unknown key "server.max_auth_tires"; did you mean "max_auth_tries"?`},
		{"far from all", "[jail]\nfrobnicate = true\n", `x.toml:2: unknown key "jail.frobnicate"`},
		{"policy table typo", "[[policy]]\n[policy.jial]\nhostname = \"x\"\n", `x.toml:2: unknown key "policy[1].jial"; did you mean "jail"?`},
		{"comment and string", "# hostnme = 1\n[jail]\nshell = \"/x#y=z\" # x = 1\ntypo = 1\n", `x.toml:4: unknown key "jail.typo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadErr(t, tt.content); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"syntax", "[jail]\nhostname = \n", "x.toml:2: "},
		{"type", "[server]\nmax_auth_tries = \"6\"\n", `x.toml:2: server.max_auth_tries: expected an integer, got a string`},
		{"type bool", "[server]\n\npermit_user_environment = 1\n", `x.toml:3: server.permit_user_environment: expected true or false, got an integer`},
		{"type list", "[jail]\nhide = [\n  \"/a\",\n  3,\n]\n", `x.toml:4: jail.hide[2]: expected a string, got an integer`},
		{"table", "[jail]\nnetwork = 3\n", `x.toml:2: jail.network: expected a table, got an integer`},
		{"listen", "[server]\nlisten = \"2222\"\n", `x.toml:2: server.listen: "2222" is not host:port`},
		{"host key", "[server]\nhost_keys = [\"/a\", \"b\"]\n", `x.toml:2: server.host_keys[2]: "b" is not an absolute path`},
		{"state dir", "[server]\nstate_dir = \"/run/lj/\"\n", `x.toml:2: server.state_dir: "/run/lj/" is not a clean path (use "/run/lj")`},
		{"pam", "[server]\npam_service = \"a/b\"\n", `x.toml:2: server.pam_service: "a/b" is not a PAM service name (a file name in /etc/pam.d)`},
		{"tries", "[server]\nmax_auth_tries = 0\n", `x.toml:2: server.max_auth_tries: 0 is out of range 1..100`},
		{"sessions", "[server]\nmax_sessions = 1001\n", `x.toml:2: server.max_sessions: 1001 is out of range 1..1000`},
		{"startups", "[server]\nmax_startups = \"10:300:100\"\n", `x.toml:2: server.max_startups: "10:300:100" is not "start:rate:full" (start >= 1, rate 1..100, full >= start) or a number >= 1`},
		{"startups 2", "[server]\nmax_startups = \"10:30\"\n", `x.toml:2: server.max_startups: "10:30" is not "start:rate:full" (start >= 1, rate 1..100, full >= start) or a number >= 1`},
		{"duration", "[server]\nlogin_grace_time = \"2 minutes\"\n", `x.toml:2: server.login_grace_time: "2 minutes" is not a duration like "30s", "2m" or "1h30m"`},
		{"duration type", "[server]\nlogin_grace_time = 120\n", `x.toml:2: server.login_grace_time: expected a duration string such as "30s" or "2m", got an integer`},
		{"accept env", "[server]\naccept_env = [\"LC_[\"]\n", `x.toml:2: server.accept_env[1]: "LC_[" is not a valid glob pattern`},
		{"keys file", "[server]\nauthorized_keys_file = \"%d/keys\"\n", `x.toml:2: server.authorized_keys_file: "%d/keys": only the tokens %h, %u and %% are allowed`},
		{"metrics_listen", "[server]\nmetrics_listen = \"9322\"\n", `x.toml:2: server.metrics_listen: "9322" is not host:port`},
		{"banner", "[server]\nbanner = \"issue\"\n", `x.toml:2: server.banner: "issue" is not an absolute path`},
		{"user mode", "[jail]\nuser_mode = \"other\"\n", `x.toml:2: jail.user_mode: "other" is not one of "self", "root"`},
		{"rootfs", "[jail]\nrootfs = \"images/x\"\n", `x.toml:2: jail.rootfs: must be "host" or an absolute directory: "images/x" is not an absolute path`},
		{"hostname token", "[jail]\nhostname = \"{name}\"\n", `x.toml:2: jail.hostname: "{name}": only the tokens {user} and {id} are allowed`},
		{"hostname long", "[jail]\nhostname = \"{user}-{user}-{id}\"\n", `x.toml:2: jail.hostname: "{user}-{user}-{id}" expands to "a23456789-123456789-123456789-12-a23456789-123456789-123456789-12-0123abcd" for a 32-character user name: longer than 64 characters`},
		{"hostname char", "[jail]\nhostname = \"lab_{id}\"\n", `x.toml:2: jail.hostname: "lab_{id}" expands to "lab_0123abcd" for a 32-character user name: '_' is not allowed in a hostname`},
		{"hostname dash", "[jail]\nhostname = \"{id}-\"\n", `x.toml:2: jail.hostname: "{id}-" expands to "0123abcd-" for a 32-character user name: a label may not start or end with '-'`},
		{"shell", "[jail]\nshell = \"bash\"\n", `x.toml:2: jail.shell: "bash" is not an absolute path`},
		{"path", "[jail]\npath = \"/bin:bin\"\n", `x.toml:2: jail.path: "/bin:bin": "bin" is not an absolute path`},
		{"lang", "[jail]\nlang = \"C UTF\"\n", `x.toml:2: jail.lang: "C UTF" is not a locale name`},
		{"tmp size", "[jail]\ntmp_size = \"512k\"\n", `x.toml:2: jail.tmp_size: 512K is less than the minimum 1M`},
		{"tmp size bad", "[jail]\ntmp_size = \"lots\"\n", `x.toml:2: jail.tmp_size: "lots" is not a size like "512M", "1G" or "64k"`},
		{"hide", "[jail]\nhide = [\"/\"]\n", `x.toml:2: jail.hide[1]: "/" cannot be hidden`},
		{"share", "[jail]\nshare = \"all\"\n", `x.toml:2: jail.share: "all" is not one of "none", "user"`},
		{"mode", "[jail.network]\nmode = \"bridge\"\n", `x.toml:2: jail.network.mode: "bridge" is not one of "none", "nat"`},
		{"bridge", "[jail.network]\nbridge = \"a-very-long-bridge0\"\n", `x.toml:2: jail.network.bridge: "a-very-long-bridge0" is not a network interface name (1 to 15 characters, no '/', ':' or spaces)`},
		{"subnet", "\n\n\n\n\n\n[jail.network]\nsubnet = \"10.0.0.0/33\"\n", `x.toml:8: jail.network.subnet: "10.0.0.0/33" is not a valid IPv4 CIDR`},
		{"subnet v6", "[jail.network]\nsubnet = \"fd00::/64\"\n", `x.toml:2: jail.network.subnet: "fd00::/64" is not a valid IPv4 CIDR`},
		{"subnet prefix", "[jail.network]\nsubnet = \"10.0.0.0/31\"\n", `x.toml:2: jail.network.subnet: "10.0.0.0/31": the prefix length must be from 8 to 30`},
		{"subnet6 not ula", "[jail.network]\nsubnet6 = \"2001:db8::/64\"\n", `x.toml:2: jail.network.subnet6: "2001:db8::/64" is not a unique local (fd00::/8) prefix`},
		{"subnet6 v4", "[jail.network]\nsubnet6 = \"10.0.0.0/16\"\n", `x.toml:2: jail.network.subnet6: "10.0.0.0/16" is not a valid IPv6 CIDR`},
		{"subnet6 small", "[jail.network]\nsubnet6 = \"fd00::/96\"\n", `x.toml:2: jail.network.subnet6: "fd00::/96": the prefix length must be from 48 to 64`},
		{"subnet host bits", "[jail.network]\nsubnet = \"10.0.0.1/16\"\n", `x.toml:2: jail.network.subnet: "10.0.0.1/16" has host bits set (use "10.0.0.0/16")`},
		{"dns", "[jail.network]\ndns = [\"1.1.1.1\", \"one\"]\n", `x.toml:2: jail.network.dns[2]: "one" is not an IP address`},
		{"allow proto", "[jail.network]\nallow = [\"icmp/1\"]\n", `x.toml:2: jail.network.allow[1]: rule "icmp/1": "icmp/1" is not an IPv4 CIDR`},
		{"allow port", "[jail.network]\nallow = [\"1.2.3.4:tcp/0\"]\n", `x.toml:2: jail.network.allow[1]: rule "1.2.3.4:tcp/0": port "0" is not a number from 1 to 65535`},
		{"allow range", "[jail.network]\nallow = [\"tcp/90-80\"]\n", `x.toml:2: jail.network.allow[1]: rule "tcp/90-80": port range "90-80" is reversed`},
		{"deny", "[jail.network]\ndeny = [\n\"10.0.0.0/8\",\n\"10.0.0.0/33\"]\n", `x.toml:4: jail.network.deny[2]: rule "10.0.0.0/33": "10.0.0.0/33" is not an IPv4 CIDR`},
		{"host allow", "[jail.network]\nhost_allow = [\"10.0.0.1:udp/53\"]\n", `x.toml:2: jail.network.host_allow[1]: rule "10.0.0.1:udp/53": "10.0.0.1:udp/53" is not "tcp/PORT" or "udp/PORT" (host_allow takes only "proto/port")`},
		{"memory", "[jail.limits]\nmemory = \"100k\"\n", `x.toml:2: jail.limits.memory: 100K is less than the minimum 1M (0 = unlimited)`},
		{"memory negative", "[jail.limits]\nmemory = -1\n", `x.toml:2: jail.limits.memory: -1 is negative`},
		{"pids", "[jail.limits]\npids = -1\n", `x.toml:2: jail.limits.pids: -1 is out of range 0..2147483647`},
		{"cpu", "[jail.limits]\ncpu = 2000\n", `x.toml:2: jail.limits.cpu: 2000 is not a number of cores from 0 to 1024`},
		{"cpu nan", "[jail.limits]\ncpu = nan\n", `x.toml:2: jail.limits.cpu: NaN is not a number of cores from 0 to 1024`},
		{"io weight", "[jail.limits]\nio_weight = 10001\n", `x.toml:2: jail.limits.io_weight: 10001 is out of range 1..10000`},
		{"caps_add", "[jail]\ncaps_add = [\"CAP_NET_ADMIN\", \"CAP_FLY\"]\n", `x.toml:2: jail.caps_add[2]: "CAP_FLY" is not a capability (CAP_NET_ADMIN, net_admin or ALL)`},
		{"caps_drop", "[jail]\ncaps_drop = [\"\"]\n", `x.toml:2: jail.caps_drop[1]: "" is not a capability (CAP_NET_ADMIN, net_admin or ALL)`},
		{"seccomp", "[jail]\nseccomp = \"strict\"\n", `x.toml:2: jail.seccomp: "strict" is not one of "default", "off"`},
		{"seccomp_deny", "[jail]\nseccomp_deny = [\"ptrace\", \"Mount;\"]\n", `x.toml:2: jail.seccomp_deny[2]: "Mount;" is not a syscall name`},
		{"policy seccomp", "[[policy]]\n[policy.jail]\nnested_userns = \"yes\"\n", `x.toml:3: policy[1].jail.nested_userns: expected true or false, got a string`},
		{"allow_setgroups", "[jail]\nallow_setgroups = 1\n", `x.toml:2: jail.allow_setgroups: expected true or false, got an integer`},
		{"policy allow_setgroups", "[[policy]]\n[policy.jail]\nallow_setgroups = \"yes\"\n", `x.toml:3: policy[1].jail.allow_setgroups: expected true or false, got a string`},
		{"nofile", "[jail.limits]\nnofile = -5\n", `x.toml:2: jail.limits.nofile: -5 is out of range 0..1073741824`},
		{"policy jail", "[[policy]]\nname = \"exam\"\n[policy.jail]\nshare = \"x\"\n", `x.toml:4: policy[1].jail.share: "x" is not one of "none", "user"`},
		{"policy nested", "[[policy]]\n[[policy]]\n[policy.jail.network]\nmode = \"nat\"\nsubnet = \"10.0.0.0/33\"\n", `x.toml:5: policy[2].jail.network.subnet: "10.0.0.0/33" is not a valid IPv4 CIDR`},
		{"policy type", "[[policy]]\n[policy.jail.limits]\npids = \"many\"\n", `x.toml:3: policy[1].jail.limits.pids: expected an integer, got a string`},
		{"policy inline", "[[policy]]\njail = { limits = { cpu = -1 } }\n", `x.toml:2: policy[1].jail.limits.cpu: -1 is not a number of cores from 0 to 1024`},
		{"policy jail type", "[[policy]]\njail = 1\n", `x.toml:2: policy[1].jail: expected a table, got an integer`},
		{"policy pattern", "[[policy]]\nmatch_users = [\"a\", \"![\"]\n", `x.toml:2: policy[1].match_users[2]: "![" is not a valid glob pattern`},
		{"policy empty pattern", "[[policy]]\nmatch_groups = [\"!\"]\n", `x.toml:2: policy[1].match_groups[1]: empty pattern`},
		{"policy address", "[[policy]]\nmatch_addresses = [\"10.0.0.0/8\", \"lan\"]\n", `x.toml:2: policy[1].match_addresses[2]: "lan" is not an IP address or CIDR`},
		{"policy name", "[[policy]]\nname = \"a\"\n[[policy]]\nname = \"a\"\n", `x.toml:4: policy[2].name: "a" is already the name of policy[1]`},
		{"policy empty name", "[[policy]]\nname = \"\"\n", `x.toml:2: policy[1].name: must not be empty`},
		{"policy not table", "policy = 3\n", `x.toml:1: policy: expected [[policy]] tables, got an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErr(t, tt.content)
			if got == "" {
				t.Fatalf("no error, want %s", tt.want)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("error has several lines: %q", got)
			}
			if !strings.HasPrefix(got, tt.want) || (tt.name != "syntax" && got != tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestLoadSeveralErrors(t *testing.T) {
	got := loadErr(t, "[server]\nmax_sessions = 0\nbogus = 1\n[jail]\nshare = \"x\"\n")
	want := "x.toml:2: server.max_sessions: 0 is out of range 1..1000\n" +
		"x.toml:3: unknown key \"server.bogus\"\n" +
		"x.toml:5: jail.share: \"x\" is not one of \"none\", \"user\""
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLoadErrorTypes(t *testing.T) {
	p := writeConfig(t, "[jail]\nshare = \"x\"\n")
	_, err := Load(p)
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 || ce.Key != "jail.share" || ce.File != p {
		t.Errorf("got %#v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestLoadDefaultOrFile(t *testing.T) {
	p := writeConfig(t, "[server]\nlisten = \":2200\"\n")
	c, err := LoadDefaultOrFile(p)
	if err != nil || c.Server.Listen != ":2200" || c.Source != p {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := os.Stat(DefaultPath); errors.Is(err, fs.ErrNotExist) {
		c, err := LoadDefaultOrFile("")
		if err != nil || !reflect.DeepEqual(c, Default()) {
			t.Errorf("without %s: got %+v, %v", DefaultPath, c, err)
		}
	}
}
