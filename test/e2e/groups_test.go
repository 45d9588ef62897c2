package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// groupWorld is a user in two supplementary groups with, in their home, a
// file only group A may read (root:A 0640) and one group B may not
// (root:B 0604: the "negative group" permission that others have and
// B's members lack).
type groupWorld struct {
	u          *testutil.User
	a, b       string
	aGID, bGID int
	shared     string
	negative   string
	hostID     string // `id` of the user logged in on the host
}

func newGroupWorld(t *testing.T, suffix string) *groupWorld {
	t.Helper()
	w := &groupWorld{u: testutil.NewUser(t, suffix)}
	w.a, w.aGID = testutil.NewGroup(t, suffix+"-a", w.u)
	w.b, w.bGID = testutil.NewGroup(t, suffix+"-b", w.u)
	w.shared, w.negative = filepath.Join(w.u.Home, "shared"), filepath.Join(w.u.Home, "negative")
	for _, f := range []struct {
		path string
		gid  int
		mode os.FileMode
	}{{w.shared, w.aGID, 0o640}, {w.negative, w.bGID, 0o604}} {
		if err := os.WriteFile(f.path, []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f.path, 0, f.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	asUser := func(args ...string) *exec.Cmd {
		return exec.Command("setpriv", append([]string{fmt.Sprintf("--reuid=%d", w.u.UID), fmt.Sprintf("--regid=%d", w.u.GID), "--init-groups"}, args...)...)
	}
	out, err := asUser("id").Output()
	if err != nil {
		t.Fatalf("id on the host: %v", err)
	}
	w.hostID = strings.TrimSpace(string(out))
	if !strings.Contains(w.hostID, w.a) || !strings.Contains(w.hostID, w.b) {
		t.Fatalf("host id %q lacks %s or %s", w.hostID, w.a, w.b)
	}
	// The control: on the host the user reads the shared file and not the
	// negative one.
	if err := asUser("cat", w.shared).Run(); err != nil {
		t.Fatalf("host: the user cannot read %s: %v", w.shared, err)
	}
	if err := asUser("cat", w.negative).Run(); err == nil {
		t.Fatalf("host: the user reads %s", w.negative)
	}
	return w
}

// probe is what a user runs to see their groups: id, the user
// namespace's setgroups switch, the two files, and the negative file
// again after trying to shed every group.
func (w *groupWorld) probe() string {
	return fmt.Sprintf(`
echo "id $(id)"
echo "setgroups $(cat /proc/self/setgroups)"
cat %[1]s >/dev/null 2>&1 && echo "shared readable" || echo "shared refused"
cat %[2]s >/dev/null 2>&1 && echo "negative readable" || echo "negative refused"
setpriv --clear-groups cat %[2]s >/dev/null 2>&1 && echo "shed and read" || echo "shed refused"
`, w.shared, w.negative)
}

// check asserts the probe's output for a jail in mode, whose root may
// call setgroups if allow.
func (w *groupWorld) check(t *testing.T, out, mode string, allow bool) {
	t.Helper()
	lines := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines[l] = true
	}
	wantID := w.hostID
	if mode == "root" {
		// The user's primary group is 0 inside; the others keep their
		// gids (and names: the host's /etc/group).
		wantID = fmt.Sprintf("uid=0(root) gid=0(root) groups=0(root),%d(%s),%d(%s)", w.aGID, w.a, w.bGID, w.b)
	}
	want := []string{"id " + wantID, "shared readable", "negative refused"}
	if allow {
		want = append(want, "setgroups allow", "shed and read")
	} else {
		want = append(want, "setgroups deny", "shed refused")
	}
	for _, l := range want {
		if !lines[l] {
			t.Errorf("want %q in\n%s", l, out)
		}
	}
}

// TestSupplementaryGroups: through `loginjail run`, in both user modes,
// `id` in the jail is the user's `id` on the host, group access works,
// a file denied to one of the user's groups stays denied, and no process
// can shed the groups; allow_setgroups lets the jail's root do it.
func TestSupplementaryGroups(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		allow bool
	}{{"self", false}, {"root", false}, {"root", true}, {"self", true}} {
		name := fmt.Sprintf("%s/allow_setgroups=%v", tc.mode, tc.allow)
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("[jail]\nuser_mode = %q\nallow_setgroups = %v\n", tc.mode, tc.allow))
			w := newGroupWorld(t, "grp")
			out, serr, code := e.run(w.u, w.probe())
			if code != 0 {
				t.Fatalf("exit %d: %s\n%s", code, serr, out)
			}
			// A "self" jail denies setgroups whatever the key says.
			w.check(t, out, tc.mode, tc.allow && tc.mode == "root")
		})
	}
}

// TestSupplementaryGroupsEnter: `enter` as the user gets the same groups
// as the session's own processes, in a jail that denies setgroups and in
// a root one that allows it (where enter keeps the groups it holds from
// the host rather than set them again), and the same $XDG_RUNTIME_DIR.
func TestSupplementaryGroupsEnter(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		allow bool
	}{{"self", false}, {"root", true}} {
		t.Run(fmt.Sprintf("%s/allow_setgroups=%v", tc.mode, tc.allow), func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("[jail]\nuser_mode = %q\nallow_setgroups = %v\n", tc.mode, tc.allow))
			w := newGroupWorld(t, "grpent")
			b := e.start(w.u, "sleep 60")
			out, serr, code := e.lj("enter", b.sess.ID, "--", "sh", "-c", w.probe())
			if code != 0 {
				t.Fatalf("enter: exit %d: %s\n%s", code, serr, out)
			}
			w.check(t, out, tc.mode, tc.allow)
			// enter's processes get the masked paths and the runtime dir too.
			out, serr, code = e.lj("enter", b.sess.ID, "--", "sh", "-c", kernelPathsProbe())
			if code != 0 {
				t.Fatalf("enter: exit %d: %s\n%s", code, serr, out)
			}
			uid, gid := w.u.UID, w.u.GID
			if tc.mode == "root" {
				uid, gid = 0, 0
			}
			checkKernelPaths(t, out, uid, gid)
		})
	}
}

// TestSshdSupplementaryGroups: the same through the real OpenSSH client
// against `loginjail sshd`.
func TestSshdSupplementaryGroups(t *testing.T) {
	s := newSSHD(t, "", "")
	w := newGroupWorld(t, "grpssh")
	s.authorize(w.u, "")
	out, serr, code := s.ssh(w.u, nil, w.probe())
	if code != 0 {
		t.Fatalf("ssh: exit %d: %s\n%s", code, serr, out)
	}
	w.check(t, out, "self", false)
}

// TestCheckConfigShowsGroups: `check-config --user` shows the `id` the
// user will have inside: the host's in a "self" jail, root's with the
// same supplementary groups in a "root" one, and whether setgroups is
// allowed.
func TestCheckConfigShowsGroups(t *testing.T) {
	w := newGroupWorld(t, "grpcc")
	e := newEnv(t, fmt.Sprintf(`[[policy]]
name = "build"
match_users = [%q]
[policy.jail]
user_mode = "root"
allow_setgroups = true
`, w.u.Name))
	out, serr, code := testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", w.u.Name)
	want := fmt.Sprintf("# inside the jail: uid=0(root) gid=0(root) groups=0(root),%d(%s),%d(%s); setgroups allowed to the jail's root", w.aGID, w.a, w.bGID, w.b)
	if code != 0 || !strings.Contains(out, want+"\n") {
		t.Errorf("exit %d, stderr %q; want %q in\n%s", code, serr, want, out)
	}
	e = newEnv(t, "")
	out, serr, code = testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", w.u.Name)
	if want := "# inside the jail: " + w.hostID + "; setgroups denied\n"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d, stderr %q; want %q in\n%s", code, serr, want, out)
	}
}

// TestPAMSupplementaryGroups: the same through OpenSSH's sshd with
// pam_exec and ForceCommand (the PAM front door).
func TestPAMSupplementaryGroups(t *testing.T) {
	e := newEnv(t, "")
	s := newPAMSSHD(t, e)
	w := newGroupWorld(t, "grppam")
	s.authorize(t, w.u)
	out, serr, code := s.ssh(t, w.u, nil, w.probe())
	if code != 0 {
		t.Fatalf("ssh: exit %d: %s\n%s", code, serr, out)
	}
	w.check(t, out, "self", false)
}
