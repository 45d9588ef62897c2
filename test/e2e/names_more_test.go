package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// serveUpstream6 gives the world's host 2001:db8::2 and its upstream
// 2001:db8::1 plus addrs (documentation space, test namespaces only), and
// starts the test binary's listener on each of listen ("[ip]:port") in the
// upstream namespace.
func serveUpstream6(t *testing.T, w *natWorld, addrs []string, listen ...string) {
	t.Helper()
	tag := fmt.Sprint(os.Getpid() % 100000)
	cmds := [][]string{
		{"ip", "-n", w.host, "addr", "add", "2001:db8::2/64", "dev", "ljtu" + tag, "nodad"},
		{"ip", "-n", w.upstream, "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad"},
	}
	for _, a := range addrs {
		cmds = append(cmds, []string{"ip", "-n", w.upstream, "addr", "add", a + "/64", "dev", "eth0", "nodad"})
	}
	for _, s := range cmds {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", s, err, out)
		}
	}
	self, _ := os.Executable()
	for _, l := range listen {
		srv := exec.Command("ip", "netns", "exec", w.upstream, self)
		srv.Env = append(os.Environ(), listenEnv+"="+l)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	for i := 0; ; i++ {
		out, _ := exec.Command("ip", "netns", "exec", w.upstream, "ss", "-ltn").Output()
		up := true
		for _, l := range listen {
			up = up && strings.Contains(string(out), l)
		}
		if up {
			break
		}
		if i > 400 {
			t.Fatalf("upstream IPv6 listeners never came up:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// names6Probe runs in an IPv6 jail: each line says what one attempt did.
const names6Probe = `
try() { if timeout 3 bash -c "$2" 2>/dev/null; then echo "$1 reached"; else echo "$1 blocked"; fi; }
getent hosts allowed.test | awk '{print "resolved", $1}'
try byname 'exec 3<>/dev/tcp/allowed.test/80 && cat <&3 >/dev/null'
getent hosts blocked.test >/dev/null && echo "blocked.test resolved" || echo "blocked.test refused"
try direct 'exec 3<>/dev/tcp/2001:db8::11/80'
try control 'exec 3<>/dev/tcp/2001:db8::1/8080 && cat <&3 >/dev/null'
try dns53 'exec 3<>/dev/tcp/2001:db8::1/53'
`

// TestNamesEgressIPv6: a jail with subnet6 allowed allowed.test:tcp/80
// (and tcp/53 and 8080 to any address) reaches allowed.test, which has
// only an IPv6 address, by name over IPv6: the AAAA answer opens
// @named_allow6 for the jail's IPv6 address. blocked.test is NXDOMAIN to
// it, its IPv6 address is closed, and DNS to the upstream's IPv6 address
// is dropped though the allow list names that port.
func TestNamesEgressIPv6(t *testing.T) {
	e := newEnv(t, `[jail.network]
mode = "nat"
subnet6 = "fd42:213::/64"
dns = ["192.0.2.1"]
allow = ["allowed.test:tcp/80", "tcp/53,8080"]
`)
	w := newNameWorld(t, "2001:db8::10 allowed.test\n2001:db8::11 blocked.test\n")
	serveUpstream6(t, w.natWorld, []string{"2001:db8::10", "2001:db8::11"},
		"[2001:db8::10]:80", "[2001:db8::11]:80", "[2001:db8::1]:53", "[2001:db8::1]:8080")
	u := testutil.NewUser(t, "names6")
	out, serr, code := e.in(w.natWorld, "run", "--config", e.cfg, "--user", u.Name, "--", "bash", "-c",
		names6Probe+"ip -o -6 addr show dev eth0 scope global | awk '{print \"addr\", $4}'\n")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, serr, out)
	}
	want := "resolved 2001:db8::10\nbyname reached\nblocked.test refused\ndirect blocked\ncontrol reached\ndns53 blocked\naddr fd42:213::"
	if !strings.HasPrefix(out, want) {
		t.Errorf("in the jail:\n%s\nwant (prefix):\n%s", out, want)
	}
	if s := nftList(t, w.natWorld, "named_allow6"); strings.Contains(s, "fd42:213:") {
		t.Errorf("resolved IPv6 addresses left open after logout:\n%s", s)
	}
}

// TestNamesFlushRestore: `nft flush ruleset` in the server's (test)
// namespace while a jail with a name allow list lives; once the session's
// own keeper has put the table back, with its resolver's redirect, the
// jail resolves allowed.test and reaches it again, blocked.test is still
// NXDOMAIN and its address still closed.
func TestNamesFlushRestore(t *testing.T) {
	testutil.RequireTool(t, "nft")
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\ndns = [\"192.0.2.1\"]\nallow = [\"allowed.test:tcp/80\"]\n")
	w := newNameWorld(t, "192.0.2.10 allowed.test\n192.0.2.11 blocked.test\n", "192.0.2.10:80", "192.0.2.11:80")
	u := testutil.NewUser(t, "namesfl")
	sess := startNatRun(t, e, w.host, u)
	const probe = `
try() { if timeout 3 bash -c "$2" 2>/dev/null; then echo "$1 reached"; else echo "$1 blocked"; fi; }
getent hosts allowed.test | awk '{print "resolved", $1}'
try byname 'exec 3<>/dev/tcp/allowed.test/80 && cat <&3 >/dev/null'
getent hosts blocked.test >/dev/null && echo "blocked.test resolved" || echo "blocked.test refused"
try direct 'exec 3<>/dev/tcp/192.0.2.11/80'
`
	run := func() string {
		t.Helper()
		out, serr, code := e.in(w.natWorld, "enter", sess.ID, "--", "bash", "-c", probe)
		if code != 0 {
			t.Fatalf("enter: exit %d: %s", code, serr)
		}
		return out
	}
	want := "resolved 192.0.2.10\nbyname reached\nblocked.test refused\ndirect blocked\n"
	if got := run(); got != want {
		t.Fatalf("before the flush:\n%s\nwant:\n%s", got, want)
	}
	nft := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", w.host, "nft"}, args...)...).CombinedOutput()
		return string(out), err
	}
	// The session's process restores within milliseconds: stopped, it
	// lets the test see that the flush took the table.
	owner := recordOwner(t, e, sess.ID)
	syscall.Kill(owner, syscall.SIGSTOP)
	out, err := nft("flush", "ruleset")
	if err != nil {
		syscall.Kill(owner, syscall.SIGCONT)
		t.Fatalf("nft flush ruleset: %v %s", err, out)
	}
	out, err = nft("list", "table", "inet", "loginjail")
	syscall.Kill(owner, syscall.SIGCONT)
	if err == nil {
		t.Fatalf("the table survived the flush:\n%s", out)
	}
	// The table comes back first (restored from the registry), the jail's
	// resolver redirect and named elements right after it.
	for i := 0; ; i++ {
		_, err := nft("list", "table", "inet", "loginjail")
		if err == nil {
			m, _ := nft("list", "map", "inet", "loginjail", "jail_dns")
			j, _ := nft("list", "set", "inet", "loginjail", "named_jails")
			if strings.Contains(m, sess.IP) && strings.Contains(j, sess.IP) {
				break
			}
		}
		if i > 600 {
			m, _ := nft("list", "table", "inet", "loginjail")
			t.Fatalf("the jail's named elements never came back after the flush:\n%s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := run(); got != want {
		table, _ := nft("list", "table", "inet", "loginjail")
		t.Errorf("after the flush and restore:\n%s\nwant:\n%s\nthe table:\n%s", got, want, table)
	}
}

// TestCheckConfigListsNames: `loginjail check-config --user` tells the
// admin which names the user's policy lets the jail reach, and which it
// refuses.
func TestCheckConfigListsNames(t *testing.T) {
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\nallow = [\"allowed.test:tcp/80\", \"*.mirror.test:tcp/80,443\"]\ndeny = [\"bad.mirror.test\"]\n")
	u := testutil.NewUser(t, "namescc")
	out, serr, code := e.lj("check-config", "--config", e.cfg, "--user", u.Name)
	if code != 0 {
		t.Fatalf("check-config --user: exit %d: %s", code, serr)
	}
	for _, want := range []string{"reach allowed.test tcp/80", "reach *.mirror.test tcp/80,tcp/443", "refuse bad.mirror.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config --user lacks %q:\n%s", want, out)
		}
	}
}
