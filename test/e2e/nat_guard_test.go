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

// guardProbe, run in a jail as `guardProbe B4 B6` (another jail's
// addresses), tries the host's port 7000 on the gateway and on another
// host address, and the other jail's port 8080, over IPv4 and IPv6.
const guardProbe = `try() { timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && echo "$1 open" || echo "$1 closed"; }
try gw 10.213.0.1 7000
try host 192.0.2.2 7000
try jail "$1" 8080
try gw6 fd42:213::1 7000
try host6 2001:db8::2 7000
try jail6 "$2" 8080`

// TestNatFlushGuard: `nft flush ruleset` while no keeper runs (both
// sessions' processes stopped) leaves the firewall gone, yet a nat jail
// reaches neither the host (the gateway's address, nor the host's other
// address 192.0.2.2) nor another jail, over IPv4 and IPv6, even with both
// jails routing to each other via the gateway as a jail root could: the
// guard on each veth holds. doctor reports the guards; with them removed
// by hand, doctor fails and the same probes get through.
func TestNatFlushGuard(t *testing.T) {
	testutil.RequireTool(t, "nft")
	testutil.RequireTool(t, "tc")
	testutil.RequireTool(t, "nsenter")
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\nsubnet6 = \"fd42:213::/64\"\n")
	w := newNatWorld(t)
	tag := fmt.Sprint(os.Getpid() % 100000)
	hostRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
		return string(out)
	}
	hostRun("ip", "-n", w.host, "addr", "add", "2001:db8::2/64", "dev", "ljtu"+tag, "nodad")
	self, _ := os.Executable()
	serve := func(prefix ...string) {
		srv := exec.Command(prefix[0], append(prefix[1:], self)...)
		srv.Env = append(os.Environ(), listenEnv+"=[::]:"+map[bool]string{true: "7000", false: "8080"}[prefix[0] == "ip"])
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	serve("ip", "netns", "exec", w.host) // the host's port 7000, both families

	ua, ub := testutil.NewUser(t, "guarda"), testutil.NewUser(t, "guardb")
	sa := startNatRun(t, e, w.host, ua)
	startNatRun(t, e, w.host, ub)
	var sb psEntry
	for i := 0; sb.IP == "" && i < 400; i++ {
		for _, s := range e.ps() {
			if s.User == ub.Name && s.Pid > 0 && s.IP != "" {
				sb = s
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if sb.IP == "" {
		t.Fatal("the second nat session never showed in ps")
	}
	netns := func(s psEntry) string { return fmt.Sprintf("--net=/proc/%d/ns/net", s.Pid) }
	ip6 := func(s psEntry) string {
		out := hostRun("nsenter", netns(s), "ip", "-o", "-6", "addr", "show", "dev", "eth0", "scope", "global")
		f := strings.Fields(out)
		if len(f) < 4 {
			t.Fatalf("no IPv6 address in jail %s: %q", s.ID, out)
		}
		return strings.Split(f[3], "/")[0]
	}
	a6, b6 := ip6(sa), ip6(sb)
	serve("nsenter", netns(sb)) // jail b's port 8080, both families
	// What a root in each jail could do: route to the other via the
	// gateway, past bridge port isolation.
	hostRun("nsenter", netns(sa), "ip", "route", "add", sb.IP+"/32", "via", "10.213.0.1")
	hostRun("nsenter", netns(sa), "ip", "-6", "route", "add", b6+"/128", "via", "fd42:213::1")
	hostRun("nsenter", netns(sb), "ip", "route", "add", sa.IP+"/32", "via", "10.213.0.1")
	hostRun("nsenter", netns(sb), "ip", "-6", "route", "add", a6+"/128", "via", "fd42:213::1")

	probe := func() string {
		t.Helper()
		out, serr, code := e.in(w, "enter", sa.ID, "--", "bash", "-c", guardProbe, "probe", sb.IP, b6)
		if code != 0 {
			t.Fatalf("enter: exit %d: %s", code, serr)
		}
		return strings.TrimSpace(out)
	}
	doctorLine := func() string {
		out, _, _ := e.in(w, "doctor")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "nat guard:") {
				return l
			}
		}
		t.Fatalf("doctor has no nat guard line:\n%s", out)
		return ""
	}
	shut := "gw closed\nhost closed\njail closed\ngw6 closed\nhost6 closed\njail6 closed"
	if got := probe(); got != shut {
		t.Fatalf("before the flush:\n%s\nwant:\n%s", got, shut)
	}
	if l := doctorLine(); !strings.HasPrefix(l, "ok") || !strings.Contains(l, "all 2 live nat jails guarded") {
		t.Errorf("doctor: %q, want both jails guarded", l)
	}

	for _, s := range []psEntry{sa, sb} {
		owner := recordOwner(t, e, s.ID)
		syscall.Kill(owner, syscall.SIGSTOP)
		defer syscall.Kill(owner, syscall.SIGCONT)
	}
	hostRun("ip", "netns", "exec", w.host, "nft", "flush", "ruleset")
	if out, err := exec.Command("ip", "netns", "exec", w.host, "nft", "list", "ruleset").Output(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("the ruleset after the flush: %v %q, want empty", err, out)
	}
	if got := probe(); got != shut {
		t.Errorf("with the ruleset flushed:\n%s\nwant:\n%s", got, shut)
	}

	// Without the guards the same probes get through: the test can fail.
	for _, s := range []psEntry{sa, sb} {
		hostRun("ip", "netns", "exec", w.host, "tc", "qdisc", "del", "dev", "lj"+s.ID[:min(12, len(s.ID))], "clsact")
	}
	if l := doctorLine(); !strings.HasPrefix(l, "fail") || !strings.Contains(l, "2 of 2 live nat jails lack their guard") {
		t.Errorf("doctor without the guards: %q, want a failure naming both", l)
	}
	open := strings.ReplaceAll(shut, "closed", "open")
	if got := probe(); got != open {
		t.Errorf("without the guards, with the ruleset flushed:\n%s\nwant (the window the guard closes):\n%s", got, open)
	}
}
