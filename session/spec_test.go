package session

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/jail"
)

func TestSpecFor(t *testing.T) {
	cfg, err := config.Parse("t.toml", []byte(`
[server]
state_dir = "/run/lj"
lib_dir = "/var/lib/lj"
[jail]
hostname = "h-{user}-{id}"
hide = ["/srv/secret"]
[[policy]]
name = "builders"
match_groups = ["build"]
[policy.jail]
user_mode = "root"
rootfs = "/srv/img"
shell = "/bin/zsh"
`))
	if err != nil {
		t.Fatal(err)
	}
	who := &Identity{Name: "al_ice", UID: 1000, GID: 1000, Home: "/home/al_ice/", Shell: "/bin/bash"}
	ids := config.SubIDs{UIDStart: 200000, GIDStart: 300000}

	r, _ := cfg.Resolve("al_ice", []string{"al_ice"}, netip.Addr{})
	spec, err := SpecFor(cfg, r, who, ids, "0a1b2c3d")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Hostname != "h-al-ice-0a1b2c3d" {
		t.Errorf("hostname %q", spec.Hostname)
	}
	if spec.Home != "/home/al_ice" || spec.SessionDir != "/run/lj/sessions/0a1b2c3d" || spec.Rootfs != jail.RootfsHost {
		t.Errorf("home %q session dir %q rootfs %q", spec.Home, spec.SessionDir, spec.Rootfs)
	}
	if got := strings.Join(spec.Hide, " "); got != "/run/lj /var/lib/lj /etc/loginjail /srv/secret" {
		t.Errorf("hidden %q", got)
	}
	if spec.InsideUID() != 1000 || ShellFor(r, who) != "/bin/bash" {
		t.Errorf("inside uid %d shell %q", spec.InsideUID(), ShellFor(r, who))
	}

	r, _ = cfg.Resolve("al_ice", []string{"al_ice", "build"}, netip.Addr{})
	spec, err = SpecFor(cfg, r, who, ids, "0a1b2c3d")
	if err != nil {
		t.Fatal(err)
	}
	if spec.UserMode != jail.UserModeRoot || spec.InsideUID() != 0 || spec.Rootfs != "/srv/img" || ShellFor(r, who) != "/bin/zsh" {
		t.Errorf("builders policy: mode %q inside %d rootfs %q shell %q", spec.UserMode, spec.InsideUID(), spec.Rootfs, ShellFor(r, who))
	}
	env := strings.Join(LoginEnv(r, who, spec, "/bin/zsh", "xterm"), " ")
	if env != "HOME=/home/al_ice/ USER=root LOGNAME=root SHELL=/bin/zsh PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin LANG=C.UTF-8 XDG_RUNTIME_DIR=/run/user/0 TERM=xterm" {
		t.Errorf("env %q", env)
	}

	if spec.Network != nil {
		t.Errorf("network none gave a NAT spec: %+v", spec.Network)
	}
	r.Jail.Network.Mode = "nat"
	r.Jail.Network.Allow = []string{"192.0.2.0/24", "tcp/443"}
	r.Jail.Network.HostAllow = []string{"udp/53"}
	spec, err = SpecFor(cfg, r, who, ids, "0a1b2c3d")
	if err != nil {
		t.Fatal(err)
	}
	n := spec.Network
	if n == nil || n.SessionID != "0a1b2c3d" || n.Bridge != "lj0" || n.Subnet.String() != "10.213.0.0/16" || n.StateDir != "/run/lj/net" ||
		len(n.Allow) != 2 || n.Allow[1].Proto != "tcp" || n.Allow[1].PortLo != 443 || len(n.HostAllow) != 1 || n.HostAllow[0].Proto != "udp" {
		t.Errorf("nat spec %+v", n)
	}
}

func TestReplaceEnv(t *testing.T) {
	got := replaceEnv([]string{"HOME=/h", "USER=u", "A=1"}, "HOME=/root", "USER=root", "TERM=x")
	if strings.Join(got, " ") != "HOME=/root USER=root A=1 TERM=x" {
		t.Errorf("got %q", got)
	}
}

func TestParsePasswdLine(t *testing.T) {
	id, ok := parsePasswdLine("alice:x:1001:1002:Alice,,,:/home/alice:/bin/bash", "alice")
	if !ok || !reflect.DeepEqual(*id, Identity{Name: "alice", UID: 1001, GID: 1002, Gecos: "Alice,,,", Home: "/home/alice", Shell: "/bin/bash"}) {
		t.Errorf("got %+v %v", id, ok)
	}
	for _, line := range []string{"alice:x:1001:1002::/home/alice:/bin/bash", "alicex:x:1:1::/h:/s", "alice:x:bad:1::/h:/s", "alice:x:1:1"} {
		if _, ok := parsePasswdLine(line, "alice"); ok && !strings.HasPrefix(line, "alice:x:1001") {
			t.Errorf("%q parsed", line)
		}
	}
}

func TestConfinementFor(t *testing.T) {
	cfg, err := config.Parse("t.toml", []byte(`
[jail]
caps_add = ["net_admin"]
caps_drop = ["CAP_MKNOD"]
seccomp_deny = ["ptrace"]
[jail.limits]
memory = "1G"
pids = 100
cpu = 2
nofile = 4096
per_user = true
[[policy]]
name = "trusted"
match_groups = ["staff"]
[policy.jail]
user_mode = "root"
seccomp = "off"
nested_userns = true
`))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := cfg.Resolve("al", []string{"al"}, netip.Addr{})
	c, err := ConfinementFor(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Caps) != 0 {
		t.Errorf("user_mode self: caps %v, want none", c.Caps)
	}
	if c.Seccomp.Off || c.Seccomp.NestedUserns || strings.Join(c.Seccomp.Deny, ",") != "ptrace" {
		t.Errorf("seccomp %+v", c.Seccomp)
	}
	if l := c.Limits; l.Memory != 1<<30 || l.Pids != 100 || l.CPU != 2 || l.Nofile != 4096 || !l.PerUser {
		t.Errorf("limits %+v", l)
	}
	r, _ = cfg.Resolve("al", []string{"al", "staff"}, netip.Addr{})
	c, err = ConfinementFor(r)
	if err != nil {
		t.Fatal(err)
	}
	caps := strings.Join(c.Caps, " ")
	if !strings.Contains(caps, "CAP_NET_ADMIN") || strings.Contains(caps, "CAP_MKNOD") || !strings.Contains(caps, "CAP_CHOWN") || strings.Contains(caps, "CAP_SYS_ADMIN") {
		t.Errorf("root caps %q: want Docker's set + NET_ADMIN - MKNOD", caps)
	}
	if !c.Seccomp.Off || !c.Seccomp.NestedUserns {
		t.Errorf("trusted seccomp %+v", c.Seccomp)
	}
}

func TestPassedEnv(t *testing.T) {
	got := passedEnv([]string{"LANG=de_DE.UTF-8", "TZ=Europe/Berlin", "HOME=/home/u", "PATH=/bin", "SSH_TTY=/dev/pts/3",
		"SSH_CONNECTION=192.0.2.1 5 192.0.2.2 22", "LOGINJAIL_CONFIG=/x", "_LOGINJAIL_INIT=3", "XDG_RUNTIME_DIR=/run/user/1000", "SHLVL=1", "junk"})
	if want := "LANG=de_DE.UTF-8 TZ=Europe/Berlin SSH_CONNECTION=192.0.2.1 5 192.0.2.2 22"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
