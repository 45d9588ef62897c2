package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestSshdJailedLogin: a command over loginjail sshd runs as the user in
// a jail of their own (own uid map, pid namespace, hostname), and the
// session is listed with frontdoor "sshd" while it runs.
func TestSshdJailedLogin(t *testing.T) {
	s := newSSHD(t, "", "[jail]\nhostname = \"sshd-{user}\"\n")
	u := testutil.NewUser(t, "sshd")
	s.authorize(u, "")
	out, serr, code := s.ssh(u, nil, "id -u; hostname; cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ';'; echo; readlink /proc/self/ns/pid")
	if code != 0 {
		t.Fatalf("ssh: exit %d: %s", code, serr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[0] != fmt.Sprint(u.UID) || lines[1] != "sshd-"+u.Name || lines[2] != idMapSelf(u.UID, u.SubUID) {
		t.Fatalf("jailed login: %q", out)
	}
	if host := readlink(t, "/proc/self/ns/pid"); lines[3] == host {
		t.Errorf("pid namespace is the host's: %s", host)
	}
	s.waitEvent("auth.success", map[string]string{"user": u.Name, "method": "publickey", "key": "SHA256:"})
	s.waitEvent("session.exec", map[string]string{"user": u.Name, "cmd": "exec: id -u"})
	end := s.waitEvent("session.end", map[string]string{"user": u.Name, "hostname": "sshd-" + u.Name, "exit": "0"})
	if end["remote"] == "" || end["session"] == "" || end["duration"] == "" {
		t.Errorf("session.end lacks remote, session or duration: %v", end)
	}
}

// TestSshdInteractive: a login through a real terminal gets a prompt on
// /dev/pts/N of the jail's own devpts, and stty size follows a resize.
func TestSshdInteractive(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdtty")
	s.authorize(u, "")
	m := newTmux(t, "ssh -t "+strings.Join(s.keyArgs(u.Name), " "))
	m.send("echo TTY=$(tty) SIZE=$(stty size) PTS=$(ls /dev/pts | tr '\\n' ,) TERM=$TERM")
	m.waitFor("TTY=/dev/pts/0 SIZE=24 80 PTS=0,ptmx, TERM=")
	m.run("resize-window", "-t", m.session, "-x", "100", "-y", "30")
	m.send("echo NOW=$(stty size)")
	m.waitFor("NOW=30 100")
	sess := s.session(u)
	m.send("exit 4")
	if st := m.exitStatus(); st != "4" {
		t.Errorf("ssh exit status %s, want 4", st)
	}
	s.e.assertGone(sess)
	if _, err := os.Stat(s.e.stateDir + "/sessions/" + sess.ID); err == nil {
		t.Error("session dir left")
	}

	// The client's terminal modes (pty-req) are in place before the
	// command runs: its first stty already sees them.
	m2 := newTmux(t, "stty intr ^X; ssh -t "+strings.Join(s.keyArgs(u.Name), " ")+" stty -a")
	m2.waitFor("intr = ^X")
	if st := m2.exitStatus(); st != "0" {
		t.Errorf("ssh -t stty -a: exit %s", st)
	}
}
