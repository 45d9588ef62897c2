package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// nameWorld is a natWorld whose upstream namespace also runs dnsmasq on
// 192.0.2.1:53 as the authority for the test names (from a hosts file the
// test may rewrite), and listeners on the addresses those names have.
type nameWorld struct {
	*natWorld
	hosts   string // dnsmasq's addn-hosts file
	dnsmasq *exec.Cmd
}

// newNameWorld starts dnsmasq answering names with a TTL of 1 s, and
// listeners on addrs (each "ip:port"), all in the upstream namespace.
func newNameWorld(t *testing.T, hosts string, addrs ...string) *nameWorld {
	t.Helper()
	dnsmasq := testutil.RequireTool(t, "dnsmasq")
	w := &nameWorld{natWorld: newNatWorld(t), hosts: filepath.Join(t.TempDir(), "hosts")}
	if err := os.WriteFile(w.hosts, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	for _, a := range addrs {
		ip, _, _ := strings.Cut(a, ":")
		if ip != "192.0.2.1" {
			if out, err := exec.Command("ip", "-n", w.upstream, "addr", "add", ip+"/24", "dev", "eth0").CombinedOutput(); err != nil {
				t.Fatalf("add %s: %v: %s", ip, err, out)
			}
		}
		srv := exec.Command("ip", "netns", "exec", w.upstream, self)
		srv.Env = append(os.Environ(), listenEnv+"="+a)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	w.dnsmasq = exec.Command("ip", "netns", "exec", w.upstream, dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--addn-hosts="+w.hosts, "--local-ttl=1", "--listen-address=192.0.2.1",
		"--bind-interfaces", "--user=root", "--group=root", "--pid-file=", "--log-facility=-")
	if err := w.dnsmasq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.dnsmasq.Process.Kill(); w.dnsmasq.Wait() })
	for i := 0; ; i++ {
		out, _ := exec.Command("ip", "netns", "exec", w.upstream, "ss", "-ltn").Output()
		up := strings.Contains(string(out), "192.0.2.1:53")
		for _, a := range addrs {
			up = up && strings.Contains(string(out), a)
		}
		if up {
			break
		}
		if i > 400 {
			t.Fatalf("dnsmasq or listeners never came up:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return w
}

// setHosts rewrites dnsmasq's names and makes it read them again.
func (w *nameWorld) setHosts(t *testing.T, hosts string) {
	t.Helper()
	if err := os.WriteFile(w.hosts, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs dnsmasq in place: its pid is dnsmasq's.
	if err := w.dnsmasq.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// nftList lists a set (or, for jail_dns, the map) of the loginjail table
// in the world's host namespace.
func nftList(t *testing.T, w *natWorld, name string) string {
	t.Helper()
	kind := "set"
	if name == "jail_dns" {
		kind = "map"
	}
	out, err := exec.Command("ip", "netns", "exec", w.host, "nft", "list", kind, "inet", "loginjail", name).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list %s %s: %v: %s", kind, name, err, out)
	}
	return string(out)
}

// namesProbe runs in the jail: each line says what one attempt did.
const namesProbe = `
try() { if timeout 3 bash -c "$2" 2>/dev/null; then echo "$1 reached"; else echo "$1 blocked"; fi; }
part() {
	getent hosts allowed.test | awk '{print "resolved", $1}'
	try byname 'exec 3<>/dev/tcp/allowed.test/80 && cat <&3 >/dev/null'
	getent hosts blocked.test >/dev/null && echo "blocked.test resolved" || echo "blocked.test refused"
	try direct 'exec 3<>/dev/tcp/192.0.2.11/80'
	try control 'exec 3<>/dev/tcp/192.0.2.1/8080 && cat <&3 >/dev/null'
	try dns53 'exec 3<>/dev/tcp/192.0.2.1/53'
	try dot853 'exec 3<>/dev/tcp/192.0.2.1/853'
	grep nameserver /etc/resolv.conf
}
part > ~/part1.tmp; mv ~/part1.tmp ~/part1
while [ ! -e ~/go ]; do sleep 0.1; done
echo "--- after the change"
getent hosts allowed.test | awk '{print "resolved", $1}'
try byname 'exec 3<>/dev/tcp/allowed.test/80 && cat <&3 >/dev/null'
`

// TestNamesEgress: a jail allowed allowed.test:tcp/80 (and 192.0.2.1 on
// tcp/53, 853 and 8080 by address) gets loginjail's resolver at its
// gateway: it reaches allowed.test by name, blocked.test neither by name
// (NXDOMAIN, audited) nor by address, cannot talk DNS or DoT to
// 192.0.2.1 though its allow list names that address and those ports,
// and follows allowed.test to a new address once the record changes.
// What the resolver opened is gone after logout.
func TestNamesEgress(t *testing.T) {
	e := newEnv(t, `[jail.network]
mode = "nat"
dns = ["192.0.2.1"]
allow = ["allowed.test:tcp/80", "192.0.2.1:tcp/53,853,8080"]
`)
	w := newNameWorld(t, "192.0.2.10 allowed.test\n192.0.2.11 blocked.test\n",
		"192.0.2.10:80", "192.0.2.11:80", "192.0.2.12:80", "192.0.2.1:853")
	u := testutil.NewUser(t, "names")
	type result struct {
		out, serr string
		code      int
	}
	done := make(chan result, 1)
	go func() {
		out, serr, code := testutil.Cmd{Env: []string{"LOGINJAIL_CONFIG=" + e.cfg}}.Run(t, "ip",
			"netns", "exec", w.host, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "bash", "-c", namesProbe)
		done <- result{out, serr, code}
	}()
	var part1 []byte
	for part1 == nil {
		select {
		case r := <-done:
			t.Fatalf("jail ended early: exit %d: %s\n%s", r.code, r.serr, r.out)
		case <-time.After(50 * time.Millisecond):
		}
		part1, _ = os.ReadFile(filepath.Join(u.Home, "part1"))
	}
	want1 := "resolved 192.0.2.10\nbyname reached\nblocked.test refused\ndirect blocked\ncontrol reached\ndns53 blocked\ndot853 blocked\nnameserver 10.213.0.1\n"
	if string(part1) != want1 {
		t.Errorf("in the jail:\n%s\nwant:\n%s", part1, want1)
	}
	nft := func(set string) string { return nftList(t, w.natWorld, set) }
	if s := nft("named_allow"); !strings.Contains(s, "192.0.2.10 . tcp . 80") || !strings.Contains(s, "expires") {
		t.Errorf("named_allow has no element for allowed.test with a timeout:\n%s", s)
	}

	// allowed.test moves to 192.0.2.12, and 192.0.2.10 goes away: only
	// a fresh answer can lead the jail there.
	w.setHosts(t, "192.0.2.12 allowed.test\n192.0.2.11 blocked.test\n")
	if out, err := exec.Command("ip", "-n", w.upstream, "addr", "del", "192.0.2.10/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // the record's TTL of 1 s passes
	if err := os.WriteFile(filepath.Join(u.Home, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.serr, r.out)
	}
	if !strings.Contains(r.out, "--- after the change\nresolved 192.0.2.12\nbyname reached\n") {
		t.Errorf("after allowed.test moved to 192.0.2.12:\n%s", r.out)
	}
	if !strings.Contains(r.serr, `"dns.refused"`) && !strings.Contains(r.serr, "event=dns.refused") || !strings.Contains(r.serr, "blocked.test") {
		t.Errorf("no audit line for the refused name in:\n%s", r.serr)
	}
	if s := nft("named_allow"); strings.Contains(s, "10.213.") {
		t.Errorf("resolved addresses left open after logout:\n%s", s)
	}
	for _, set := range []string{"named_jails", "jail_dns"} {
		if s := nft(set); strings.Contains(s, "10.213.") {
			t.Errorf("%s keeps the jail after logout:\n%s", set, s)
		}
	}
}

// TestNamesKilledThenGC: a nat jail with a resolver whose process is
// killed leaves its resolver's redirect and what it opened in the
// firewall; gc removes them with the rest.
func TestNamesKilledThenGC(t *testing.T) {
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\ndns = [\"192.0.2.1\"]\nallow = [\"allowed.test:tcp/80\"]\n")
	w := newNameWorld(t, "192.0.2.10 allowed.test\n", "192.0.2.10:80")
	u := testutil.NewUser(t, "namesgc")
	cmd := exec.Command("ip", "netns", "exec", w.host, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--",
		"bash", "-c", "getent hosts allowed.test > ~/resolved.tmp; mv ~/resolved.tmp ~/resolved; exec sleep 600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var got []byte
	for i := 0; got == nil && i < 600; i++ {
		got, _ = os.ReadFile(filepath.Join(u.Home, "resolved"))
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(string(got), "192.0.2.10 ") {
		t.Fatalf("the jail resolved allowed.test to %q", got)
	}
	nft := func(set string) string { return nftList(t, w.natWorld, set) }
	for _, set := range []string{"named_allow", "named_jails", "jail_dns"} {
		if !strings.Contains(nft(set), "10.213.") {
			t.Fatalf("%s has no element of the live jail:\n%s", set, nft(set))
		}
	}
	// ip netns exec execs loginjail in place: this kills `run` itself.
	cmd.Process.Kill()
	cmd.Wait()
	for i := 0; len(e.ps()) > 0 && i < 400; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if out, serr, code := e.in(w.natWorld, "gc"); code != 0 {
		t.Fatalf("gc: exit %d %q %q", code, out, serr)
	}
	for _, set := range []string{"named_allow", "named_jails", "jail_dns"} {
		if s := nft(set); strings.Contains(s, "10.213.") {
			t.Errorf("%s keeps the dead jail after gc:\n%s", set, s)
		}
	}
}
