package vm

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runChecks proves loginjail in one booted guest, in order; each check is
// a subtest, so one failure does not hide the others. Purge comes last.
func runChecks(t *testing.T, g *guest) {
	t.Run("doctor", func(t *testing.T) { checkDoctor(t, g) })
	t.Run("notify-stop-start", func(t *testing.T) { checkNotifyStopStart(t, g) })
	t.Run("reload", func(t *testing.T) { checkReload(t, g) })
	t.Run("restart-keeps-session", func(t *testing.T) { checkRestart(t, g) })
	t.Run("limits", func(t *testing.T) { checkLimits(t, g) })
	t.Run("per-user", func(t *testing.T) { checkPerUser(t, g) })
	t.Run("rootfs-host", func(t *testing.T) { checkRootfsHost(t, g) })
	t.Run("rootfs-image", func(t *testing.T) { checkRootfsImage(t, g) })
	t.Run("nat", func(t *testing.T) { checkNAT(t, g) })
	t.Run("login-records", func(t *testing.T) { checkLoginRecords(t, g) })
	t.Run("pam", func(t *testing.T) { checkPAM(t, g) })
	t.Run("ldap", func(t *testing.T) { checkLDAP(t, g) })
	t.Run("purge", func(t *testing.T) { checkPurge(t, g) })
}

// login is the guest's own OpenSSH client logging in to loginjail sshd
// (port 2222) or the guest's sshd (22) as user, running cmd.
func login(port int, user, cmd string) string {
	return fmt.Sprintf("ssh -n -p %d %s@127.0.0.1 %s", port, user, shellQuote(cmd))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// background starts a login in the guest that outlives this command; its
// output goes to out. It returns the client's pid.
func (g *guest) background(t *testing.T, port int, user, cmd, out string) int {
	t.Helper()
	s := strings.TrimSpace(g.sh(t, fmt.Sprintf("setsid %s >%s 2>&1 </dev/null & echo $!", login(port, user, cmd), out)))
	pid, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("background pid %q: %v", s, err)
	}
	return pid
}

// waitFor polls script in the guest until it succeeds.
func (g *guest) waitFor(t *testing.T, what, script string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, _, err := g.run(script, time.Minute)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			out, _, _ := g.run("tail -n 20 /tmp/ljvm-*.out", time.Minute)
			t.Fatalf("%s: %s: not within %s\n%s", g.im.dist, what, limit, out)
		}
		time.Sleep(time.Second)
	}
}

// limitOf reads file in cgroup dir or the nearest ancestor where it is
// not "max": the limit that holds for dir, whichever cgroup carries it.
// It returns the value and the cgroup that carries it.
func (g *guest) limitOf(t *testing.T, dir, file string) (string, string) {
	t.Helper()
	out := g.sh(t, fmt.Sprintf(`d=%q
while [ "$d" != /sys/fs/cgroup ]; do
	if [ -e "$d/%[2]s" ] && [ "$(cat "$d/%[2]s")" != max ]; then echo "$d"; cat "$d/%[2]s"; exit 0; fi
	d=$(dirname "$d")
done
echo none`, dir, file))
	lines := strings.SplitN(strings.TrimSpace(out), "\n", 2)
	if len(lines) != 2 {
		return "max", ""
	}
	return lines[1], lines[0]
}

func checkDoctor(t *testing.T, g *guest) {
	out, errs, err := g.run("loginjail doctor", 2*time.Minute)
	t.Logf("%s loginjail doctor (err %v):\n%s%s", g.im.dist, err, out, errs)
	if !strings.Contains(out, "ok   kernel: Linux ") {
		t.Errorf("doctor's kernel line missing or not ok")
	}
	if !strings.Contains(out, "ok   cgroup driver: systemd") {
		t.Errorf("doctor does not name the systemd cgroup driver")
	}
}

// checkNotifyStopStart: Type=notify, so `systemctl start` returns only
// once loginjail listens: a login right after it succeeds, no retry.
// After `systemctl stop` the port is closed.
func checkNotifyStopStart(t *testing.T, g *guest) {
	out := g.sh(t, "systemctl show -p Type --value loginjail")
	if strings.TrimSpace(out) != "notify" {
		t.Errorf("Type=%q, want notify", strings.TrimSpace(out))
	}
	g.sh(t, "systemctl stop loginjail")
	if out := g.sh(t, "systemctl is-active loginjail || true"); strings.TrimSpace(out) != "inactive" {
		t.Errorf("after stop: %q, want inactive", out)
	}
	if out, _, err := g.run(login(2222, "ljvm-alice", "true")+" 2>&1", time.Minute); err == nil || !strings.Contains(out, "refused") {
		t.Errorf("a login while stopped: err %v, %q; want connection refused", err, out)
	}
	out = g.sh(t, "systemctl start loginjail && "+login(2222, "ljvm-alice", "hostname"))
	if !strings.HasPrefix(out, "ljvm-alice-") {
		t.Errorf("login right after systemctl start: hostname %q, want ljvm-alice-<id>", out)
	}
}

// checkReload: a changed policy and `systemctl reload` apply to new
// logins; a live session keeps what it got.
func checkReload(t *testing.T, g *guest) {
	pid := g.background(t, 2222, "ljvm-alice", "hostname; sleep 600", "/tmp/ljvm-reload.out")
	old := g.waitSessions(t, "ljvm-alice", 1)[0]
	pidBefore := g.sh(t, "systemctl show -p MainPID --value loginjail")
	g.sh(t, `sed -i 's/^hostname = "{user}-{id}"/hostname = "reloaded-{id}"/' /etc/loginjail/loginjail.toml && systemctl reload loginjail`)
	defer g.sh(t, `sed -i 's/^hostname = "reloaded-{id}"/hostname = "{user}-{id}"/' /etc/loginjail/loginjail.toml && systemctl reload loginjail`)
	if after := g.sh(t, "systemctl show -p MainPID --value loginjail"); after != pidBefore {
		t.Errorf("reload changed the main pid: %s -> %s", pidBefore, after)
	}
	if out := g.sh(t, login(2222, "ljvm-alice", "hostname")); !strings.HasPrefix(out, "reloaded-") {
		t.Errorf("new login after reload: hostname %q, want reloaded-<id>", out)
	}
	if out := g.sh(t, "loginjail enter "+old.ID+" -- hostname"); !strings.HasPrefix(out, "ljvm-alice-") {
		t.Errorf("live session after reload: hostname %q, want it unchanged (ljvm-alice-<id>)", out)
	}
	cg := g.cgroupOf(t, old.PID)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, old, cg)
}

// checkRestart: `systemctl restart loginjail` while a session streams
// output: the stream goes on through and after the restart.
func checkRestart(t *testing.T, g *guest) {
	pid := g.background(t, 2222, "ljvm-alice", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done", "/tmp/ljvm-stream.out")
	g.waitFor(t, "stream started", "[ $(wc -l </tmp/ljvm-stream.out) -ge 5 ]", time.Minute)
	s := g.waitSessions(t, "ljvm-alice", 1)[0]
	before := g.sh(t, "systemctl show -p MainPID --value loginjail")
	g.sh(t, "systemctl restart loginjail && systemctl is-active loginjail")
	after := g.sh(t, "systemctl show -p MainPID --value loginjail")
	if before == after {
		t.Errorf("restart kept main pid %s", before)
	}
	n1 := g.sh(t, "sleep 2; wc -l </tmp/ljvm-stream.out")
	n2 := g.sh(t, "sleep 3; wc -l </tmp/ljvm-stream.out")
	a, _ := strconv.Atoi(strings.TrimSpace(n1))
	b, _ := strconv.Atoi(strings.TrimSpace(n2))
	if b <= a {
		t.Errorf("stream stopped after restart: %d lines, then %d", a, b)
	}
	g.sh(t, fmt.Sprintf("kill -0 %d", pid))
	if out := g.sh(t, "systemctl is-active loginjail-"+s.ID+".scope || true"); strings.TrimSpace(out) != "active" {
		t.Errorf("scope of the live session after a service restart: %q, want active", out)
	}
	cg := g.cgroupOf(t, s.PID)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, s, cg)
}

// checkLimits: pids, memory and cpu on cgroup v2.
func checkLimits(t *testing.T, g *guest) {
	// pids = 64: the bomb stops below it, the session and host go on.
	bomb := `perl -e 'my @kids; while (@kids < 1000) { my $p = fork; last unless defined $p; if ($p == 0) { sleep 20; exit 0 } push @kids, $p } print "forked ", scalar(@kids), "\n"; kill 9, @kids; 1 while wait != -1;'; echo after`
	out := g.sh(t, login(2222, "ljvm-alice", bomb))
	var n int
	if i := strings.Index(out, "forked"); i >= 0 {
		fmt.Sscanf(out[i:], "forked %d", &n)
	}
	if n < 10 || n >= 64 || !strings.Contains(out, "after") {
		t.Errorf("fork bomb: %q; want fewer than pids = 64 forks and the shell going on", out)
	}
	g.sh(t, "true; "+login(2222, "ljvm-alice", "true"))

	// memory = 64M: the hog is OOM-killed in the jail, its shell and the
	// server live on.
	mainPID := g.sh(t, "systemctl show -p MainPID --value loginjail")
	pid := g.background(t, 2222, "ljvm-alice", `perl -e '$x = "a" x (512 * 1024 * 1024); print "survived\n"'; echo "status $?"; echo alive; sleep 600`, "/tmp/ljvm-mem.out")
	g.waitFor(t, "memory hog done", "grep -q alive /tmp/ljvm-mem.out", 2*time.Minute)
	out = g.sh(t, "cat /tmp/ljvm-mem.out")
	// (bash's "Killed" line quotes the command, so match whole lines)
	if !strings.Contains("\n"+out, "\nstatus 137\n") || strings.Contains("\n"+out, "\nsurvived\n") {
		t.Errorf("memory hog: %q; want it SIGKILLed (137) and the shell alive", out)
	}
	s := g.waitSessions(t, "ljvm-alice", 1)[0]
	cg := g.cgroupOf(t, s.PID)
	if v, where := g.limitOf(t, cg, "memory.max"); v != "67108864" {
		t.Errorf("memory.max %q (at %s), want 67108864", v, where)
	} else {
		ev := g.sh(t, "grep oom_kill "+where+"/memory.events")
		if !strings.Contains(ev, "oom_kill ") || strings.Contains(ev, "oom_kill 0") {
			t.Errorf("%s/memory.events: %q, want an oom_kill", where, ev)
		}
	}
	if v, where := g.limitOf(t, cg, "pids.max"); v != "64" {
		t.Errorf("pids.max %q (at %s), want 64", v, where)
	}
	if v, where := g.limitOf(t, cg, "cpu.max"); v != "50000 100000" {
		t.Errorf("cpu.max %q (at %s), want \"50000 100000\" (cpu = 0.5)", v, where)
	}
	if now := g.sh(t, "systemctl is-active loginjail >/dev/null && systemctl show -p MainPID --value loginjail"); now != mainPID {
		t.Errorf("server changed after the OOM: main pid %s -> %s", mainPID, now)
	}
	t.Logf("%s: session cgroup %s", g.im.dist, cg)
	g.checkScope(t, s, cg)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, s, cg)
}

// checkScope: with systemd as PID 1 on cgroup v2 the jail is a transient
// scope loginjail-<id>.scope in loginjail.slice, which `systemctl status`
// shows, and whose own properties are the limits of guestConfig.
func (g *guest) checkScope(t *testing.T, s session, cg string) {
	t.Helper()
	scope := "loginjail-" + s.ID + ".scope"
	if want := "/sys/fs/cgroup/loginjail.slice/" + scope; cg != want {
		t.Errorf("session cgroup %s, want %s", cg, want)
	}
	out, errs, err := g.run("systemctl status --no-pager "+scope, time.Minute)
	if err != nil || !strings.Contains(out, fmt.Sprint(s.PID)) || !strings.Contains(out, "active (running)") {
		t.Errorf("systemctl status %s (err %v) does not show the running jail (init %d):\n%s%s", scope, err, s.PID, out, errs)
	}
	props := g.sh(t, "systemctl show -p Slice -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec -p Delegate "+scope)
	for _, want := range []string{"Slice=loginjail.slice\n", "MemoryMax=67108864\n", "TasksMax=64\n", "CPUQuotaPerSecUSec=500ms\n", "Delegate=yes\n"} {
		if !strings.Contains(props, want) {
			t.Errorf("%s: want %q among its properties:\n%s", scope, strings.TrimSpace(want), props)
		}
	}
}

// checkPerUser: per_user = true puts a user's sessions under one cgroup
// that carries the limits; it goes with the last session.
func checkPerUser(t *testing.T, g *guest) {
	p1 := g.background(t, 2222, "ljvm-bob", "sleep 600", "/tmp/ljvm-bob1.out")
	p2 := g.background(t, 2222, "ljvm-bob", "sleep 600", "/tmp/ljvm-bob2.out")
	ss := g.waitSessions(t, "ljvm-bob", 2)
	g.checkLoginuid(t, "ljvm-bob", ss[0].PID)
	cg1, cg2 := g.cgroupOf(t, ss[0].PID), g.cgroupOf(t, ss[1].PID)
	v1, at1 := g.limitOf(t, cg1, "pids.max")
	v2, at2 := g.limitOf(t, cg2, "pids.max")
	if v1 != "100" || v2 != "100" || at1 != at2 || at1 == cg1 || at1 == cg2 {
		t.Errorf("per_user: sessions %s and %s have pids.max %s at %s and %s at %s; want 100 on one shared parent", cg1, cg2, v1, at1, v2, at2)
	}
	if path.Dir(cg1) != path.Dir(cg2) {
		t.Errorf("per_user: sessions not grouped: %s, %s", cg1, cg2)
	}
	g.sh(t, fmt.Sprintf("kill %d %d", p1, p2))
	g.gone(t, ss[0], cg1)
	g.gone(t, ss[1], cg2)
	if at1 != "" {
		g.waitFor(t, "per-user cgroup "+at1+" removed", fmt.Sprintf("[ ! -e %q ]", at1), 30*time.Second)
	}
}

// checkLoginuid: the jail's init and its children carry the user's audit
// loginuid (pam_loginuid in the session stack), so auditd attributes what
// the jail does to the login. Read from the host: the jail does not map
// the host uid.
func (g *guest) checkLoginuid(t *testing.T, user string, initPID int) {
	t.Helper()
	want := strings.TrimSpace(g.sh(t, "id -u "+user))
	out := g.sh(t, fmt.Sprintf(`for p in %d $(cat /proc/%d/task/%d/children); do echo "$p $(cat /proc/$p/comm) $(cat /proc/$p/loginuid)"; done`, initPID, initPID, initPID))
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) != 3 || f[2] != want {
			t.Errorf("loginuid of %s's jail: %q (pid comm loginuid), want %s", user, line, want)
		}
	}
}

// sftpRoundTrip uploads a file with the guest's OpenSSH sftp client and
// reads it back from the user's home (the jail's home is the host's).
func (g *guest) sftpRoundTrip(t *testing.T, port int, user string) {
	t.Helper()
	out := g.sh(t, fmt.Sprintf(`echo ljvm-sftp-$$ >/tmp/ljvm-sftp.txt
printf 'put /tmp/ljvm-sftp.txt sftp-up.txt\nget sftp-up.txt /tmp/ljvm-sftp-back.txt\n' | sftp -q -b - -P %d %s@127.0.0.1 >/dev/null
cmp /tmp/ljvm-sftp.txt /tmp/ljvm-sftp-back.txt && cmp /tmp/ljvm-sftp.txt /home/%s/sftp-up.txt && echo same
rm -f /home/%s/sftp-up.txt /tmp/ljvm-sftp.txt /tmp/ljvm-sftp-back.txt`, port, user, user, user))
	if strings.TrimSpace(out) != "same" {
		t.Errorf("sftp to port %d as %s: %q", port, user, out)
	}
}

// checkRootfsHost: the default rootfs is the host's / read-only; the
// home is writable (over sftp too).
func checkRootfsHost(t *testing.T, g *guest) {
	g.sftpRoundTrip(t, 2222, "ljvm-alice")
	out := g.sh(t, login(2222, "ljvm-alice", "touch /usr/ljvm-probe 2>&1; findmnt -no OPTIONS /; cat /etc/hostname"))
	if !strings.Contains(out, "Read-only file system") || !strings.HasPrefix(strings.Split(out, "\n")[1], "ro") {
		t.Errorf("host rootfs not read-only: %q", out)
	}
}

// checkRootfsImage: an image directory, mounted idmapped (root-owned
// files belong to the jail's root) under a per-session overlay whose
// writes vanish at logout.
func checkRootfsImage(t *testing.T, g *guest) {
	out, errs, err := g.run(login(2222, "ljvm-img", "cat /etc/os-release; stat -c %u /bin/busybox; id -u; echo hi >/etc/new && cat /etc/new"), 2*time.Minute)
	if err != nil {
		t.Fatalf("%s (kernel %s): image login failed: %v\n%s%s\njournal:\n%s", g.im.dist, g.sh(t, "uname -r"), err, out, errs,
			g.sh(t, "journalctl -u loginjail --no-pager | tail -n 20"))
	}
	if want := "ID=ljvm-image\n0\n0\nhi\n"; out != want {
		t.Errorf("image jail: %q, want %q", out, want)
	}
	if out := g.sh(t, "ls /srv/ljvm-image/etc"); strings.Contains(out, "new") {
		t.Errorf("a jail's write reached the image: %q", out)
	}
}

// checkNAT: with Debian's nftables.service enabled, a nat login reaches
// an outside network masqueraded, and reaches neither the host nor
// another jail.
func checkNAT(t *testing.T, g *guest) {
	g.sh(t, `systemctl enable --now nftables >/dev/null 2>&1
systemctl restart loginjail
# "Outside": a network namespace behind a veth, with an HTTP server whose
# CGI echoes the client address.
ip netns add ljvm-ext
ip link add ljvm-ext0 type veth peer name eth0 netns ljvm-ext
ip addr add 192.0.2.1/24 dev ljvm-ext0
ip link set ljvm-ext0 up
ip -n ljvm-ext link set lo up
ip -n ljvm-ext addr add 192.0.2.2/24 dev eth0
ip -n ljvm-ext link set eth0 up
mkdir -p /srv/ljvm-www/cgi-bin
printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho "from $REMOTE_ADDR"\n' >/srv/ljvm-www/cgi-bin/ip
chmod 755 /srv/ljvm-www/cgi-bin/ip
ip netns exec ljvm-ext busybox httpd -p 192.0.2.2:8080 -h /srv/ljvm-www
`)
	defer g.sh(t, "pkill -f 'busybox httpd -p 192.0.2.2:8080' || true; ip netns del ljvm-ext || true")
	pid := g.background(t, 2222, "ljvm-nat", "busybox nc -l -p 9000; sleep 600", "/tmp/ljvm-nat-a.out")
	a := g.waitSessions(t, "ljvm-nat", 1)[0]
	if a.IP == "" {
		t.Fatalf("nat session has no ip: %+v", a)
	}
	// bash's /dev/tcp: numeric addresses, no NSS (busybox-static's wget
	// crashes looking up the "http" service in a jail).
	probe := fmt.Sprintf(`tcp() { timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2; $3" 2>/dev/null; }
tcp 192.0.2.2 8080 'printf "GET /cgi-bin/ip HTTP/1.0\r\n\r\n" >&3; cat <&3' | tr -d '\r' | grep '^from '; echo "outside $?"
tcp 10.0.2.15 22 'head -c 3 <&3'; echo " host-sshd $?"
tcp 127.0.0.1 22 'head -c 3 <&3'; echo " loopback-22 $?"
tcp %s 9000 'echo x >&3'; echo "other-jail $?"`, a.IP)
	out := g.sh(t, login(2222, "ljvm-nat", probe))
	if !strings.Contains(out, "from 192.0.2.1\n") || !strings.Contains(out, "outside 0") {
		t.Errorf("nat: want the outside server to see the host's address 192.0.2.1 (masqueraded): %q", out)
	}
	for _, blocked := range []string{"host-sshd", "loopback-22", "other-jail"} {
		if strings.Contains(out, blocked+" 0") {
			t.Errorf("nat isolation: %s reachable from a jail: %q", blocked, out)
		}
	}

	// Debian's nftables.service flushes the whole ruleset on restart
	// (/etc/nftables.conf begins with `flush ruleset`). The live jail and
	// new logins get isolation and NAT back, without a loginjail restart.
	g.sh(t, "systemctl restart nftables")
	g.sh(t, fmt.Sprintf(`for i in $(seq 200); do nft list set inet loginjail jails 2>/dev/null | grep -qF ' %s' && exit 0; sleep 0.1; done
echo "the live jail's firewall elements did not come back"; nft list ruleset; journalctl -u loginjail --no-pager | tail -20; exit 1`, a.IP))
	out = g.sh(t, login(2222, "ljvm-nat", probe))
	if !strings.Contains(out, "from 192.0.2.1\n") || !strings.Contains(out, "outside 0") {
		t.Errorf("nat after systemctl restart nftables: a new login is not masqueraded out: %q", out)
	}
	for _, blocked := range []string{"host-sshd", "loopback-22", "other-jail"} {
		if strings.Contains(out, blocked+" 0") {
			t.Errorf("nat isolation after systemctl restart nftables: %s reachable from a new jail: %q", blocked, out)
		}
	}
	live := `tcp() { timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2; $3" 2>/dev/null; }
tcp 192.0.2.2 8080 'printf "GET /cgi-bin/ip HTTP/1.0\r\n\r\n" >&3; cat <&3' | tr -d '\r' | grep '^from '; echo "outside $?"
tcp 10.0.2.15 22 'head -c 3 <&3'; echo " host-sshd $?"`
	out = g.sh(t, "loginjail enter "+a.ID+" -- bash -c "+shellQuote(live))
	if !strings.Contains(out, "from 192.0.2.1\n") || !strings.Contains(out, "outside 0") || strings.Contains(out, "host-sshd 0") {
		t.Errorf("the live jail after systemctl restart nftables: want NAT back and the host closed: %q", out)
	}
	if out := g.sh(t, "loginjail doctor | grep 'nat firewall' || true"); !strings.HasPrefix(out, "ok") {
		t.Errorf("doctor after the restore: %q, want ok", out)
	}

	// The window before the restore, held open: the listener and the
	// session's own process stopped, the ruleset flushed. NAT is gone,
	// but the guard on the jail's veth keeps the host shut, on its
	// uplink address and on the gateway's.
	if out := g.sh(t, "loginjail doctor | grep 'nat guard' || true"); !strings.HasPrefix(out, "ok") {
		t.Errorf("doctor on the guards: %q, want ok", out)
	}
	window := `tcp() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2; $3" 2>/dev/null; }
tcp 10.0.2.15 22 'head -c 3 <&3'; echo " host-sshd $?"
tcp 10.213.0.1 22 'head -c 3 <&3'; echo " gateway-sshd $?"`
	out = g.sh(t, fmt.Sprintf(`keepers="$(systemctl show -p MainPID --value loginjail) $(sed -n 's/.*"owner": *\([0-9]*\).*/\1/p' /run/loginjail/sessions/%s.json)"
kill -STOP $keepers
nft flush ruleset
loginjail enter %s -- bash -c %s
kill -CONT $keepers`, a.ID, a.ID, shellQuote(window)))
	if !strings.Contains(out, "host-sshd ") || strings.Contains(out, "host-sshd 0") || strings.Contains(out, "gateway-sshd 0") {
		t.Errorf("the live jail with the ruleset flushed and no keeper running: want the host closed (the guard): %q", out)
	}
	g.sh(t, fmt.Sprintf(`for i in $(seq 200); do nft list set inet loginjail jails 2>/dev/null | grep -qF ' %s' && exit 0; sleep 0.1; done
echo "the live jail's firewall elements did not come back"; exit 1`, a.IP))

	rules := g.sh(t, "nft list ruleset | grep -c . ; systemctl is-active nftables")
	t.Logf("%s: nft ruleset lines / nftables.service: %s", g.im.dist, strings.ReplaceAll(rules, "\n", " "))
	cg := g.cgroupOf(t, a.PID)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, a, cg)
}

// checkPAM: PAM mode behind the guest's own OpenSSH (port 22) with
// pam_systemd in the stack.
func checkPAM(t *testing.T, g *guest) {
	g.sh(t, `grep -v '^#' /usr/share/doc/loginjail/examples/sshd-pam-session.conf >>/etc/pam.d/sshd
cp /usr/share/doc/loginjail/examples/sshd_config.d-loginjail.conf /etc/ssh/sshd_config.d/loginjail.conf
sshd -t
systemctl reload ssh`)
	if out := g.sh(t, login(22, "ljvm-pam", "hostname; id -un")); !strings.HasPrefix(out, "ljvm-pam-") || !strings.Contains(out, "\nljvm-pam\n") {
		t.Errorf("PAM login: %q, want a jail hostname ljvm-pam-<id> and the user", out)
	}
	g.sftpRoundTrip(t, 22, "ljvm-pam")

	// logout
	pid := g.background(t, 22, "ljvm-pam", "sleep 600", "/tmp/ljvm-pam1.out")
	s := g.waitSessions(t, "ljvm-pam", 1)[0]
	g.checkLoginuid(t, "ljvm-pam", s.PID)
	if out := g.sh(t, "loginctl list-sessions --no-legend"); !strings.Contains(out, "ljvm-pam") {
		t.Errorf("loginctl does not list the PAM session: %q", out)
	}
	if out := g.sh(t, "loginjail enter "+s.ID+" -- hostname"); strings.TrimSpace(out) != s.Hostname {
		t.Errorf("loginjail enter: hostname %q, want %q", out, s.Hostname)
	}
	cg := g.cgroupOf(t, s.PID)
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, s, cg)
	g.waitFor(t, "logind session closed", "! loginctl list-sessions --no-legend | grep -q ljvm-pam", 30*time.Second)

	// loginjail kill
	pid = g.background(t, 22, "ljvm-pam", "sleep 600", "/tmp/ljvm-pam2.out")
	s = g.waitSessions(t, "ljvm-pam", 1)[0]
	cg = g.cgroupOf(t, s.PID)
	g.sh(t, "loginjail kill "+s.ID)
	g.waitFor(t, "client ends after loginjail kill", fmt.Sprintf("! kill -0 %d 2>/dev/null", pid), 30*time.Second)
	g.gone(t, s, cg)

	// sshd restart: the login's sshd survives it (Debian's ssh.service
	// has KillMode=process); the session still ends cleanly later, and a
	// new login works after the restart.
	pid = g.background(t, 22, "ljvm-pam", "sleep 600", "/tmp/ljvm-pam3.out")
	s = g.waitSessions(t, "ljvm-pam", 1)[0]
	cg = g.cgroupOf(t, s.PID)
	g.sh(t, "systemctl restart ssh")
	if out := g.sh(t, login(22, "ljvm-pam", "hostname")); !strings.HasPrefix(out, "ljvm-pam-") {
		t.Errorf("PAM login after sshd restart: %q", out)
	}
	g.sh(t, fmt.Sprintf("kill %d", pid))
	g.gone(t, s, cg)
	g.waitFor(t, "no PAM sessions left", "! loginjail ps --json | grep -q ljvm-pam", 30*time.Second)
	g.sh(t, `sed -i '/loginjail pam-hook/d; /notingroup jailed/d' /etc/pam.d/sshd
rm -f /etc/ssh/sshd_config.d/loginjail.conf
systemctl reload ssh`)
}

// checkPurge: `apt purge` leaves no unit, scope, cgroup, nft table, mount
// or state directory.
func checkPurge(t *testing.T, g *guest) {
	if ss := g.sessions(t, ""); len(ss) != 0 {
		t.Fatalf("sessions still live before purge: %+v", ss)
	}
	g.sh(t, "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q loginjail >/dev/null")
	out := g.sh(t, `
systemctl list-units --all --no-legend 'loginjail*' | sed 's/^/unit: /' || true
ls /lib/systemd/system/loginjail* /usr/lib/systemd/system/loginjail* /etc/systemd/system/*/loginjail* 2>/dev/null | sed 's/^/unit file: /' || true
find /sys/fs/cgroup -name 'loginjail*' | sed 's/^/cgroup: /' || true
nft list tables | grep -i loginjail | sed 's/^/nft: /' || true
findmnt -rn -o TARGET,SOURCE | grep -i loginjail | sed 's/^/mount: /' || true
ls -d /run/loginjail /var/lib/loginjail /etc/loginjail 2>/dev/null | sed 's/^/state: /' || true
echo end`)
	if strings.TrimSpace(out) != "end" {
		t.Errorf("after apt purge:\n%s", out)
	}
	links := g.sh(t, "ip -br link | grep -E '^lj' || true")
	t.Logf("%s: links named lj* after purge: %q", g.im.dist, links)
}
