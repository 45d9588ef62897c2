package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestNatManyJails starts 50 nat jails through `loginjail run` in batches
// of 10 started at once, watches `ps --json` while they live (no two live
// sessions ever share an address, every address is from 10.213/16), and
// ends them three ways: the command exits, `loginjail kill`, or SIGKILL of
// the run process followed by `gc`. Afterwards no veth, no per-jail
// firewall element and no lease is left.
func TestNatManyJails(t *testing.T) {
	const (
		total = 50
		batch = 10
	)
	e := newEnv(t, "[jail.network]\nmode = \"nat\"\n")
	w := newNatWorld(t)
	users := make([]*testutil.User, 5)
	for i := range users {
		users[i] = testutil.NewUser(t, fmt.Sprintf("many%d", i))
	}

	// How each jail ends: i%5 == 0,1: its command exits; 2,3: kill;
	// 4: SIGKILL of the run process, then gc.
	const (
		byExit = iota
		byKill
		bySIGKILL
	)
	how := func(i int) int {
		switch i % 5 {
		case 0, 1:
			return byExit
		case 2, 3:
			return byKill
		}
		return bySIGKILL
	}

	// The watcher records every address seen, per session, and fails on
	// two live sessions holding one address in the same snapshot.
	var (
		mu       sync.Mutex
		seen     = map[string]string{} // session id → ip
		problems []string
	)
	snapshot := func() []psEntry {
		// Quietly: testutil.Cmd would log each of hundreds of calls.
		cmd := exec.Command(e.bin, "ps", "--json")
		cmd.Env = append(os.Environ(), "LOGINJAIL_CONFIG="+e.cfg)
		out, err := cmd.Output()
		if err != nil {
			return nil
		}
		var ps []psEntry
		if json.Unmarshal([]byte(out), &ps) != nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		byIP := map[string]string{}
		for _, s := range ps {
			if s.Pid <= 0 || s.IP == "" {
				continue
			}
			if !strings.HasPrefix(s.IP, "10.213.") || s.Net != "nat" {
				problems = append(problems, fmt.Sprintf("session %s: ip %q net %q, want 10.213/16 and nat", s.ID, s.IP, s.Net))
			}
			if other, dup := byIP[s.IP]; dup {
				problems = append(problems, fmt.Sprintf("sessions %s and %s both hold %s", other, s.ID, s.IP))
			}
			byIP[s.IP] = s.ID
			if prev, ok := seen[s.ID]; ok && prev != s.IP {
				problems = append(problems, fmt.Sprintf("session %s changed address %s → %s", s.ID, prev, s.IP))
			}
			seen[s.ID] = s.IP
		}
		return ps
	}
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			snapshot()
			time.Sleep(30 * time.Millisecond)
		}
	}()
	defer func() {
		select {
		case <-stopWatch:
		default:
			close(stopWatch)
		}
		<-watchDone
	}()

	type job struct {
		i    int
		user string
		cmd  *exec.Cmd
		done chan struct{}
	}
	jobs := make([]*job, total)
	start := func(i int) *job {
		// Short commands exit on their own while other jails are being
		// started and stopped: those of the first batches at once, so
		// that later batches lease their addresses again.
		argv := []string{"sleep", "120"}
		if how(i) == byExit {
			d := 1.5 + float64(i%7)*0.3
			if i < 2*batch {
				d = 0.6 // long enough for the 30 ms poll to see its address
			}
			argv = []string{"sleep", fmt.Sprintf("%.1f", d)}
		}
		u := users[i%len(users)]
		cmd := exec.Command("ip", append([]string{"netns", "exec", w.host, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--"}, argv...)...)
		cmd.Env = append(os.Environ(), "LOGINJAIL_CONFIG="+e.cfg)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		j := &job{i: i, user: u.Name, cmd: cmd, done: make(chan struct{})}
		go func() { cmd.Wait(); close(j.done) }()
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-j.done
		})
		return j
	}

	began := time.Now()
	for b := 0; b < total; b += batch {
		var wg sync.WaitGroup
		for i := b; i < b+batch; i++ {
			wg.Go(func() { jobs[i] = start(i) })
		}
		wg.Wait()
		// Let this batch show up before the next one starts, so that
		// starts overlap with the exits of earlier short jails.
		deadline := time.Now().Add(20 * time.Second)
		for {
			n := 0
			for _, s := range snapshot() {
				if s.Pid > 0 && s.IP != "" {
					n++
				}
			}
			mu.Lock()
			got := len(seen)
			mu.Unlock()
			if got >= b+batch {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after starting %d jails only %d sessions were seen with an address (%d live now)", b+batch, got, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("50 jails started in %v", time.Since(began).Round(time.Millisecond))

	// Pair live sessions with their runs: a jail's init descends from the
	// run process that built it.
	live := snapshot()
	sessOf := map[int]psEntry{} // job index → session
	for _, s := range live {
		if s.Pid <= 0 {
			continue
		}
		for _, j := range jobs {
			if isDescendant(s.Pid, j.cmd.Process.Pid) {
				sessOf[j.i] = s
				break
			}
		}
	}

	var wg sync.WaitGroup
	for _, j := range jobs {
		switch how(j.i) {
		case byKill:
			s, ok := sessOf[j.i]
			if !ok {
				t.Errorf("jail %d: no live session found for its run", j.i)
				continue
			}
			wg.Go(func() {
				if out, serr, code := e.in(w, "kill", s.ID); code != 0 {
					t.Errorf("kill %s: exit %d %q %q", s.ID, code, out, serr)
				}
			})
		case bySIGKILL:
			wg.Go(func() { killRun(t, j.cmd.Process.Pid) })
		}
	}
	wg.Wait()
	for _, j := range jobs {
		select {
		case <-j.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("jail %d: loginjail run did not exit", j.i)
		}
		if how(j.i) == byExit && j.cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("jail %d: run exited %d", j.i, j.cmd.ProcessState.ExitCode())
		}
	}
	// The SIGKILLed runs' jails die with their builder; gc reclaims them.
	for i := 0; len(liveSessions(snapshot())) > 0 && i < 400; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	close(stopWatch)
	<-watchDone
	if n := len(liveSessions(snapshot())); n != 0 {
		t.Fatalf("%d sessions still live after every jail was ended", n)
	}
	if out, serr, code := e.in(w, "gc"); code != 0 {
		t.Fatalf("gc: exit %d %q %q", code, out, serr)
	}
	t.Logf("all ended and reclaimed %v after the start", time.Since(began).Round(time.Millisecond))

	mu.Lock()
	if len(seen) != total {
		t.Errorf("saw %d sessions with an address, want %d", len(seen), total)
	}
	for _, p := range problems {
		t.Error(p)
	}
	distinct := map[string]bool{}
	for _, ip := range seen {
		distinct[ip] = true
	}
	t.Logf("%d sessions used %d distinct addresses", len(seen), len(distinct))
	mu.Unlock()

	// Nothing is left: no veth of a jail, no per-jail firewall element,
	// no lease.
	l := hostLinks(t, w)
	for _, m := range regexp.MustCompile(`(?m)^\d+: (lj[0-9a-z]+)@`).FindAllStringSubmatch(l, -1) {
		if !strings.HasPrefix(m[1], "ljtu") { // the world's own uplink
			t.Errorf("veth %s left in the host netns", m[1])
		}
	}
	if strings.Contains(l, "master lj0") {
		t.Errorf("ports left on the bridge:\n%s", l)
	}
	out, err := exec.Command("ip", "netns", "exec", w.host, "nft", "-j", "list", "table", "inet", "loginjail").Output()
	if err != nil {
		t.Fatalf("nft list table: %v", err)
	}
	for _, p := range leftElements(t, out) {
		t.Error(p)
	}
	// Anti-spoofing's port elements go with their sessions too.
	if out, err = exec.Command("ip", "netns", "exec", w.host, "nft", "-j", "list", "table", "bridge", "loginjail").Output(); err != nil {
		t.Fatalf("nft list table bridge: %v", err)
	}
	for _, p := range leftElements(t, out) {
		t.Error("bridge table: " + p)
	}
	if ents, _ := os.ReadDir(e.stateDir + "/net/leases"); len(ents) != 0 {
		var names []string
		for _, ent := range ents {
			names = append(names, ent.Name())
		}
		t.Errorf("leases left: %v", names)
	}
}

func liveSessions(ps []psEntry) []psEntry {
	var out []psEntry
	for _, s := range ps {
		if s.Pid > 0 {
			out = append(out, s)
		}
	}
	return out
}

// leftElements lists the elements left in the loginjail table's sets:
// every one, except our bridge's name in @bridges.
func leftElements(t *testing.T, js []byte) []string {
	t.Helper()
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, js)
	}
	var problems []string
	sets := 0
	for _, obj := range doc.Nftables {
		raw, ok := obj["set"]
		if !ok {
			raw, ok = obj["map"]
		}
		if !ok {
			continue
		}
		var s struct {
			Name string            `json:"name"`
			Elem []json.RawMessage `json:"elem"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		sets++
		for _, el := range s.Elem {
			txt := string(el)
			switch {
			case s.Name == "bridges" && txt == `"lj0"`:
			case s.Name == "gateways" || s.Name == "dns_block":
				// lasting: the bridge's gateway, the DNS ports named jails may not use
			case strings.Contains(txt, `"10.213.`):
				problems = append(problems, fmt.Sprintf("set %s: element %s of a jail left", s.Name, txt))
			default:
				problems = append(problems, fmt.Sprintf("set %s: element %s left", s.Name, txt))
			}
		}
	}
	if sets == 0 {
		problems = append(problems, "no sets in the table:\n"+string(js))
	}
	return problems
}

// isDescendant reports whether pid descends from ancestor.
func isDescendant(pid, ancestor int) bool {
	for i := 0; pid > 1 && i < 64; i++ {
		if pid == ancestor {
			return true
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		s := string(b)
		k := strings.LastIndexByte(s, ')')
		if k < 0 {
			return false
		}
		var state string
		var ppid int
		fmt.Sscan(s[k+1:], &state, &ppid)
		pid = ppid
	}
	return false
}

// killRun SIGKILLs the loginjail run process started as pid (ip netns
// exec may exec it in place or be its parent).
func killRun(t *testing.T, pid int) {
	t.Helper()
	target := pid
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); strings.HasSuffix(exe, "/ip") {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		f := strings.Fields(string(b))
		if len(f) == 0 {
			t.Errorf("run %d: no child to kill", pid)
			return
		}
		fmt.Sscan(f[0], &target)
	}
	if err := syscall.Kill(target, syscall.SIGKILL); err != nil {
		t.Errorf("SIGKILL run %d: %v", target, err)
	}
}
