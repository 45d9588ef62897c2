package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// serveLine listens on 127.0.0.1:0 of the host and answers every
// connection with line; it returns the port.
func serveLine(t *testing.T, line string) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, line)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePort is a port nothing on the host's loopback listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// readLineFrom connects to addr and returns the first line it sends ("" if
// none: refused, or closed without data).
func readLineFrom(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(s)
}

// jailServer is a perl one-liner, run in the jail, that listens on the
// jail's 127.0.0.1:port, says "ready", and answers one connection with
// "jail-side".
func jailServer(port int) string {
	return fmt.Sprintf(`perl -MIO::Socket::INET -e '$|=1; $s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>%d,Listen=>5,ReuseAddr=>1) or die "listen: $!"; print "ready\n"; $c=$s->accept; print $c "jail-side\n"; close $c; sleep 30'`, port)
}

// jailClient connects, from the jail, to its 127.0.0.1:port (retrying
// while the remote forward comes up) and prints what it reads.
func jailClient(port int) string {
	return fmt.Sprintf(`perl -MIO::Socket::INET -e 'for (1..50) { $c=IO::Socket::INET->new("127.0.0.1:%d") and last; select(undef,undef,undef,0.1) } $c or die "connect: $!\n"; print scalar <$c>'`, port)
}

// startAgent runs ssh-agent with key loaded and returns its socket.
func startAgent(t *testing.T, dir, key string) string {
	t.Helper()
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("ssh-agent made no socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, serr, code := (testutil.Cmd{Env: []string{"SSH_AUTH_SOCK=" + sock}}).Run(t, "ssh-add", key); code != 0 {
		t.Fatalf("ssh-add: %s", serr)
	}
	return sock
}

// TestSshdForwarding: ssh -L reaches a listener on the jail's own
// loopback (not the host's, which answers differently on the same port),
// ssh -R puts a listener inside the jail (and not on the host), ssh -A
// lets ssh-add inside the jail list the client's key; each is logged.
func TestSshdForwarding(t *testing.T) {
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdfwd")
	s.authorize(u, "")

	// -L: the host's 127.0.0.1:port says host-side; the jail's says jail-side.
	port := serveLine(t, "host-side")
	lport := freePort(t)
	s.startSSH(u, jailServer(port), "-L", fmt.Sprintf("%d:127.0.0.1:%d", lport, port))
	if got := readLineFrom(fmt.Sprintf("127.0.0.1:%d", lport)); got != "jail-side" {
		t.Errorf("ssh -L to 127.0.0.1:%d answered %q, want jail-side", port, got)
	}
	s.waitEvent("forward", map[string]string{"user": u.Name, "type": "direct-tcpip", "target": fmt.Sprintf("127.0.0.1:%d", port)})

	// -R: a client-side listener appears on the jail's loopback only.
	cport := serveLine(t, "client-side")
	rport := 20000 + os.Getpid()%20000
	out, serr, code := s.ssh(u, nil, jailClient(rport), "-o", "ExitOnForwardFailure=yes", "-R", fmt.Sprintf("%d:127.0.0.1:%d", rport, cport))
	if code != 0 || strings.TrimSpace(out) != "client-side" {
		t.Errorf("ssh -R: exit %d, read %q in the jail: %s", code, out, serr)
	}
	s.waitEvent("forward", map[string]string{"user": u.Name, "type": "tcpip-forward", "listen": fmt.Sprintf("127.0.0.1:%d", rport)})
	l := s.startSSH(u, "echo ready; sleep 30", "-o", "ExitOnForwardFailure=yes", "-R", fmt.Sprintf("%d:127.0.0.1:%d", rport, cport))
	time.Sleep(300 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", rport), time.Second); err == nil {
		c.Close()
		t.Errorf("ssh -R listens on the host's 127.0.0.1:%d", rport)
	}
	l.cmd.Process.Kill()

	// -A: the client's agent, inside the jail.
	agent := startAgent(t, s.dir, s.key)
	fp, _, _ := testutil.Run(t, "ssh-keygen", "-lf", s.key+".pub")
	out, serr, code = (testutil.Cmd{Env: []string{"SSH_AUTH_SOCK=" + agent}}).Run(t, "ssh",
		append(s.keyArgs(u.Name, "-A"), "echo $SSH_AUTH_SOCK; ls -ld $(dirname $SSH_AUTH_SOCK) | cut -c1-10; ssh-add -l")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "/tmp/ssh-") || lines[1] != "drwx------" ||
		!strings.Contains(lines[2], strings.Fields(fp)[1]) {
		t.Errorf("ssh -A: exit %d: %q (want the socket under /tmp, a 0700 dir, and %s): %s", code, out, strings.Fields(fp)[1], serr)
	}
	s.waitEvent("forward", map[string]string{"user": u.Name, "type": "auth-agent-req@openssh.com"})
}

// TestSshdForwardingRefused: a policy with allow_tcp_forwarding and
// allow_agent_forwarding off refuses -L, -R and -A cleanly, and logs
// each; key options do the same for a login the policy allows.
func TestSshdForwardingRefused(t *testing.T) {
	u := testutil.NewUser(t, "sshdnofwd")
	k := testutil.NewUser(t, "sshdkeyopt")
	s := newSSHD(t, "", fmt.Sprintf("[[policy]]\nname = \"exam\"\nmatch_users = [%q]\n[policy.jail]\nallow_tcp_forwarding = false\nallow_agent_forwarding = false\n", u.Name))
	s.authorize(u, "")
	agent := startAgent(t, s.dir, s.key)

	port := freePort(t)
	lport := freePort(t)
	s.startSSH(u, jailServer(port), "-L", fmt.Sprintf("%d:127.0.0.1:%d", lport, port))
	if got := readLineFrom(fmt.Sprintf("127.0.0.1:%d", lport)); got != "" {
		t.Errorf("ssh -L with forwarding off answered %q", got)
	}
	s.waitEvent("request.refused", map[string]string{"user": u.Name, "type": "direct-tcpip", "reason": "allow_tcp_forwarding"})

	_, serr, code := s.ssh(u, nil, "true", "-o", "ExitOnForwardFailure=yes", "-R", fmt.Sprintf("%d:127.0.0.1:%d", port, port))
	if code != 255 || !strings.Contains(serr, "forwarding failed") {
		t.Errorf("ssh -R with forwarding off: exit %d: %s", code, serr)
	}
	s.waitEvent("request.refused", map[string]string{"user": u.Name, "type": "tcpip-forward", "reason": "allow_tcp_forwarding"})

	out, _, _ := (testutil.Cmd{Env: []string{"SSH_AUTH_SOCK=" + agent}}).Run(t, "ssh", append(s.keyArgs(u.Name, "-A"), "echo ${SSH_AUTH_SOCK:-none}")...)
	if strings.TrimSpace(out) != "none" {
		t.Errorf("ssh -A with agent forwarding off: SSH_AUTH_SOCK=%q", out)
	}
	s.waitEvent("request.refused", map[string]string{"user": u.Name, "type": "auth-agent-req@openssh.com", "reason": "allow_agent_forwarding"})

	// Key options: permitopen limits -L; restrict refuses -R and -A.
	s.authorize(k, `permitopen="127.0.0.1:1"`)
	lport = freePort(t)
	s.startSSH(k, jailServer(port), "-L", fmt.Sprintf("%d:127.0.0.1:%d", lport, port))
	if got := readLineFrom(fmt.Sprintf("127.0.0.1:%d", lport)); got != "" {
		t.Errorf("ssh -L outside permitopen answered %q", got)
	}
	s.waitEvent("request.refused", map[string]string{"user": k.Name, "type": "direct-tcpip", "reason": "permitopen"})
	s.authorize(k, "restrict")
	if _, _, code := s.ssh(k, nil, "true", "-o", "ExitOnForwardFailure=yes", "-R", fmt.Sprintf("%d:127.0.0.1:%d", port, port)); code != 255 {
		t.Errorf("ssh -R with key option restrict: exit %d", code)
	}
	s.waitEvent("request.refused", map[string]string{"user": k.Name, "type": "tcpip-forward", "reason": "no-port-forwarding"})
	out, _, _ = (testutil.Cmd{Env: []string{"SSH_AUTH_SOCK=" + agent}}).Run(t, "ssh", append(s.keyArgs(k.Name, "-A"), "echo ${SSH_AUTH_SOCK:-none}")...)
	if strings.TrimSpace(out) != "none" {
		t.Errorf("ssh -A with key option restrict: SSH_AUTH_SOCK=%q", out)
	}
}
