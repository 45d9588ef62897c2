package config

// DefaultPath is the configuration file used when no --config is given.
// When it does not exist either, the embedded defaults apply.
const DefaultPath = "/etc/loginjail/loginjail.toml"

// Config is a whole loginjail configuration: the SSH server settings, the
// default jail and the [[policy]] blocks that override it.
type Config struct {
	Server   Server   `toml:"server"`
	Jail     Jail     `toml:"jail"`
	Policies []Policy `toml:"policy"`
	// Source is the file the configuration was read from, or
	// "<embedded defaults>".
	Source string `toml:"-"`

	// lines maps the keys of Source to their lines, for Lint.
	lines lineIndex
}

// Server holds the settings of the built-in SSH server (`loginjail sshd`).
// Keys are named after the OpenSSH option where one exists.
type Server struct {
	Listen                string    `toml:"listen"`                  // address to listen on, host:port
	HostKeys              []string  `toml:"host_keys"`               // private host key files; empty = generated under lib_dir
	StateDir              string    `toml:"state_dir"`               // runtime state (registry, sockets), absolute
	LibDir                string    `toml:"lib_dir"`                 // persistent state (host keys, images), absolute
	PAMService            string    `toml:"pam_service"`             // PAM service name, a file in /etc/pam.d
	MaxAuthTries          int       `toml:"max_auth_tries"`          // 1..100
	MaxSessions           int       `toml:"max_sessions"`            // per connection, 1..1000
	MaxStartups           string    `toml:"max_startups"`            // OpenSSH "start:rate:full" or a single number
	LoginGraceTime        Duration  `toml:"login_grace_time"`        // 0 = no limit
	ClientAliveInterval   Duration  `toml:"client_alive_interval"`   // 0 = no keepalives
	ClientAliveCountMax   int       `toml:"client_alive_count_max"`  // unanswered keepalives before disconnect
	PermitRootLogin       RootLogin `toml:"permit_root_login"`       // "yes", "no", "prohibit-password", "forced-commands-only"; true/false = yes/no
	PermitUserEnvironment bool      `toml:"permit_user_environment"` // honour ~/.ssh/environment
	AcceptEnv             []string  `toml:"accept_env"`              // glob patterns of client variables accepted
	AuthorizedKeysFile    string    `toml:"authorized_keys_file"`    // OpenSSH syntax: space separated, %h %u %%, relative to home
	Banner                string    `toml:"banner"`                  // file sent before authentication; "" = none

	// ProxyProtocolFrom lists the load balancers (IP addresses or CIDRs)
	// whose connections carry a PROXY protocol header (v1 or v2) naming
	// the real client; empty = PROXY protocol off. See [Server.ProxyTrusted].
	ProxyProtocolFrom []string `toml:"proxy_protocol_from"`

	// Access control, named after OpenSSH's options (see access.go).
	PasswordAuthentication       bool     `toml:"password_authentication"`        // the "password" method (PAM)
	KbdInteractiveAuthentication bool     `toml:"kbd_interactive_authentication"` // the "keyboard-interactive" method (PAM)
	PubkeyAuthentication         bool     `toml:"pubkey_authentication"`          // the "publickey" method (keys and certificates)
	AuthenticationMethods        []string `toml:"authentication_methods"`         // comma lists, one of which must be completed in order; [] = any one method
	AllowUsers                   []string `toml:"allow_users"`                    // user patterns (user@host too); non-empty = only these
	DenyUsers                    []string `toml:"deny_users"`                     // user patterns (user@host too) refused
	AllowGroups                  []string `toml:"allow_groups"`                   // group patterns; non-empty = only members
	DenyGroups                   []string `toml:"deny_groups"`                    // group patterns whose members are refused
	TrustedUserCAKeys            string   `toml:"trusted_user_ca_keys"`           // file of CA public keys whose user certificates log in; "" = none
	AuthorizedPrincipalsFile     string   `toml:"authorized_principals_file"`     // with trusted_user_ca_keys: principals accepted, %h %u %%; "" = the user name
	RevokedKeys                  string   `toml:"revoked_keys"`                   // file of revoked public keys and certificates (text list; KRL refused); "" = none
	AuthorizedKeysCommand        string   `toml:"authorized_keys_command"`        // absolute program and arguments (%u %h %t %f %k %%) printing authorized_keys lines
	AuthorizedKeysCommandUser    string   `toml:"authorized_keys_command_user"`   // the account the command runs as; never root
	// RecordDir is where session recordings go: a directory per session,
	// <record_dir>/<session id>/ (see [Jail.Record]). Absolute.
	RecordDir string `toml:"record_dir"`
	// MetricsListen is where the SSH listener serves Prometheus metrics
	// (/metrics), host:port; "" = off.
	MetricsListen string `toml:"metrics_listen"`
}

// Jail describes the jail a login gets: the [jail] table, or the result of
// applying a [policy.jail] override to it (see [Config.Resolve]).
type Jail struct {
	UserMode string   `toml:"user_mode"` // "self": keep own uid inside; "root": uid 0 inside
	Rootfs   string   `toml:"rootfs"`    // "host" (host / read-only) or an absolute image directory (per-session overlay)
	Hostname string   `toml:"hostname"`  // template with {user} and {id}; see ExpandHostname
	Shell    string   `toml:"shell"`     // "" = login shell from passwd, else an absolute path
	Path     string   `toml:"path"`      // PATH inside: colon list of absolute directories
	Lang     string   `toml:"lang"`      // LANG inside; "" = not set
	TmpSize  Size     `toml:"tmp_size"`  // size of each tmpfs (/tmp, /var/tmp, /dev/shm, /run); at least 1M
	Hide     []string `toml:"hide"`      // extra absolute paths covered with an empty tmpfs
	Share    string   `toml:"share"`     // "none": a jail per login; "user": logins of one user share a jail

	CapsAdd      []string `toml:"caps_add"`      // user_mode "root": added to Docker's default bounding set; "ALL" = every capability
	CapsDrop     []string `toml:"caps_drop"`     // user_mode "root": removed from it; "ALL" = none at all
	Seccomp      string   `toml:"seccomp"`       // "default": the built-in filter; "off": none (trusted groups; logged)
	SeccompDeny  []string `toml:"seccomp_deny"`  // syscalls refused with EPERM beyond the default list
	NestedUserns bool     `toml:"nested_userns"` // let jailed processes create user namespaces (rootless containers)
	// AllowSetgroups lets the jail's root (user_mode "root") call
	// setgroups, and so shed the user's supplementary groups; "self" jails
	// always deny it.
	AllowSetgroups bool `toml:"allow_setgroups"`
	// SubIDAllocate gives a user with no subordinate id range (in the
	// files or from NSS) a free one on first login, appended to
	// /etc/subuid and /etc/subgid under shadow's lock.
	SubIDAllocate bool `toml:"subid_allocate"`

	// Forwarding through the built-in SSH server; it always happens inside
	// the jail's network namespace, never the host's. A key's
	// no-port-forwarding, no-agent-forwarding, restrict and permitopen=
	// options narrow it further.
	AllowTCPForwarding   bool `toml:"allow_tcp_forwarding"`   // ssh -L (connects from inside the jail) and ssh -R (listens inside it)
	AllowAgentForwarding bool `toml:"allow_agent_forwarding"` // ssh -A: an agent socket inside the jail, SSH_AUTH_SOCK set

	// Session recording, done by a root process outside the jail (the
	// per-connection process, or the PAM login's holder).
	Record         string `toml:"record"`          // "none", "pty" (terminal channels) or "all" (every channel, SFTP too)
	RecordInput    bool   `toml:"record_input"`    // record what the client types ("i" events); off keeps passwords out
	RecordMaxSize  Size   `toml:"record_max_size"` // per session; at the cap a marker is written and recording stops
	RecordRequired bool   `toml:"record_required"` // refuse the login when the recording cannot be written

	// Timeouts; "0s" = none. Before either ends a session every terminal
	// gets a notice timeout_warning ahead, and another a minute ahead.
	IdleTimeout    Duration `toml:"idle_timeout"`     // no client input on any channel for this long ends the session
	MaxSessionTime Duration `toml:"max_session_time"` // hard cap from login
	TimeoutWarning Duration `toml:"timeout_warning"`  // lead time of the first notice

	Network Network `toml:"network"`
	Limits  Limits  `toml:"limits"`
}

// Network is the [jail.network] table.
type Network struct {
	Mode      string   `toml:"mode"`       // "none" (only lo) or "nat"
	Bridge    string   `toml:"bridge"`     // host bridge for nat, a Linux interface name
	Subnet    string   `toml:"subnet"`     // IPv4 CIDR the jail addresses come from, prefix 8..30
	Subnet6   string   `toml:"subnet6"`    // IPv6 ULA CIDR (fd00::/8), prefix 48..64, for IPv6 in nat; "" = IPv4 only
	DNS       []string `toml:"dns"`        // resolvers written to the jail's resolv.conf
	Allow     []string `toml:"allow"`      // egress allowed (see ParseRule), beyond the default
	Deny      []string `toml:"deny"`       // egress denied (see ParseRule)
	HostAllow []string `toml:"host_allow"` // "proto/port" on the host the jail may reach, e.g. "udp/53"
}

// Limits is the [jail.limits] table. Zero means "no limit" (or "inherit" for
// the rlimits) everywhere.
type Limits struct {
	Memory     Size    `toml:"memory"`      // cgroup memory.max; 0 = unlimited
	Swap       Size    `toml:"swap"`        // cgroup memory.swap.max; 0 = not set
	Pids       int     `toml:"pids"`        // cgroup pids.max; 0 = unlimited
	CPU        float64 `toml:"cpu"`         // cores of cpu.max quota; 0 = unlimited; up to 1024
	IOWeight   int     `toml:"io_weight"`   // cgroup io.weight 1..10000; 0 = not set
	Nofile     int     `toml:"nofile"`      // RLIMIT_NOFILE; 0 = inherit
	Nproc      int     `toml:"nproc"`       // RLIMIT_NPROC; 0 = inherit
	BestEffort bool    `toml:"best_effort"` // start anyway when a limit cannot be applied (log a warning)
	PerUser    bool    `toml:"per_user"`    // limits apply to all jails of a user together, not to each
}

// Policy is one [[policy]] block: match criteria and a [policy.jail] table of
// overrides. A policy matches when every non-empty match list matches; a
// policy with no match list matches everyone.
type Policy struct {
	Name           string   `toml:"name"`            // default "policy[N]", N the 1-based index
	MatchUsers     []string `toml:"match_users"`     // path.Match globs on the user name; "!pat" rejects
	MatchGroups    []string `toml:"match_groups"`    // same, on the user's group names
	MatchAddresses []string `toml:"match_addresses"` // CIDRs or IPs of the remote address; "!cidr" rejects
	Line           int      `toml:"-"`               // line of the [[policy]] header

	// override is the raw [policy.jail] table as decoded from TOML. It is
	// applied on top of Config.Jail by Resolve, key by key.
	override map[string]any
}
