package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// liveSSH is an ssh client left running with a pipe to its stdin and a
// line reader on its stdout.
type liveSSH struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	done  chan struct{}
}

// startSSH runs `ssh host script` in the background and waits for the
// first line of output.
func (s *sshdServer) startSSH(u *testutil.User, script string, extra ...string) *liveSSH {
	s.t.Helper()
	cmd := exec.Command("ssh", append(s.keyArgs(u.Name, extra...), script)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	l := &liveSSH{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), done: make(chan struct{})}
	go func() { cmd.Wait(); close(l.done) }()
	s.t.Cleanup(func() { cmd.Process.Kill(); <-l.done })
	l.line(s.t)
	return l
}

func (l *liveSSH) line(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		s, _ := l.out.ReadString('\n')
		got <- s
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no line from the ssh client")
		return ""
	}
}

// connProcess is the per-connection process of a session: its jail
// init's parent.
func connProcess(t *testing.T, p psEntry) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var ppid int
	fmt.Sscan(f[1], &ppid)
	return ppid
}

// TestSshdTwoUsers: two users logged in at once see neither each other's
// processes nor homes.
func TestSshdTwoUsers(t *testing.T) {
	s := newSSHD(t, "", "")
	a, b := testutil.NewUser(t, "sshda"), testutil.NewUser(t, "sshdb")
	s.authorize(a, "")
	s.authorize(b, "")
	s.startSSH(a, "echo ready; exec sleep 300")
	s.session(a)
	out, serr, code := s.ssh(b, nil, "ps -e -o uid=,comm= | tr -s ' \\n' ' '; echo; ls "+a.Home+" >/dev/null 2>&1 || echo hidden; id -un")
	if code != 0 {
		t.Fatalf("ssh as %s: exit %d: %s", b.Name, code, serr)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 4 || strings.Contains(lines[0], "sleep") || strings.Contains(lines[0], fmt.Sprintf(" %d ", a.UID)) ||
		lines[1] != "hidden" || lines[2] != b.Name {
		t.Errorf("%s sees %s: %q", b.Name, a.Name, out)
	}
}

// TestSshdTeardown: logout, kill -9 of the client, and kill -9 of the
// per-connection process each leave nothing of the session behind.
func TestSshdTeardown(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdgone")
	s.authorize(u, "")

	// Logout: stdin closes, the shell exits, the connection ends.
	l := s.startSSH(u, "echo ready; cat")
	p := s.session(u)
	l.stdin.Close()
	<-l.done
	s.e.assertGone(p)

	// kill -9 of the client: the server sees the TCP connection close.
	l = s.startSSH(u, "echo ready; exec sleep 300")
	p = s.session(u)
	l.cmd.Process.Kill()
	<-l.done
	s.e.assertGone(p)
	s.waitEvent("session.end", map[string]string{"session": p.ID})

	// kill -9 of the per-connection process: the jail ends with its
	// control connection, and the listener reclaims what it left.
	l = s.startSSH(u, "echo ready; exec sleep 300")
	p = s.session(u)
	syscall.Kill(connProcess(t, p), syscall.SIGKILL)
	s.e.assertGone(p)
	s.waitEvent("conn.crash", map[string]string{"sessions": p.ID})
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Error("client still connected after its connection's process died")
	}
}

// TestSshdListenerRestart: killing the listener leaves a live session
// working; a new listener takes new logins.
func TestSshdListenerRestart(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdrestart")
	s.authorize(u, "")
	l := s.startSSH(u, "echo ready; while read x; do echo got:$x; done")
	p := s.session(u)
	s.stopListener()
	fmt.Fprintln(l.stdin, "one")
	if got := l.line(t); got != "got:one\n" {
		t.Fatalf("session after the listener died: %q", got)
	}
	s.start()
	if out, serr, code := s.ssh(u, nil, "echo new"); code != 0 || out != "new\n" {
		t.Errorf("login to the new listener: exit %d: %q %s", code, out, serr)
	}
	fmt.Fprintln(l.stdin, "two")
	if got := l.line(t); got != "got:two\n" {
		t.Fatalf("old session after the restart: %q", got)
	}
	l.stdin.Close()
	<-l.done
	s.e.assertGone(p)
}

// TestSshdClientAlive: a client that stops answering (here: stopped with
// SIGSTOP, its TCP connection still up) loses its session within
// client_alive_interval × (client_alive_count_max + 1).
func TestSshdClientAlive(t *testing.T) {
	s := newSSHD(t, "client_alive_interval = \"1s\"\nclient_alive_count_max = 2", "")
	u := testutil.NewUser(t, "sshdalive")
	s.authorize(u, "")
	l := s.startSSH(u, "echo ready; exec sleep 300", "-o", "ServerAliveInterval=0")
	p := s.session(u)
	time.Sleep(2500 * time.Millisecond) // answered keepalives keep it up
	if !s.e.isLive(p) {
		t.Fatal("session ended while the client answered keepalives")
	}
	l.cmd.Process.Signal(syscall.SIGSTOP)
	defer l.cmd.Process.Signal(syscall.SIGCONT)
	start := time.Now()
	s.waitEvent("conn.alive_timeout", map[string]string{"user": u.Name})
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("dropped after %v, want within ~3s", d)
	}
	s.e.assertGone(p)
}

// TestSshdGraceTime: a connection that does not authenticate within
// login_grace_time is closed.
func TestSshdGraceTime(t *testing.T) {
	s := newSSHD(t, "login_grace_time = \"1s\"", "")
	c, err := netDial("127.0.0.1:" + s.port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, c) // the banner, then EOF when the server gives up
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("connection held %v with login_grace_time 1s", d)
	}
	s.waitEvent("conn.grace_exceeded", nil)
}

// TestSshdMaxStartups: with max_startups = 2, a third connection that has
// not authenticated is dropped while two others are pending; once they
// are gone, logins work again.
func TestSshdMaxStartups(t *testing.T) {
	s := newSSHD(t, "max_startups = \"2\"", "")
	u := testutil.NewUser(t, "sshdstartups")
	s.authorize(u, "")
	var pending []io.Closer
	for i := 0; i < 2; i++ {
		c, err := netDial("127.0.0.1:" + s.port)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, c)
		s.waitEvent("conn.start", nil)
	}
	time.Sleep(200 * time.Millisecond)
	if _, _, code := s.ssh(u, nil, "true"); code != 255 {
		t.Errorf("third connection with two pending: exit %d, want dropped", code)
	}
	s.waitEvent("conn.drop", map[string]string{"reason": "max_startups"})
	for _, c := range pending {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, serr, code := s.ssh(u, nil, "true")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login after the pending connections closed: %s", serr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSshdReload: SIGHUP re-reads the config for new connections; a
// broken config is refused and the old one kept.
func TestSshdReload(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdreload")
	s.authorize(u, "")
	if out, _, _ := s.ssh(u, nil, "echo ${LJT_OK-unset}", "-o", "SetEnv=LJT_OK=1"); out != "unset\n" {
		t.Fatalf("before reload: %q", out)
	}
	orig, _ := os.ReadFile(s.e.cfg)
	os.WriteFile(s.e.cfg, []byte(strings.Replace(string(orig), "[server]\n", "[server]\naccept_env = [\"LJT_OK\"]\n", 1)), 0o644)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitEvent("sshd.reload", nil)
	if out, _, _ := s.ssh(u, nil, "echo ${LJT_OK-unset}", "-o", "SetEnv=LJT_OK=1"); out != "1\n" {
		t.Errorf("after reload: %q", out)
	}
	os.WriteFile(s.e.cfg, []byte("[server]\nno_such_key = 1\n"), 0o644)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitEvent("sshd.reload", map[string]string{"err": "no_such_key"})
	if out, _, code := s.ssh(u, nil, "echo ${LJT_OK-unset}", "-o", "SetEnv=LJT_OK=1"); code != 0 || out != "1\n" {
		t.Errorf("after a broken reload: exit %d %q", code, out)
	}
	os.WriteFile(s.e.cfg, orig, 0o644)
}
