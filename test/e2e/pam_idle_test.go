package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestPAMIdleTerminal: a PAM-mode terminal login that the holder does not
// relay (no recording, no timeout) still has a true IDLE: the time since
// the client last typed, read from the access time of the terminal sshd
// made (as w(1) reads it), not the time since login. It grows while the
// client is quiet and drops when it types.
func TestPAMIdleTerminal(t *testing.T) {
	e := newEnv(t, "")
	s := newPAMSSHD(t, e)
	u := testutil.NewUser(t, "pamidl")
	s.authorize(t, u)
	m := newTmux(t, "ssh -t "+strings.Join(s.sshArgs(u), " "))
	// $((6*7)): the shell's answer, not the keys echoed while ssh connects.
	m.send("echo PAM-IDLE-$((6*7))")
	m.waitFor("PAM-IDLE-42")
	var id string
	waitIdle(t, "the session in ps", 15*time.Second, func() bool {
		for _, p := range e.ps() {
			if p.User == u.Name {
				id = p.ID
			}
		}
		return id != ""
	})
	idle := func() float64 {
		t.Helper()
		x, ok := e.usage(id)
		if !ok {
			t.Fatalf("session %s gone from ps", id)
		}
		return x.IdleSeconds
	}

	// Quiet: IDLE grows past 16 s (the kernel stamps a terminal's
	// access time at most every 8 s).
	waitIdle(t, "quiet client: idle_seconds >= 16", 60*time.Second, func() bool { return idle() >= 16 })
	login, _ := e.usage(id)

	// Typing resets it: with the old count from login it could only grow.
	m.send("echo PAM-TYPED-$((6*7))")
	m.waitFor("PAM-TYPED-42")
	waitIdle(t, "after typing: idle_seconds <= 8", 30*time.Second, func() bool { return idle() <= 8 })
	t.Logf("idle before typing %.0f s; after it %.0f s", login.IdleSeconds, idle())

	// ps prints it too.
	out, _, _ := e.lj("ps")
	if !strings.Contains(out, "IDLE") {
		t.Errorf("ps has no IDLE column:\n%s", out)
	}
	m.send("exit")
	m.exitStatus()
	waitNoSessions(t, e)
}

// waitIdle polls ok every half second until it holds or limit passes.
func waitIdle(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
