package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestPAMInteractive: `ssh -t` through the PAM front door gets a terminal
// of the jail's own devpts that follows the window's size.
func TestPAMInteractive(t *testing.T) {
	e := newEnv(t, "")
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamtty")
	s.authorize(t, u)
	m := newTmux(t, "ssh -t "+strings.Join(s.sshArgs(u), " "))
	m.send("echo TTY=$(tty) SIZE=$(stty size) PTS=$(ls /dev/pts | tr '\\n' ,)")
	m.waitFor("TTY=/dev/pts/0 SIZE=24 80 PTS=0,ptmx,")
	m.run("resize-window", "-t", m.session, "-x", "100", "-y", "30")
	m.send("echo NOW=$(stty size)")
	m.waitFor("NOW=30 100")
	m.send("exit 4")
	if st := m.exitStatus(); st != "4" {
		t.Errorf("ssh exit status %s, want 4", st)
	}
	waitNoSessions(t, e)
}

// TestPAMSSHDKilled: when the login's sshd process is killed (no
// close_session ever runs), the jail ends once the login's processes are
// gone, and gc reclaims what is left.
func TestPAMSSHDKilled(t *testing.T) {
	e := newEnv(t, "")
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamkill")
	s.authorize(t, u)
	bg := exec.Command("ssh", append(s.sshArgs(u), "sleep 600")...)
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { bg.Process.Kill(); bg.Wait() }()
	var sess psEntry
	for i := 0; i < 400 && sess.ID == ""; i++ {
		for _, p := range e.ps() {
			if p.User == u.Name && p.Pid > 0 {
				sess = p
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if sess.ID == "" {
		t.Fatal("no session")
	}
	// The privileged sshd process of this login ("sshd: user [priv]").
	out, _ := exec.Command("pgrep", "-f", ": "+u.Name+" \\[priv\\]").Output()
	pids := strings.Fields(string(out))
	if len(pids) != 1 {
		t.Fatalf("want one privileged sshd for the login, have %q", pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	syscall.Kill(pid, syscall.SIGKILL)
	// Whether sshd's unprivileged child outlives its monitor is up to
	// sshd; once the client is gone too, nothing of the login is left.
	bg.Process.Kill()
	bg.Wait()
	waitNoSessions(t, e)
	e.lj("gc")
	e.assertGone(sess)
}

// TestPAMJailFailureRefusesLogin: a user the jail cannot be built for (no
// subordinate range) gets no session at all, and sshd's log says why.
func TestPAMJailFailureRefusesLogin(t *testing.T) {
	e := newEnv(t, "")
	s := newPAMSSHD(t, e)
	u := testutil.NewUserNoSubIDs(t, "pamnosub")
	s.authorize(t, u)
	out, _, code := s.ssh(t, u, nil, "echo UNJAILED")
	if code == 0 || strings.Contains(out, "UNJAILED") {
		t.Fatalf("login without a jail: exit %d, output %q", code, out)
	}
	logFile := filepath.Join(s.dir, "pam-hook.log")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logFile)
		if strings.Contains(string(b), u.Name) && strings.Contains(string(b), "usermod --add-subuids") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook's log does not say why: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(e.ps()) != 0 {
		t.Errorf("a session is registered: %+v", e.ps())
	}
}

// TestPAMShippedSnippetsGateByGroup installs packaging/pam's two snippets
// as shipped (only paths and the group name adapted): a member of the
// group is jailed, anyone else logs in untouched.
func TestPAMShippedSnippetsGateByGroup(t *testing.T) {
	e := newEnv(t, "")
	group := fmt.Sprintf("ljtjailed%d", os.Getpid()%100000)
	run(t, "groupadd", group)
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	adapt := func(path string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		out := strings.ReplaceAll(string(b), "/usr/sbin/loginjail pam-hook", e.bin+" pam-hook --config "+e.cfg)
		out = strings.ReplaceAll(out, "/usr/sbin/loginjail shell", e.bin+" shell")
		return strings.ReplaceAll(out, "jailed", group)
	}
	pamSnippet := adapt("packaging/pam/sshd-pam-session.conf")
	match := adapt("packaging/pam/sshd_config.d-loginjail.conf")
	// The drop-in starts with global options the test config has already.
	match = match[strings.Index(match, "Match Group"):]
	s := newPAMSSHDWith(t, e, pamSnippet, match)
	in := testutil.NewUser(t, "pamin")
	out := testutil.NewUser(t, "pamout")
	run(t, "usermod", "-aG", group, in.Name)
	s.authorize(t, in)
	s.authorize(t, out)
	hostPidNS := readlink(t, "/proc/self/ns/pid")
	if got, serr, code := s.ssh(t, in, nil, "readlink /proc/self/ns/pid"); code != 0 || strings.TrimSpace(got) == hostPidNS {
		t.Errorf("group member: exit %d, pid ns %q (host %s): want a jail; %s", code, got, hostPidNS, serr)
	}
	if got, serr, code := s.ssh(t, out, nil, "readlink /proc/self/ns/pid"); code != 0 || strings.TrimSpace(got) != hostPidNS {
		t.Errorf("non-member: exit %d, pid ns %q: want the host's untouched; %s", code, got, serr)
	}
	waitNoSessions(t, e)
}
