package vm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recUser is the account of checkLoginRecords: made by the check, so its
// login records are its own terminal logins and nothing else.
const recUser = "ljvm-rec"

// checkLoginRecords: a terminal login is where an admin looks for it, on
// either distribution. `loginjail sshd`: `who` lists it while it lasts;
// `last` then shows it once, with the client's address and a duration;
// the user's last-login record has the address (lastlog on Debian 12,
// lastlog2 on Debian 13, where `last` is wtmpdb's). PAM mode: the
// guest's OpenSSH writes utmp and wtmp (wtmpdb) itself, so `last` has one
// more login, not two.
func checkLoginRecords(t *testing.T, g *guest) {
	g.sh(t, fmt.Sprintf(`useradd -m -s /bin/bash %[1]s
install -d -m 0700 -o %[1]s -g %[1]s /home/%[1]s/.ssh
install -m 0600 -o %[1]s -g %[1]s /root/.ssh/id_ed25519.pub /home/%[1]s/.ssh/authorized_keys`, recUser))
	defer g.sh(t, "userdel -r "+recUser+" 2>/dev/null || true")
	trixie := g.im.dist == "trixie"
	g.logRecords(t, "before")

	// loginjail sshd
	pid := g.ptyLogin(t, 2222, "/tmp/ljvm-rec1.out")
	s := g.waitSessions(t, recUser, 1)[0]
	if who := g.sh(t, "who"); !strings.Contains(who, recUser+" ") {
		t.Errorf("who during a loginjail sshd terminal login does not list %s:\n%s", recUser, who)
	}
	cg := g.cgroupOf(t, s.PID)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, s, cg)
	g.waitFor(t, "logout recorded", "last "+recUser+" >/tmp/ljvm-rec.last; ! grep -q 'still logged in' /tmp/ljvm-rec.last", 30*time.Second)
	g.logRecords(t, "after the loginjail sshd login")
	g.checkLast(t, 1)
	g.checkLastLogin(t, trixie)

	// PAM mode behind the guest's OpenSSH.
	g.sh(t, `usermod -aG jailed `+recUser+`
grep -v '^#' /usr/share/doc/loginjail/examples/sshd-pam-session.conf >>/etc/pam.d/sshd
cp /usr/share/doc/loginjail/examples/sshd_config.d-loginjail.conf /etc/ssh/sshd_config.d/loginjail.conf
sshd -t
systemctl reload ssh`)
	defer g.sh(t, `sed -i '/loginjail pam-hook/d; /notingroup jailed/d' /etc/pam.d/sshd
rm -f /etc/ssh/sshd_config.d/loginjail.conf
systemctl reload ssh`)
	pid = g.ptyLogin(t, 22, "/tmp/ljvm-rec2.out")
	s = g.waitSessions(t, recUser, 1)[0]
	if who := g.sh(t, "who"); !strings.Contains(who, recUser+" ") {
		t.Errorf("who during a PAM-mode terminal login does not list %s:\n%s", recUser, who)
	}
	cg = g.cgroupOf(t, s.PID)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, s, cg)
	g.waitFor(t, "PAM-mode logout recorded", "last "+recUser+" >/tmp/ljvm-rec.last; ! grep -q 'still logged in' /tmp/ljvm-rec.last", 30*time.Second)
	g.logRecords(t, "after the PAM-mode login")
	g.checkLast(t, 2)
}

// ptyLogin starts a terminal login of recUser that lasts until its client
// (the returned pid) is killed: -tt asks for a pty, and stdin stays open.
func (g *guest) ptyLogin(t *testing.T, port int, out string) int {
	t.Helper()
	s := strings.TrimSpace(g.sh(t, fmt.Sprintf(
		`setsid bash -c 'exec ssh -tt -p %d %s@127.0.0.1 "echo ljvm-rec-in; sleep 600" < <(sleep 900)' >%s 2>&1 </dev/null & echo $!`,
		port, recUser, out)))
	pid, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("pty login pid %q: %v", s, err)
	}
	g.waitFor(t, "terminal login of "+recUser, "grep -q ljvm-rec-in "+out, 2*time.Minute)
	return pid
}

// logRecords logs what an admin would see, for the test's output.
func (g *guest) logRecords(t *testing.T, when string) {
	t.Helper()
	out, errs, err := g.run(fmt.Sprintf(`for c in "who" "last -n 8" "lastlog -u %[1]s" "lastlog2 -u %[1]s" "wtmpdb last -n 8"; do
	echo "\$ $c"; $c 2>&1 || echo "(exit $?)"
done
grep -h . /etc/pam.d/common-session | grep -v '^#'`, recUser), time.Minute)
	t.Logf("%s, %s (err %v):\n%s%s", g.im.dist, when, err, out, errs)
}

// lastLine is a finished login of recUser from the guest itself in
// last(1)'s output, util-linux's or wtmpdb's: user, line, address, then
// the times and a duration in parentheses.
var lastLine = regexp.MustCompile(`(?m)^` + recUser + `\s+(\S+)\s+127\.0\.0\.1\s.*\(\d+:\d\d\)\s*$`)

// checkLast: `last` lists recUser's terminal logins, want of them, each
// once, with the address and a duration.
func (g *guest) checkLast(t *testing.T, want int) {
	t.Helper()
	out := g.sh(t, "last "+recUser)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, recUser+" ") {
			lines = append(lines, l)
		}
	}
	if got := lastLine.FindAllString(out, -1); len(got) != want || len(lines) != want {
		t.Errorf("%s: last %s: want %d finished logins from 127.0.0.1 with a duration, each once; have %d of %d lines:\n%s",
			g.im.dist, recUser, want, len(got), len(lines), out)
	}
}

// checkLastLogin: the user's last-login record has the address: lastlog
// on Debian 12, lastlog2 on 13.
func (g *guest) checkLastLogin(t *testing.T, trixie bool) {
	t.Helper()
	cmd := "lastlog -u " + recUser
	if trixie {
		cmd = "lastlog2 -u " + recUser
	}
	if out := g.sh(t, cmd); !strings.Contains(out, "127.0.0.1") || strings.Contains(out, "Never") {
		t.Errorf("%s: %s: want the login from 127.0.0.1:\n%s", g.im.dist, cmd, out)
	}
}
