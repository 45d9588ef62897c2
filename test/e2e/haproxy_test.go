package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// The PROXY protocol world: four network namespaces, addresses from the
// documentation ranges only.
//
//	client 198.51.100.2 ── 198.51.100.1 balancer (haproxy, forwards IP) 192.0.2.1 ─┬─ 192.0.2.10 host A (loginjail sshd)
//	                                                                              └─ 192.0.2.11 host B (loginjail sshd)
const (
	pxClientAddr = "198.51.100.2"
	pxFrontAddr  = "198.51.100.1"
	pxBalancer   = "192.0.2.1"
	pxHostA      = "192.0.2.10"
	pxHostB      = "192.0.2.11"
	pxPort       = "2222"
)

// haproxyConfig is the tested configuration the README shows: mode tcp,
// send-proxy-v2, a bare TCP health check on A and a PROXY LOCAL one
// (check-send-proxy) on B.
const haproxyConfig = `global
	log stdout format raw local0
defaults
	mode tcp
	log global
	option log-health-checks
	timeout connect 5s
	timeout client 1h
	timeout server 1h
frontend ssh
	bind ` + pxFrontAddr + `:` + pxPort + `
	default_backend loginjail
backend loginjail
	balance roundrobin
	server hostA ` + pxHostA + `:` + pxPort + ` send-proxy-v2 check inter 300ms
	server hostB ` + pxHostB + `:` + pxPort + ` send-proxy-v2 check check-send-proxy inter 300ms
`

// pxWorld is the namespaces, haproxy and the two servers.
type pxWorld struct {
	client, lb, a, b string // namespace names
	hostA, hostB     *sshdServer
	haproxyLog       string
}

func ipIn(t *testing.T, ns string, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"-n", ns}, args...)...)
}

func newPXWorld(t *testing.T, moreTOML string) *pxWorld {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy missing (packaging/deps.sh installs it)")
		}
		t.Skip("requires haproxy (packaging/deps.sh installs it)")
	}
	w := &pxWorld{
		client: testutil.NewNetNS(t, "pxcli"),
		lb:     testutil.NewNetNS(t, "pxlb"),
		a:      testutil.NewNetNS(t, "pxa"),
		b:      testutil.NewNetNS(t, "pxb"),
	}
	run(t, "ip", "link", "add", "c0", "netns", w.client, "type", "veth", "peer", "name", "c1", "netns", w.lb)
	run(t, "ip", "link", "add", "a0", "netns", w.a, "type", "veth", "peer", "name", "a1", "netns", w.lb)
	run(t, "ip", "link", "add", "b0", "netns", w.b, "type", "veth", "peer", "name", "b1", "netns", w.lb)
	ipIn(t, w.lb, "link", "add", "br0", "type", "bridge")
	for _, l := range []string{"a1", "b1"} {
		ipIn(t, w.lb, "link", "set", l, "master", "br0")
	}
	ipIn(t, w.lb, "addr", "add", pxFrontAddr+"/24", "dev", "c1")
	ipIn(t, w.lb, "addr", "add", pxBalancer+"/24", "dev", "br0")
	ipIn(t, w.client, "addr", "add", pxClientAddr+"/24", "dev", "c0")
	ipIn(t, w.a, "addr", "add", pxHostA+"/24", "dev", "a0")
	ipIn(t, w.b, "addr", "add", pxHostB+"/24", "dev", "b0")
	for ns, links := range map[string][]string{w.client: {"lo", "c0"}, w.lb: {"lo", "c1", "a1", "b1", "br0"}, w.a: {"lo", "a0"}, w.b: {"lo", "b0"}} {
		for _, l := range links {
			ipIn(t, ns, "link", "set", l, "up")
		}
	}
	ipIn(t, w.client, "route", "add", "default", "via", pxFrontAddr)
	ipIn(t, w.a, "route", "add", "default", "via", pxBalancer)
	ipIn(t, w.b, "route", "add", "default", "via", pxBalancer)
	// The balancer routes too, so the client can reach a host directly.
	run(t, "ip", "netns", "exec", w.lb, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")

	serverTOML := fmt.Sprintf("proxy_protocol_from = [%q]\nlogin_grace_time = \"20s\"\n", pxBalancer)
	w.hostA = newSSHDIn(t, w.a, pxHostA+":"+pxPort, serverTOML, moreTOML)
	w.hostB = newSSHDIn(t, w.b, pxHostB+":"+pxPort, serverTOML, moreTOML)
	w.hostB.key = w.hostA.key // one client key for both hosts

	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	w.haproxyLog = filepath.Join(dir, "haproxy.log")
	if err := os.WriteFile(cfg, []byte(haproxyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	logf, err := os.Create(w.haproxyLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", w.lb, "haproxy", "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			b, _ := os.ReadFile(w.haproxyLog)
			t.Logf("haproxy log:\n%s", b)
		}
	})
	// Both servers up in haproxy's eyes: a few health checks have run.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(w.haproxyLog)
		if strings.Count(string(b), "succeeded") >= 2 || time.Now().After(deadline) {
			break
		}
		select {
		case <-done:
			t.Fatalf("haproxy exited:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second) // more checks, each of which must leave no trace
	return w
}

// sshFrom runs the OpenSSH client in namespace ns against host with the
// world's key.
func (w *pxWorld) sshFrom(t *testing.T, ns, host, user string, cmd ...string) *exec.Cmd {
	a := []string{"netns", "exec", ns, "ssh", "-F", "/dev/null", "-p", pxPort, "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
		"-i", w.hostA.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey",
		user + "@" + host}
	return exec.Command("ip", append(a, cmd...)...)
}

// rawFrom connects from namespace ns to addr:pxPort with bash's /dev/tcp,
// sends data and returns what came back before the server closed (or
// 3 seconds passed).
func rawFrom(t *testing.T, ns, addr, data string) string {
	t.Helper()
	script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%s || exit 9; printf '%%b' %q >&3; timeout 3 cat <&3`, addr, pxPort, data)
	out, _, code := testutil.Run(t, "ip", "netns", "exec", ns, "bash", "-c", script)
	if code == 9 {
		t.Fatalf("connect from %s to %s failed", ns, addr)
	}
	return out
}

// remoteEvents lists the audit lines of s whose remote starts with prefix.
func remoteEvents(s *sshdServer, prefix string) []map[string]any {
	var out []map[string]any
	for _, ev := range s.events("") {
		if r, _ := ev["remote"].(string); strings.HasPrefix(r, prefix) {
			out = append(out, ev)
		}
	}
	return out
}

// TestHAProxyProxyProtocol: Debian's haproxy (mode tcp, send-proxy-v2)
// in front of two loginjail hosts. The client's own address is what both
// hosts see: audit log, ps, SSH_CLIENT, and the policy that matches it;
// health checks leave no trace; a connection from the balancer's address
// without a header or with a malformed one, and PROXY headers a client
// sends itself, are refused. A v1 header works as well as haproxy's v2.
func TestHAProxyProxyProtocol(t *testing.T) {
	u := testutil.NewUser(t, "pxy")
	w := newPXWorld(t, fmt.Sprintf(`[jail]
share = "user"

[[policy]]
name = "via-balancer"
match_addresses = [%q]
[policy.jail]
hostname = "viaproxy-{id}"
`, pxClientAddr+"/32"))
	w.hostA.authorize(u, "")
	w.hostB.authorize(u, "")
	hosts := []*sshdServer{w.hostA, w.hostB}

	// Health checks (bare TCP on A, PROXY LOCAL on B) ran for seconds:
	// no line names the balancer, nothing failed, nobody was penalised.
	for i, s := range hosts {
		if evs := remoteEvents(s, pxBalancer+":"); len(evs) > 0 {
			t.Errorf("host %c: health checks left audit lines: %v", 'A'+i, evs)
		}
		if evs := s.events("auth.penalty"); len(evs) > 0 {
			t.Errorf("host %c: penalties: %v", 'A'+i, evs)
		}
	}
	if b, _ := os.ReadFile(w.haproxyLog); strings.Contains(string(b), "DOWN") {
		t.Errorf("haproxy marked a server down:\n%s", b)
	}

	// Two logins held open: roundrobin puts one on each host. With
	// share = "user", that is one jail per host.
	var clients []*exec.Cmd
	for i := 0; i < 2; i++ {
		c := w.sshFrom(t, w.client, pxFrontAddr, u.Name, `echo "$SSH_CLIENT"; hostname; exec sleep 120`)
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		buf := make([]byte, 256)
		got := ""
		for strings.Count(got, "\n") < 2 {
			n, err := out.Read(buf)
			got += string(buf[:n])
			if err != nil {
				break
			}
		}
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], pxClientAddr+" ") || !strings.HasPrefix(lines[1], "viaproxy-") {
			t.Fatalf("login %d through haproxy printed %q; want SSH_CLIENT from %s and the via-balancer policy's hostname", i+1, got, pxClientAddr)
		}
	}
	for i, s := range hosts {
		p := s.session(u)
		if !strings.HasPrefix(p.Remote, pxClientAddr+":") {
			t.Errorf("host %c: ps remote = %q, want %s:PORT", 'A'+i, p.Remote, pxClientAddr)
		}
		if !strings.HasPrefix(p.Hostname, "viaproxy-") {
			t.Errorf("host %c: hostname %q: the policy matching the client's address did not apply", 'A'+i, p.Hostname)
		}
		if n := len(s.e.ps()); n != 1 {
			t.Errorf("host %c: %d jails, want 1 (share = \"user\" shares within one host only)", 'A'+i, n)
		}
		ev := s.waitEvent("auth.success", map[string]string{"remote": pxClientAddr + ":"})
		if ev["user"] != u.Name {
			t.Errorf("host %c: auth.success %v", 'A'+i, ev)
		}
		s.waitEvent("session.start", map[string]string{"remote": pxClientAddr + ":"})
	}
	if a, b := w.hostA.session(u), w.hostB.session(u); a.ID == b.ID {
		t.Errorf("both hosts list session %s", a.ID)
	}
	for _, c := range clients {
		c.Process.Kill()
		c.Wait()
	}

	// Bypass: straight from the balancer's own address, no header.
	c := w.sshFrom(t, w.lb, pxHostA, u.Name, "true")
	if out, err := c.CombinedOutput(); err == nil {
		t.Errorf("a login from the balancer's address without a PROXY header worked: %s", out)
	}
	drop := w.hostA.waitEvent("conn.drop", map[string]string{"remote": pxBalancer + ":", "reason": "no PROXY header"})
	t.Logf("bypass: %v", drop["reason"])

	// PROXY v1 works too (haproxy's send-proxy), and a malformed header
	// from the balancer's address is dropped in one line.
	rawFrom(t, w.lb, pxHostA, `PROXY TCP4 198.51.100.77 192.0.2.10 5555 2222\r\nSSH-2.0-OpenSSH_9.2\r\n`)
	w.hostA.waitEvent("conn.start", map[string]string{"remote": "198.51.100.77:5555"})
	rawFrom(t, w.lb, pxHostA, `PROXY TCP4 198.51.100.77 nowhere 5555 2222\r\nSSH-2.0-OpenSSH_9.2\r\n`)
	w.hostA.waitEvent("conn.drop", map[string]string{"remote": pxBalancer + ":", "reason": "malformed PROXY header"})

	// Spoofing: the client sends its own PROXY header, through haproxy
	// (it follows haproxy's) and straight to host B (an untrusted peer).
	spoof := `PROXY TCP4 203.0.113.9 192.0.2.10 4444 2222\r\nSSH-2.0-OpenSSH_9.2\r\n`
	rawFrom(t, w.client, pxFrontAddr, spoof)
	rawFrom(t, w.client, pxHostB, spoof)
	deadline := time.Now().Add(20 * time.Second)
	for {
		refused := 0
		for _, s := range hosts {
			for _, ev := range s.events("conn.end") {
				if strings.Contains(fmt.Sprint(ev["reason"]), "PROXY protocol header refused") &&
					strings.HasPrefix(fmt.Sprint(ev["remote"]), pxClientAddr+":") {
					refused++
				}
			}
		}
		if refused == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 spoofed PROXY headers refused in the audit logs", refused)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, s := range hosts {
		if evs := remoteEvents(s, "203.0.113.9"); len(evs) > 0 {
			t.Errorf("host %c took the spoofed address: %v", 'A'+i, evs)
		}
		if evs := s.events("session.start"); len(evs) != 1 {
			t.Errorf("host %c: %d session.start lines, want 1", 'A'+i, len(evs))
		}
	}
	// Still no trace of the health checks, which ran all along: the only
	// lines naming the balancer are the two drops above, one line each.
	for i, s := range hosts {
		if evs := remoteEvents(s, pxBalancer+":"); len(evs) != map[int]int{0: 2, 1: 0}[i] {
			t.Errorf("host %c: lines naming the balancer: %v", 'A'+i, evs)
		}
		if evs := s.events("auth.penalty"); len(evs) > 0 {
			t.Errorf("host %c: penalties: %v", 'A'+i, evs)
		}
	}
}
