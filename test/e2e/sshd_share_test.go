package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestSshdShareUser: with [jail] share = "user", a second login of the
// same user joins the first one's live jail (same pid namespace, each
// sees the other's processes, one session in ps); the jail outlives the
// login that built it while the other is in, and ends when the last
// leaves. Another user still gets a jail of their own.
func TestSshdShareUser(t *testing.T) {
	s := newSSHD(t, "", "[jail]\nshare = \"user\"\n")
	u := testutil.NewUser(t, "sshdshare")
	other := testutil.NewUser(t, "sshdshareb")
	s.authorize(u, "")
	s.authorize(other, "")

	a := s.startSSH(u, "echo ready; readlink /proc/self/ns/pid; exec sleep 301")
	nsA := strings.TrimSpace(a.line(t))
	sess := s.session(u)
	b := s.startSSH(u, "echo ready; readlink /proc/self/ns/pid; exec sleep 302")
	nsB := strings.TrimSpace(b.line(t))
	s.waitEvent("session.join", map[string]string{"user": u.Name, "session": sess.ID})

	out, serr, code := s.ssh(u, nil, "readlink /proc/self/ns/pid; ps -e -o args= | grep -c '^sleep 30[12]$'")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || lines[1] != "2" {
		t.Fatalf("third login: exit %d %q: %s", code, out, serr)
	}
	ns := lines[0]
	if ns != nsA || ns != nsB {
		t.Errorf("pid namespaces: a %q, b %q, third %q: want one", nsA, nsB, ns)
	}
	n := 0
	for _, p := range s.e.ps() {
		if p.User == u.Name {
			n++
		}
	}
	if n != 1 {
		t.Errorf("ps lists %d sessions of %s, want 1 shared", n, u.Name)
	}
	if out, _, _ := s.ssh(other, nil, "readlink /proc/self/ns/pid"); strings.TrimSpace(out) == ns {
		t.Errorf("another user joined %s's jail", u.Name)
	}

	// The builder's client leaves: the jail stays for the other login.
	a.cmd.Process.Kill()
	<-a.done
	time.Sleep(500 * time.Millisecond)
	if !s.e.isLive(sess) {
		t.Fatal("the shared jail ended while another login was in it")
	}
	if out, _, code := s.ssh(u, nil, "ps -e -o args= | grep -c '^sleep 30[12]$'"); code != 0 || strings.TrimSpace(out) != "1" {
		t.Errorf("after the first login left: exit %d, %q sleeps (want 1)", code, out)
	}
	// The last leaves: the jail is torn down.
	b.cmd.Process.Kill()
	<-b.done
	s.e.assertGone(sess)
}
