package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestExitStatusAndCleanupAfterCommand: the command's status is run's, and
// the session is gone once it exits.
func TestExitStatusAndCleanupAfterCommand(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "exit")
	if _, _, code := e.run(u, "exit 3"); code != 3 {
		t.Errorf("exit 3: run exited %d", code)
	}
	if _, _, code := e.run(u, "kill -TERM $$"); code != 128+int(syscall.SIGTERM) {
		t.Errorf("kill -TERM $$: run exited %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	// A background job left behind must not outlive the session.
	b := e.start(u, "sleep 600 & sleep 0.5; exit 0")
	if code := b.wait(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
	e.assertGone(b.sess)
	if ps := e.ps(); len(ps) != 0 {
		t.Errorf("ps after logout: %+v", ps)
	}
}

// TestPipesPassBytesExactly: without a terminal, stdin and stdout are the
// caller's own, byte for byte, binary and all.
func TestPipesPassBytesExactly(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "pipes")
	data := make([]byte, 3<<20)
	rand.Read(data)
	out, serr, code := testutil.RunIn(t, data, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "cat")
	if code != 0 {
		t.Fatalf("cat: exit %d: %s", code, serr)
	}
	if !bytes.Equal([]byte(out), data) {
		t.Fatalf("cat through the jail changed the bytes: %d in, %d out", len(data), len(out))
	}
	_, serr, code = testutil.Run(t, e.bin, "run", "--config", e.cfg, "--user", u.Name, "--", "sh", "-c", "echo to-stderr >&2; exit 4")
	if code != 4 || serr != "to-stderr\n" {
		t.Errorf("stderr %q, exit %d: want \"to-stderr\\n\", 4", serr, code)
	}
}

// TestKillEndsSession: `kill SESSION` ends the jail and reclaims it, and
// `kill USER` ends all of that user's sessions.
func TestKillEndsSession(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "kill")
	b := e.start(u, "exec sleep 600")
	out, serr, code := e.lj("kill", b.sess.ID)
	if code != 0 || !strings.Contains(out, b.sess.ID) {
		t.Fatalf("kill: exit %d: %s %s", code, out, serr)
	}
	if code := b.wait(t); code != 128+int(syscall.SIGTERM) && code != 128+int(syscall.SIGKILL) {
		t.Errorf("run exited %d after kill, want 143 (or 137)", code)
	}
	e.assertGone(b.sess)

	b1 := e.start(u, "exec sleep 600")
	b2 := e.start(u, "exec sleep 601")
	if _, serr, code := e.lj("kill", u.Name); code != 0 {
		t.Fatalf("kill %s: exit %d: %s", u.Name, code, serr)
	}
	b1.wait(t)
	b2.wait(t)
	e.assertGone(b1.sess)
	e.assertGone(b2.sess)
	if _, serr, code := e.lj("kill", u.Name); code != 1 || !strings.Contains(serr, "no live session") {
		t.Errorf("kill with nothing to kill: exit %d %q", code, serr)
	}
}

// TestSIGKILLOfRunThenGC: a `run` killed with SIGKILL takes its jail with
// it (init sees its control socket close), and gc reclaims what is left.
func TestSIGKILLOfRunThenGC(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "sigkill")
	b := e.start(u, "exec sleep 600")
	syscall.Kill(b.cmd.Process.Pid, syscall.SIGKILL)
	b.wait(t)
	// The record is still there: nobody reclaimed it yet.
	if _, err := os.Stat(e.stateDir + "/sessions/" + b.sess.ID + ".json"); err != nil {
		t.Fatalf("record should outlive a killed run until gc: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.ps()) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	out, serr, code := e.lj("gc")
	if code != 0 || !strings.Contains(out, b.sess.ID) {
		t.Fatalf("gc: exit %d: %q %q", code, out, serr)
	}
	e.assertGone(b.sess)
	if out, _, code := e.lj("gc"); code != 0 || out != "" {
		t.Errorf("second gc: exit %d, %q: want nothing to do", code, out)
	}
}

// TestEnter: enter lands in the session's namespaces as its user, also
// while init is stopped, and --root lands as the jail's root.
func TestEnter(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "enter")
	b := e.start(u, "exec sleep 600")
	var want []string
	for _, ns := range namespaces {
		want = append(want, readlink(t, fmt.Sprintf("/proc/%d/ns/%s", b.sess.Pid, ns)))
	}
	script := `for ns in ` + strings.Join(namespaces, " ") + `; do readlink /proc/self/ns/$ns; done; id -u; pwd; hostname; ps -e -o comm= | grep -cx sleep`
	// rootAfter puts --root after the session, as admins type it
	// (`loginjail enter alice --root`): it is a flag there too.
	check := func(label string, root, rootAfter bool, wantUID int) {
		t.Helper()
		args := []string{"enter"}
		if root && !rootAfter {
			args = append(args, "--root")
		}
		args = append(args, b.sess.ID)
		if root && rootAfter {
			args = append(args, "--root")
		}
		args = append(args, "--", "sh", "-c", script)
		out, serr, code := e.lj(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", label, code, serr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(namespaces)+4 {
			t.Fatalf("%s: output %q", label, out)
		}
		for i, ns := range namespaces {
			if lines[i] != want[i] {
				t.Errorf("%s: namespace %s: %s, session has %s", label, ns, lines[i], want[i])
			}
		}
		rest := lines[len(namespaces):]
		wantDir := u.Home
		if root {
			wantDir = "/root"
		}
		if rest[0] != fmt.Sprint(wantUID) || rest[1] != wantDir || rest[2] != b.sess.Hostname || rest[3] != "1" {
			t.Errorf("%s: uid/cwd/hostname/sleeps %q, want %d %s %s 1", label, rest, wantUID, wantDir, b.sess.Hostname)
		}
	}
	check("enter", false, false, u.UID)
	check("enter --root", true, false, 0)
	check("enter SESSION --root", true, true, 0)

	syscall.Kill(b.sess.Pid, syscall.SIGSTOP)
	check("enter while init is stopped", false, false, u.UID)
	syscall.Kill(b.sess.Pid, syscall.SIGCONT)

	if _, _, code := e.lj("enter", b.sess.ID, "--", "sh", "-c", "exit 9"); code != 9 {
		t.Errorf("enter exit status %d, want 9", code)
	}
	// By user name, with two sessions, enter asks which.
	b2 := e.start(u, "exec sleep 601")
	_ = b2
	_, serr, code := e.lj("enter", u.Name, "--", "true")
	if code != 1 || !strings.Contains(serr, b.sess.ID) || strings.Count(serr, "\n") != 1 {
		t.Errorf("enter USER with two sessions: exit %d, %q: want one line naming the sessions", code, serr)
	}
}

// TestBadInputGivesOneLine: a user with no subordinate range and a
// malformed config each get one clear line and exit 1, with nothing left.
func TestBadInputGivesOneLine(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUserNoSubIDs(t, "nosub")
	_, serr, code := e.run(u, "true")
	if code != 1 || strings.Count(serr, "\n") != 1 || !strings.Contains(serr, u.Name) ||
		!strings.Contains(serr, "/etc/subuid") || !strings.Contains(serr, "usermod --add-subuids") {
		t.Errorf("no subordinate range: exit %d, stderr %q", code, serr)
	}
	if ents, _ := os.ReadDir(e.stateDir + "/sessions"); len(ents) != 0 {
		t.Errorf("left behind in the state dir: %v", ents)
	}

	bad := e.cfg + ".bad"
	os.WriteFile(bad, []byte("[jail]\nhostname = \"ok\"\nnetwrok = 1\n"), 0o644)
	_, serr, code = testutil.Run(t, e.bin, "run", "--config", bad, "--user", u.Name, "--", "true")
	if want := bad + ":3:"; code != 1 || strings.Count(serr, "\n") != 1 || !strings.Contains(serr, want) || !strings.Contains(serr, "netwrok") {
		t.Errorf("malformed config: exit %d, stderr %q: want one line with %q", code, serr, want)
	}
	_, serr, code = testutil.Run(t, e.bin, "check-config", "--config", bad)
	if code != 1 || !strings.Contains(serr, bad+":3:") {
		t.Errorf("check-config on a bad file: exit %d, %q", code, serr)
	}
}
