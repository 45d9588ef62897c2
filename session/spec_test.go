package session

import (
	"net/netip"
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
	if env != "HOME=/home/al_ice/ USER=root LOGNAME=root SHELL=/bin/zsh PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin LANG=C.UTF-8 TERM=xterm" {
		t.Errorf("env %q", env)
	}

	r.Jail.Network.Mode = "nat"
	if _, err := SpecFor(cfg, r, who, ids, "0a1b2c3d"); err == nil || !strings.Contains(err.Error(), "al_ice") {
		t.Errorf("nat before it exists: %v", err)
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
	if !ok || *id != (Identity{Name: "alice", UID: 1001, GID: 1002, Home: "/home/alice", Shell: "/bin/bash"}) {
		t.Errorf("got %+v %v", id, ok)
	}
	for _, line := range []string{"alice:x:1001:1002::/home/alice:/bin/bash", "alicex:x:1:1::/h:/s", "alice:x:bad:1::/h:/s", "alice:x:1:1"} {
		if _, ok := parsePasswdLine(line, "alice"); ok && !strings.HasPrefix(line, "alice:x:1001") {
			t.Errorf("%q parsed", line)
		}
	}
}
