package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// tmux drives a real terminal: the way a person at a keyboard would see
// loginjail, raw mode, window size and all.
type tmux struct {
	t       *testing.T
	session string
	status  string // file the command's exit status is written to
}

func newTmux(t *testing.T, cmd string) *tmux {
	t.Helper()
	testutil.RequireTool(t, "tmux")
	m := &tmux{t: t, session: fmt.Sprintf("ljt%d", time.Now().UnixNano()), status: filepath.Join(t.TempDir(), "status")}
	// remain-on-exit keeps the pane after the command ends, so the
	// screen can still be read; the status goes to a file.
	m.run("new-session", "-d", "-s", m.session, "-x", "80", "-y", "24", "sh -c '"+cmd+"; echo $? > "+m.status+"'")
	m.run("set-option", "-t", m.session, "remain-on-exit", "on")
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", m.session).Run() })
	return m
}

func (m *tmux) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (m *tmux) send(keys string) { m.run("send-keys", "-t", m.session, keys, "Enter") }

// waitFor polls the screen until it contains want.
func (m *tmux) waitFor(want string) string {
	m.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := m.run("capture-pane", "-p", "-t", m.session)
		if strings.Contains(screen, want) {
			return screen
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("screen never showed %q:\n%s", want, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exitStatus waits for the pane's command to end and returns its status.
func (m *tmux) exitStatus() string {
	m.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(m.status); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatal("pane never exited")
	return ""
}

// TestInteractiveRunAndEnter: an interactive login shell on the jail's
// own pty, resized with the window, and `enter` into it with a terminal.
func TestInteractiveRunAndEnter(t *testing.T) {
	e := newEnv(t, "")
	u := testutil.NewUser(t, "tty")
	m := newTmux(t, fmt.Sprintf("%s run --config %s --user %s", e.bin, e.cfg, u.Name))
	m.send("echo TTY=$(tty) SIZE=$(stty size) PTS=$(ls /dev/pts | tr '\\n' ,)")
	screen := m.waitFor("TTY=/dev/pts/0 SIZE=24 80 PTS=0,ptmx,")
	_ = screen
	m.run("resize-window", "-t", m.session, "-x", "100", "-y", "30")
	m.send("echo NOW=$(stty size)")
	m.waitFor("NOW=30 100")

	// enter the live session with a terminal of the jail's own.
	s := e.ps()
	if len(s) != 1 {
		t.Fatalf("ps: %+v", s)
	}
	m2 := newTmux(t, fmt.Sprintf("env LOGINJAIL_CONFIG=%s %s enter %s", e.cfg, e.bin, s[0].ID))
	m2.send("echo ENTERED=$(tty) AS=$(id -un) ON=$(hostname)")
	m2.waitFor(fmt.Sprintf("ENTERED=/dev/pts/1 AS=%s ON=%s", u.Name, s[0].Hostname))
	m2.send("exit 6")
	if st := m2.exitStatus(); st != "6" {
		t.Errorf("enter exit status %s, want 6", st)
	}

	m.send("exit 5")
	if st := m.exitStatus(); st != "5" {
		t.Errorf("run exit status %s, want 5; screen:\n%s", st, m.run("capture-pane", "-p", "-t", m.session))
	}
	e.assertGone(s[0])
}
