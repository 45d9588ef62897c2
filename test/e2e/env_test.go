package e2e

import (
	"encoding/json"
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

func TestMain(m *testing.M) {
	// The test binary doubles as the "internet" listener of the NAT tests,
	// started inside the upstream namespace.
	if addr := os.Getenv(listenEnv); addr != "" {
		serveRemoteAddr(addr)
		return
	}
	if spec := os.Getenv(testutil.SpoofEnv); spec != "" {
		// The forger of TestNatAntiSpoof, inside a jail.
		if err := testutil.Spoof("eth0", spec); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("SENT")
		os.Exit(0)
	}
	if path := os.Getenv(dialEnv); path != "" {
		dialHolderAndPrint(path)
	}
	if os.Geteuid() == 0 {
		testutil.RemoveStaleUsers()
	}
	os.Exit(m.Run())
}

// env is one test's loginjail: the binary, and a config whose state and
// lib dirs are the test's own, so tests never meet each other's sessions.
type env struct {
	t        *testing.T
	bin      string
	stateDir string
	cfg      string
}

// newEnv writes a config with the test's state dir and extra TOML, which
// may add [jail] keys (as "[jail]\n...") or [[policy]] blocks.
func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	testutil.RequireRoot(t)
	dir, err := os.MkdirTemp("", "ljt-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The jail's root must traverse to its session dir under the state dir.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, bin: testutil.Binary(t), stateDir: filepath.Join(dir, "run"), cfg: filepath.Join(dir, "loginjail.toml")}
	body := fmt.Sprintf("[server]\nstate_dir = %q\nlib_dir = %q\n%s\n", e.stateDir, filepath.Join(dir, "lib"), extra)
	if err := os.WriteFile(e.cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever a failed test left running is ended and reclaimed.
		for _, s := range e.ps() {
			e.lj("kill", s.ID)
		}
		e.lj("gc")
	})
	return e
}

// lj runs an admin verb against this env's registry.
func (e *env) lj(args ...string) (string, string, int) {
	e.t.Helper()
	return testutil.Cmd{Env: []string{"LOGINJAIL_CONFIG=" + e.cfg}}.Run(e.t, e.bin, args...)
}

// run runs script with sh -c in a fresh jail for u.
func (e *env) run(u *testutil.User, script string) (string, string, int) {
	e.t.Helper()
	return testutil.Run(e.t, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "sh", "-c", script)
}

// psEntry is `ps --json`'s contract.
type psEntry struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	UID       uint32 `json:"uid"`
	Pid       int    `json:"pid"`
	Hostname  string `json:"hostname"`
	Net       string `json:"net"`
	IP        string `json:"ip"`
	Remote    string `json:"remote"`
	Started   string `json:"started"`
	Frontdoor string `json:"frontdoor"`
}

func (e *env) ps() []psEntry {
	e.t.Helper()
	out, serr, code := e.lj("ps", "--json")
	if code != 0 {
		e.t.Fatalf("ps --json: exit %d: %s", code, serr)
	}
	var ps []psEntry
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		e.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	return ps
}

// background is a `loginjail run` left running.
type background struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when run has exited
	sess psEntry
}

// start runs script in a jail for u in the background and returns once
// `ps` lists the session.
func (e *env) start(u *testutil.User, script string) *background {
	e.t.Helper()
	before := map[string]bool{}
	for _, s := range e.ps() {
		before[s.ID] = true
	}
	cmd := exec.Command(e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	b := &background{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(b.done) }()
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		<-b.done
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range e.ps() {
			if s.User == u.Name && s.Pid > 0 && !before[s.ID] {
				b.sess = s
				return b
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("session of %s never showed in ps", u.Name)
	return nil
}

// wait waits for the background run to exit and returns its status.
func (b *background) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatal("loginjail run did not exit")
	}
	return b.cmd.ProcessState.ExitCode()
}

// assertGone checks that nothing of session s is left: no process in its
// pid namespace, no registry record, no session dir, no host mount under
// the state dir.
func (e *env) assertGone(s psEntry) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var problems []string
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", s.Pid)); err == nil {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.Pid)); strings.TrimSpace(string(st)) == "loginjail-init" {
				problems = append(problems, fmt.Sprintf("init pid %d alive", s.Pid))
			}
		}
		if _, err := os.Stat(filepath.Join(e.stateDir, "sessions", s.ID+".json")); err == nil {
			problems = append(problems, "registry record left")
		}
		if _, err := os.Stat(filepath.Join(e.stateDir, "sessions", s.ID)); err == nil {
			problems = append(problems, "session dir left")
		}
		if m := mountsUnder(e.stateDir); len(m) > 0 {
			problems = append(problems, fmt.Sprintf("mounts left: %v", m))
		}
		if procs := processesOfRange(sessionSubUID(e, s)); len(procs) > 0 {
			problems = append(problems, fmt.Sprintf("jail processes left: %v", procs))
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("session %s not cleaned up: %s", s.ID, strings.Join(problems, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessionSubUID remembers each session's subordinate range start, looked
// up from the user's /etc/subuid line while the user still exists.
func sessionSubUID(e *env, s psEntry) uint32 {
	b, _ := os.ReadFile("/etc/subuid")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 3 && f[0] == s.User {
			var n uint32
			fmt.Sscan(f[1], &n)
			return n
		}
	}
	return 0
}

// processesOfRange lists host pids whose real uid lies in the 65536 ids
// from sub (the jail's root and other jail ids).
func processesOfRange(sub uint32) []int {
	if sub == 0 {
		return nil
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		var pid int
		if _, err := fmt.Sscan(ent.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Uid:") {
				var uid uint32
				fmt.Sscan(strings.Fields(line)[1], &uid)
				if uid >= sub && uid < sub+65536 {
					out = append(out, pid)
				}
			}
		}
	}
	return out
}

func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

func readlink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
