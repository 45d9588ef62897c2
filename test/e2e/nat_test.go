package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// listenEnv makes the test binary a TCP server that tells each client the
// address it came from: it stands in for a host on the internet.
const listenEnv = "LJT_LISTEN"

func serveRemoteAddr(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		fmt.Fprintf(c, "from %s\n", host)
		c.Close()
	}
}

// natWorld is a "host" namespace the server runs in, joined by a veth to
// an "upstream" namespace holding 192.0.2.1 with a listener on :8080. The
// machine's own network is never touched.
type natWorld struct {
	host, upstream string
}

func newNatWorld(t *testing.T) *natWorld {
	t.Helper()
	tag := fmt.Sprint(os.Getpid() % 100000)
	w := &natWorld{host: testutil.NewNetNS(t, "h"+tag), upstream: testutil.NewNetNS(t, "u"+tag)}
	steps := [][]string{
		{"ip", "link", "add", "ljtu" + tag, "netns", w.host, "type", "veth", "peer", "name", "eth0", "netns", w.upstream},
		{"ip", "-n", w.host, "addr", "add", "192.0.2.2/24", "dev", "ljtu" + tag},
		{"ip", "-n", w.host, "link", "set", "ljtu" + tag, "up"},
		{"ip", "-n", w.host, "link", "set", "lo", "up"},
		{"ip", "-n", w.upstream, "addr", "add", "192.0.2.1/24", "dev", "eth0"},
		{"ip", "-n", w.upstream, "link", "set", "eth0", "up"},
		{"ip", "-n", w.upstream, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", s, err, out)
		}
	}
	self, _ := os.Executable()
	srv := exec.Command("ip", "netns", "exec", w.upstream, self)
	srv.Env = append(os.Environ(), listenEnv+"=192.0.2.1:8080")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for i := 0; ; i++ {
		if out, _ := exec.Command("ip", "netns", "exec", w.upstream, "ss", "-ltn").Output(); strings.Contains(string(out), "192.0.2.1:8080") {
			break
		}
		if i > 200 {
			t.Fatal("upstream listener never came up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return w
}

// in runs a loginjail command inside the host namespace.
func (e *env) in(w *natWorld, args ...string) (string, string, int) {
	e.t.Helper()
	return testutil.Cmd{Env: []string{"LOGINJAIL_CONFIG=" + e.cfg}}.Run(e.t, "ip", append([]string{"netns", "exec", w.host, e.bin}, args...)...)
}

func hostLinks(t *testing.T, w *natWorld) string {
	out, err := exec.Command("ip", "-n", w.host, "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestNatReachesUpstreamMasqueraded: a nat jail reaches 192.0.2.1, which
// sees the host's address; a none jail reaches nothing; the veth, address
// lease and firewall elements go with the session.
func TestNatReachesUpstreamMasqueraded(t *testing.T) {
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\ndns = [\"192.0.2.53\"]\n")
	w := newNatWorld(t)
	u := testutil.NewUser(t, "nat")
	probe := `exec 3<>/dev/tcp/192.0.2.1/8080 && cat <&3; ip -o -4 addr show dev eth0 | awk '{print "addr", $4}'; grep nameserver /etc/resolv.conf; grep -c "$(hostname)" /etc/hosts`
	out, serr, code := e.in(w, "run", "--config", e.cfg, "--user", u.Name, "--", "bash", "-c", probe)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, serr, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[0] != "from 192.0.2.2" || !strings.HasPrefix(lines[1], "addr 10.213.") ||
		lines[2] != "nameserver 192.0.2.53" || lines[3] != "1" {
		t.Errorf("from the jail: %q; want the upstream to see 192.0.2.2, an address from 10.213/16, the policy's DNS and the hostname in /etc/hosts", out)
	}
	if l := hostLinks(t, w); strings.Contains(l, "master lj0") {
		t.Errorf("veth left after logout:\n%s", l)
	}
	if ents, _ := os.ReadDir(e.stateDir + "/net/leases"); len(ents) != 0 {
		t.Errorf("leases left after logout: %v", ents)
	}
	if out, _ := exec.Command("ip", "netns", "exec", w.host, "nft", "list", "set", "inet", "loginjail", "jails").Output(); strings.Contains(string(out), "10.213.") {
		t.Errorf("firewall elements left after logout:\n%s", out)
	}

	// --net none on the command line overrides the policy: only lo.
	_, serr, code = e.in(w, "run", "--config", e.cfg, "--user", u.Name, "--net", "none", "--", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/8080")
	if code == 0 || !strings.Contains(serr, "unreachable") {
		t.Errorf("none jail reached upstream: exit %d %q", code, serr)
	}
}

// TestNatKilledRunThenGC: a killed builder leaves a veth and a lease; gc
// in the same network namespace reclaims them, and ps reported the IP.
func TestNatKilledRunThenGC(t *testing.T) {
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\n")
	w := newNatWorld(t)
	u := testutil.NewUser(t, "natgc")
	cmd := exec.Command("ip", "netns", "exec", w.host, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var sess psEntry
	for i := 0; sess.IP == "" && i < 400; i++ {
		for _, s := range e.ps() {
			if s.Pid > 0 && s.IP != "" {
				sess = s
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !strings.HasPrefix(sess.IP, "10.213.") || sess.Net != "nat" {
		t.Fatalf("ps: %+v: want net nat and an IP from 10.213/16", sess)
	}
	if !strings.Contains(hostLinks(t, w), "lj"+sess.ID) {
		t.Fatalf("no veth lj%s in the host namespace", sess.ID)
	}
	// ip netns exec is the parent; kill the loginjail run under it.
	exec.Command("pkill", "-KILL", "-f", "loginjail run --config "+e.cfg).Run()
	cmd.Wait()
	for i := 0; len(e.ps()) > 0 && i < 400; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if out, serr, code := e.in(w, "gc"); code != 0 || !strings.Contains(out, sess.ID) {
		t.Fatalf("gc: exit %d %q %q", code, out, serr)
	}
	if l := hostLinks(t, w); strings.Contains(l, "lj"+sess.ID) {
		t.Errorf("veth left after gc:\n%s", l)
	}
	if ents, _ := os.ReadDir(e.stateDir + "/net/leases"); len(ents) != 0 {
		t.Errorf("leases left after gc: %v", ents)
	}
	e.assertGone(sess)
}
