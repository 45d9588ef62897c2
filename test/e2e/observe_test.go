package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// usageEntry is the usage part of `ps --json`.
type usageEntry struct {
	ID          string  `json:"id"`
	User        string  `json:"user"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	MemoryBytes int64   `json:"memory_bytes"`
	Pids        int     `json:"pids"`
	IdleSeconds float64 `json:"idle_seconds"`
}

func (e *env) usage(id string) (usageEntry, bool) {
	e.t.Helper()
	out, serr, code := e.lj("ps", "--json")
	if code != 0 {
		e.t.Fatalf("ps --json: exit %d: %s", code, serr)
	}
	var all []usageEntry
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		e.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	for _, u := range all {
		if u.ID == id {
			return u, true
		}
	}
	return usageEntry{}, false
}

// scrape reads /metrics at addr into "name{labels}" -> value, labels
// as the text format prints them (sorted by name).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// series returns the values of the metric name whose label set contains
// every one of labels (`k="v"`).
func series(m map[string]float64, name string, labels ...string) []float64 {
	var out []float64
next:
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(k, l) {
				continue next
			}
		}
		out = append(out, v)
	}
	return out
}

// waitScrape scrapes until ok accepts the result.
func waitScrape(t *testing.T, addr, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := scrape(t, addr)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %s:\n%v", what, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestObserveMetricsAndPS: [server] metrics_listen serves /metrics; after
// a failed password, a refused root login and a live key login, the
// counters, histograms and the session's series say so, and `ps` shows
// the same session's CPU, memory, processes and idle time (which input
// resets); after the logout the session's series are gone.
func TestObserveMetricsAndPS(t *testing.T) {
	s := newSSHD(t, `metrics_listen = "127.0.0.1:0"`, "")
	addr := fmt.Sprint(s.waitEvent("metrics.listen", nil)["addr"])
	u := testutil.NewUser(t, "obsmet")
	s.authorize(u, "")
	setPassword(t, u, "Right-Pass-9")

	if _, _, code := s.sshPassword(u.Name, "password", "wrong", "127.0.0.41", "true"); code != 255 {
		t.Fatalf("wrong password: exit %d", code)
	}
	if _, _, code := s.sshPassword("root", "password", "x", "127.0.0.42", "true"); code != 255 {
		t.Fatalf("root: exit %d", code)
	}
	// Some CPU time and a few processes, then wait for input.
	l := s.startSSH(u, `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo ready; sleep 600 & cat; kill $!`)
	sess := s.session(u)

	m := waitScrape(t, addr, "a started login", func(m map[string]float64) bool {
		c := series(m, "loginjail_login_duration_seconds_count")
		return len(c) == 1 && c[0] >= 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"loginjail_logins_total", []string{`method="password"`, `result="failure"`}, 1},
		{"loginjail_logins_total", []string{`method="password"`, `result="refused"`}, 1},
		{"loginjail_logins_total", []string{`method="publickey"`, `result="success"`}, 1},
		{"loginjail_jail_start_duration_seconds_count", nil, 1},
		{"loginjail_sessions", []string{`frontdoor="sshd"`}, 1},
		{"loginjail_session_cpu_seconds_total", []string{`session="` + sess.ID + `"`, `user="` + u.Name + `"`}, 0.01},
		{"loginjail_session_memory_bytes", []string{`session="` + sess.ID + `"`}, 1},
		{"loginjail_session_pids", []string{`session="` + sess.ID + `"`}, 3},
	} {
		v := series(m, c.name, c.labels...)
		if len(v) != 1 || v[0] < c.min {
			t.Errorf("%s%v = %v, want one series >= %v", c.name, c.labels, v, c.min)
		}
	}

	// ps: the same usage, for a session without limits.
	pu, ok := e2ePS(s, sess.ID)
	if !ok || pu.CPUSeconds < 0.01 || pu.MemoryBytes <= 0 || pu.Pids < 3 {
		t.Errorf("ps --json usage: %+v", pu)
	}
	out, _, _ := s.e.lj("ps")
	t.Logf("loginjail ps:\n%s", out)
	var excerpt []string
	for k, v := range m {
		if strings.HasPrefix(k, "loginjail_") && !strings.Contains(k, "_bucket") {
			excerpt = append(excerpt, fmt.Sprintf("%s %g", k, v))
		}
	}
	sort.Strings(excerpt)
	t.Logf("/metrics (no buckets):\n%s", strings.Join(excerpt, "\n"))
	if hdr := strings.SplitN(out, "\n", 2)[0]; !regexp.MustCompile(`\bCPU\s+MEM\s+PIDS\s+IDLE\b`).MatchString(hdr) {
		t.Errorf("ps header: %q", hdr)
	}

	// IDLE grows without input and drops back after some.
	var idle float64
	for deadline := time.Now().Add(40 * time.Second); ; {
		pu, _ = e2ePS(s, sess.ID)
		if idle = pu.IdleSeconds; idle >= 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle_seconds never grew: %v", idle)
		}
		time.Sleep(500 * time.Millisecond)
	}
	io.WriteString(l.stdin, "hello\n")
	if got := l.line(t); got != "hello\n" {
		t.Fatalf("echo: %q", got)
	}
	for deadline := time.Now().Add(40 * time.Second); ; {
		pu, _ = e2ePS(s, sess.ID)
		if pu.IdleSeconds < idle-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle_seconds not reset by input: %v (was %v)", pu.IdleSeconds, idle)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Logout: the session's series go with it.
	l.stdin.Close()
	<-l.done
	waitScrape(t, addr, "the session's series gone", func(m map[string]float64) bool {
		return len(series(m, "loginjail_session_pids", `session="`+sess.ID+`"`)) == 0 &&
			len(series(m, "loginjail_sessions")) == 0
	})
}

func e2ePS(s *sshdServer, id string) (usageEntry, bool) { return s.e.usage(id) }

// TestObserveExporter: `loginjail exporter` serves the per-session
// series of a session it did not start (here `loginjail run`'s), and no
// login counters.
func TestObserveExporter(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "obsexp")
	bg := e.start(u, "sleep 600")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(e.bin, "exporter", "--config", e.cfg, "--listen", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var m map[string]float64
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("exporter never served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	m = scrape(t, addr)
	if v := series(m, "loginjail_session_pids", `session="`+bg.sess.ID+`"`, `user="`+u.Name+`"`); len(v) != 1 || v[0] < 2 {
		t.Errorf("session pids: %v\n%v", v, m)
	}
	if v := series(m, "loginjail_sessions", `frontdoor="run"`); len(v) != 1 || v[0] != 1 {
		t.Errorf("sessions: %v", v)
	}
	if v := series(m, "loginjail_logins_total"); len(v) != 0 {
		t.Errorf("the exporter counts logins: %v", v)
	}
	if _, serr, code := testutil.Run(t, e.bin, "exporter", "--config", e.cfg); code == 0 || !strings.Contains(serr, "--listen") {
		t.Errorf("exporter without --listen: exit %d: %s", code, serr)
	}
}

// syslogSink collects the datagrams loginjail sends to its syslog socket.
type syslogSink struct {
	pc   net.PacketConn
	path string
}

func newSyslogSink(t *testing.T) *syslogSink {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "log")
	pc, err := net.ListenPacket("unixgram", p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o666)
	t.Cleanup(func() { pc.Close() })
	t.Setenv("LOGINJAIL_SYSLOG_SOCKET", p)
	return &syslogSink{pc: pc, path: p}
}

// lines reads what arrived until quiet for a second.
func (s *syslogSink) lines() []string {
	var out []string
	buf := make([]byte, 4096)
	for {
		s.pc.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := s.pc.ReadFrom(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

// TestObserveFail2ban: failed logins reach syslog facility authpriv in
// lines Debian's fail2ban-regex matches with the shipped filter, with
// the client's address, even when the user name tries to name another.
func TestObserveFail2ban(t *testing.T) {
	testutil.RequireTool(t, "fail2ban-regex")
	sink := newSyslogSink(t)
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "obsf2b")
	setPassword(t, u, "Right-Pass-9")
	s.sshPassword(u.Name, "password", "wrong", "127.0.0.51", "true")
	s.sshPassword(u.Name, "keyboard-interactive", "wrong", "127.0.0.51", "true")
	s.sshPassword("ljt-nobody from=127.0.0.99", "password", "x", "127.0.0.52", "true")
	if out, _, code := s.sshPassword(u.Name, "password", "Right-Pass-9", "127.0.0.53", "echo in"); code != 0 || out != "in\n" {
		t.Fatalf("good login: exit %d %q", code, out)
	}
	s.waitEvent("auth.success", map[string]string{"remote": "127.0.0.53"})

	var log strings.Builder
	failures := 0
	for _, d := range sink.lines() {
		// "<PRI>Mmm dd hh:mm:ss loginjail[PID]: msg"
		end := strings.IndexByte(d, '>')
		pri, err := strconv.Atoi(d[1:max(end, 1)])
		if d[0] != '<' || err != nil {
			t.Fatalf("not a syslog datagram: %q", d)
		}
		if pri>>3 != 10 {
			t.Errorf("facility %d, want authpriv (10): %q", pri>>3, d)
		}
		if strings.Contains(d, "event=auth.failure") {
			failures++
			if pri&7 != 4 {
				t.Errorf("failure at severity %d, want warning: %q", pri&7, d)
			}
		}
		// As rsyslog writes auth.log: the time, the host, the rest.
		rest := d[end+1:]
		fmt.Fprintf(&log, "%s testhost %s\n", rest[:15], rest[16:])
	}
	if failures < 3 {
		t.Fatalf("%d auth.failure lines reached syslog, want 3:\n%s", failures, log.String())
	}
	logPath := filepath.Join(t.TempDir(), "auth.log")
	os.WriteFile(logPath, []byte(log.String()), 0o644)
	// fail2ban-regex reads a filter by name from a config dir, which
	// needs Debian's common.conf beside ours.
	conf := t.TempDir()
	os.Mkdir(filepath.Join(conf, "filter.d"), 0o755)
	root, _ := testutil.ModuleRoot()
	b, err := os.ReadFile(filepath.Join(root, "packaging/fail2ban/filter.d/loginjail.conf"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(conf, "filter.d/loginjail.conf"), b, 0o644)
	os.Symlink("/etc/fail2ban/filter.d/common.conf", filepath.Join(conf, "filter.d/common.conf"))
	out, serr, code := testutil.Run(t, "fail2ban-regex", "--config", conf, "-o", "ip", logPath, "loginjail")
	if code != 0 {
		t.Fatalf("fail2ban-regex: exit %d: %s\n%s", code, serr, out)
	}
	ips := map[string]int{}
	for _, ip := range strings.Fields(out) {
		ips[ip]++
	}
	if ips["127.0.0.51"] != 2 || ips["127.0.0.52"] != 1 || len(ips) != 2 {
		t.Errorf("fail2ban-regex matched %v, want 127.0.0.51 twice and 127.0.0.52 once\n%s", ips, log.String())
	}
	summary, _, _ := testutil.Run(t, "fail2ban-regex", "--config", conf, logPath, "loginjail")
	t.Logf("fail2ban-regex:\n%s", summary[strings.Index(summary, "Lines:"):])
}

// TestObserveUtmp: a terminal login is in utmp while it lasts (who), and
// in wtmp with its remote address and logout afterwards (last); lastlog
// has it.
func TestObserveUtmp(t *testing.T) {
	testutil.RequireTool(t, "who")
	testutil.RequireTool(t, "last")
	// A host without a login manager may have no utmp yet.
	if _, err := os.Stat("/run/utmp"); os.IsNotExist(err) {
		if f, err := os.OpenFile("/run/utmp", os.O_CREATE|os.O_WRONLY, 0o664); err == nil {
			f.Close()
			t.Cleanup(func() { os.Remove("/run/utmp") })
		}
	}
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "obsutmp")
	s.authorize(u, "")
	finished := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(u.Name) + `\s+pts/\d+\s+127\.0\.0\.61\s.*\(\d+:\d+\)`)
	// wtmp outlives test users: count this run's logins only.
	lastOut, _, _ := testutil.Run(t, "last", "-w", "-i", u.Name)
	before := len(finished.FindAllString(lastOut, -1))
	// startSSH waits for the first line: the jail's terminal.
	l := s.startSSH(u, "tty; cat", "-tt", "-b", "127.0.0.61")
	who, _, _ := testutil.Run(t, "who")
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(u.Name) + `\s+pts/\d+\s.*\(127\.0\.0\.61\)`).MatchString(who) {
		t.Errorf("who does not list %s on a pts from 127.0.0.61:\n%s", u.Name, who)
	}
	l.stdin.Write([]byte{4}) // ^D on the terminal ends cat
	l.stdin.Close()
	<-l.done
	s.waitEvent("session.end", map[string]string{"user": u.Name})
	deadline := time.Now().Add(20 * time.Second)
	for {
		last, _, _ := testutil.Run(t, "last", "-w", "-i", u.Name)
		if len(finished.FindAllString(last, -1)) > before {
			t.Logf("last:\n%s", last)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last has no finished login of %s from 127.0.0.61:\n%s", u.Name, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	who, _, _ = testutil.Run(t, "who")
	if strings.Contains(who, u.Name) {
		t.Errorf("who still lists %s after logout:\n%s", u.Name, who)
	}
	if ll, _, code := testutil.Run(t, "lastlog", "-u", u.Name); code == 0 && !strings.Contains(ll, "127.0.0.61") {
		t.Errorf("lastlog:\n%s", ll)
	}
}

// TestObserveAdminActions: enter, enter --privileged and kill reach
// syslog authpriv with the admin's uid and what they acted on, while the
// admin's terminal gets only the command's own output.
func TestObserveAdminActions(t *testing.T) {
	sink := newSyslogSink(t)
	e := newEnv(t, "")
	u := testutil.NewUser(t, "obsadm")
	bg := e.start(u, "sleep 600")
	if out, serr, code := e.lj("enter", bg.sess.ID, "--", "true"); code != 0 || out != "" {
		t.Fatalf("enter: exit %d: %q %q", code, out, serr)
	}
	if _, serr, code := e.lj("enter", "--privileged", u.Name, "--", "true"); code != 0 {
		t.Fatalf("enter --privileged: exit %d: %s", code, serr)
	}
	if _, serr, code := e.lj("kill", bg.sess.ID); code != 0 {
		t.Fatalf("kill: exit %d: %s", code, serr)
	}
	lines := strings.Join(sink.lines(), "\n")
	for _, want := range []string{
		`]: event=admin.enter admin_uid=0 admin=root .*target=` + bg.sess.ID + ` root=false privileged=false command=true`,
		`]: event=admin.enter admin_uid=0 admin=root .*target=` + u.Name + ` root=false privileged=true command=true`,
		`]: event=admin.kill admin_uid=0 admin=root .*target=` + bg.sess.ID + ` sessions=` + bg.sess.ID,
	} {
		if !regexp.MustCompile(`(?m)^<85>.*` + want).MatchString(lines) {
			t.Errorf("no authpriv.notice line like %q in:\n%s", want, lines)
		}
	}
}

// TestObserveJournalPriorities: when stderr is the journal's stream
// (JOURNAL_STREAM names it), every JSON line carries its priority as a
// "<N>" prefix: a failed login at warning, a success at notice.
func TestObserveJournalPriorities(t *testing.T) {
	s := newSSHD(t, "", "")
	s.stopListener()
	st, err := os.Stat(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", sys.Dev, sys.Ino))
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(s.e.bin, "sshd", "--config", s.e.cfg, "--listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	u := testutil.NewUser(t, "obsjrnl")
	s.authorize(u, "")
	setPassword(t, u, "Right-Pass-9")
	var port string
	prefixed := regexp.MustCompile(`^<(\d)>(\{.*\})$`)
	events := func() map[string]string { // event -> priority
		b, _ := os.ReadFile(s.logPath)
		out := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			m := prefixed.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(m[2]), &ev); err != nil {
				t.Fatalf("prefixed line is not JSON after the prefix: %q", line)
			}
			name := fmt.Sprint(ev["event"])
			out[name] = m[1]
			if name == "sshd.listen" {
				a := fmt.Sprint(ev["addr"])
				port = a[strings.LastIndex(a, ":")+1:]
			}
		}
		return out
	}
	for deadline := time.Now().Add(30 * time.Second); events()["sshd.listen"] == ""; {
		if time.Now().After(deadline) {
			t.Fatal("no prefixed sshd.listen line")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.port = port
	s.sshPassword(u.Name, "password", "wrong", "127.0.0.71", "true")
	if _, serr, code := s.ssh(u, nil, "true"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, serr)
	}
	var got map[string]string
	for deadline := time.Now().Add(20 * time.Second); ; {
		got = events()
		if got["session.end"] != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for ev, want := range map[string]string{"auth.failure": "4", "auth.success": "5", "session.start": "5", "session.exec": "6"} {
		if got[ev] != want {
			t.Errorf("%s at priority %q, want %s (all: %v)", ev, got[ev], want, got)
		}
	}
}
