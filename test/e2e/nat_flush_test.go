package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// flushProbe, run in a jail, prints what the upstream saw of it (NAT) and
// whether the host's port 7000 on the gateway is open to it (it must not
// be: isolation). The host port is probed with a timeout, since the
// firewall drops rather than refuses.
const flushProbe = `timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/8080 && cat <&3' || echo upstream-unreachable
timeout 3 bash -c 'exec 3<>/dev/tcp/10.213.0.1/7000' 2>/dev/null && echo host-open || echo host-closed`

// TestNatFlushRestore: `nft flush ruleset` in the host namespace while a
// nat jail lives deletes its firewall (NAT goes; the guard keeps the host
// shut); the process that owns the session restores the table and its
// elements, so NAT and the firewall's isolation come back without a
// restart; doctor names the missing
// table meanwhile; and a new login on a flushed host restores the live
// jails' elements before adding its own.
func TestNatFlushRestore(t *testing.T) {
	testutil.RequireTool(t, "nft")
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\n")
	w := newNatWorld(t)
	u := testutil.NewUser(t, "flush")

	// A host service the jails must not reach.
	self, _ := os.Executable()
	hsrv := exec.Command("ip", "netns", "exec", w.host, self)
	hsrv.Env = append(os.Environ(), listenEnv+"=0.0.0.0:7000")
	if err := hsrv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hsrv.Process.Kill(); hsrv.Wait() })

	sess := startNatRun(t, e, w.host, u)
	owner := recordOwner(t, e, sess.ID)
	probe := func() string {
		t.Helper()
		out, serr, code := e.in(w, "enter", sess.ID, "--", "bash", "-c", flushProbe)
		if code != 0 {
			t.Fatalf("enter: exit %d: %s", code, serr)
		}
		return strings.TrimSpace(out)
	}
	want := "from 192.0.2.2\nhost-closed"
	if got := probe(); got != want {
		t.Fatalf("before the flush: %q, want %q", got, want)
	}
	nftHas := func(ip string) bool {
		out, _ := exec.Command("ip", "netns", "exec", w.host, "nft", "list", "set", "inet", "loginjail", "jails").Output()
		return strings.Contains(string(out), ip)
	}
	doctorLine := func() string {
		out, _, _ := e.in(w, "doctor")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "nat firewall:") {
				return l
			}
		}
		t.Fatalf("doctor has no nat firewall line:\n%s", out)
		return ""
	}
	flush := func() {
		t.Helper()
		if out, err := exec.Command("ip", "netns", "exec", w.host, "nft", "flush", "ruleset").CombinedOutput(); err != nil {
			t.Fatalf("nft flush ruleset: %v %s", err, out)
		}
	}
	waitRestored := func(ip string) {
		t.Helper()
		for i := 0; !nftHas(ip); i++ {
			if i > 400 {
				t.Fatalf("the firewall elements of %s never came back", ip)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// With the session's process stopped, nothing restores: the flush
	// shows, to the jail (no NAT; the host stays shut, held by the guard,
	// see TestNatFlushGuard) and to doctor.
	syscall.Kill(owner, syscall.SIGSTOP)
	flush()
	if got := probe(); got != "upstream-unreachable\nhost-closed" {
		t.Errorf("after the flush: %q, want upstream unreachable (no NAT: the check can tell a restore) and the host closed", got)
	}
	if l := doctorLine(); !strings.HasPrefix(l, "fail") || !strings.Contains(l, "missing") {
		t.Errorf("doctor after the flush: %q, want a failure naming the missing table", l)
	}
	syscall.Kill(owner, syscall.SIGCONT)
	waitRestored(sess.IP)
	if got := probe(); got != want {
		t.Errorf("after the restore: %q, want %q", got, want)
	}
	if l := doctorLine(); !strings.HasPrefix(l, "ok") {
		t.Errorf("doctor after the restore: %q, want ok", l)
	}

	// A new login finds the table flushed (the live session's process is
	// stopped again): it restores the live session's elements, then its
	// own jail gets NAT and isolation.
	syscall.Kill(owner, syscall.SIGSTOP)
	flush()
	out, serr, code := e.in(w, "run", "--config", e.cfg, "--user", u.Name, "--", "bash", "-c", flushProbe)
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("a login after the flush: exit %d %q %s, want %q", code, out, serr, want)
	}
	if !nftHas(sess.IP) {
		t.Errorf("the new login did not restore the live session's elements (%s)", sess.IP)
	}
	syscall.Kill(owner, syscall.SIGCONT)
	if got := probe(); got != want {
		t.Errorf("live session after the login's restore: %q, want %q", got, want)
	}
}

// recordOwner is the pid of the process that built session id (its
// registry record's owner).
func recordOwner(t *testing.T, e *env, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.stateDir, "sessions", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Owner int `json:"owner"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Owner <= 0 {
		t.Fatalf("record of %s: owner %d %v", id, r.Owner, err)
	}
	return r.Owner
}

// startNatRun starts `loginjail run` for u in the test host netns ns (a
// nat session, sleeping) and returns it once ps lists it with an address;
// the session's log is shown if the test fails.
func startNatRun(t *testing.T, e *env, ns string, u *testutil.User) psEntry {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "sleep", "600")
	runLog, err := os.Create(filepath.Join(t.TempDir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = runLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(runLog.Name())
			t.Logf("the session's log:\n%s", b)
		}
	})
	var sess psEntry
	for i := 0; sess.IP == "" && i < 800; i++ {
		for _, s := range e.ps() {
			if s.Pid > 0 && s.IP != "" {
				sess = s
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if sess.IP == "" {
		t.Fatal("the nat session never showed in ps with an address")
	}
	return sess
}
