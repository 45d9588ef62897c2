package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// subIDLines returns the lines of a subuid/subgid file that belong to
// owner.
func subIDLines(t *testing.T, path, owner string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, owner+":") {
			out = append(out, l)
		}
	}
	return out
}

// TestSshdSubIDAllocate: with subid_allocate = true, a user with no
// subordinate range logs in through loginjail sshd, gets one range in
// /etc/subuid and /etc/subgid (logged as subid.allocate), and the jail
// maps it; a second login reuses it; removing the user removes it. Without
// subid_allocate the same user is refused and nothing is written.
func TestSshdSubIDAllocate(t *testing.T) {
	name := testutil.Prefix + "suballoc"
	// Registered first, so it runs after the user's own cleanup.
	t.Cleanup(func() {
		for _, f := range []string{testutil.SubUIDFile, testutil.SubGIDFile} {
			if l := subIDLines(t, f, name); len(l) != 0 {
				t.Errorf("%s still has %v after the user was removed", f, l)
			}
		}
	})
	u := testutil.NewUserNoSubIDs(t, "suballoc")

	off := newSSHD(t, "", "")
	off.authorize(u, "")
	if _, serr, code := off.ssh(u, nil, "true"); code == 0 {
		t.Fatalf("login without a range and without subid_allocate succeeded: %s", serr)
	}
	if l := subIDLines(t, testutil.SubUIDFile, u.Name); len(l) != 0 {
		t.Fatalf("subid_allocate off, yet /etc/subuid has %v", l)
	}

	s := newSSHD(t, "", "[jail]\nsubid_allocate = true\n")
	s.authorize(u, "")
	var maps []string
	for i := 0; i < 2; i++ {
		out, serr, code := s.ssh(u, nil, "cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ';'; echo; cat /proc/self/gid_map | tr -s ' ' | head -1")
		if code != 0 {
			t.Fatalf("login %d: exit %d: %s", i+1, code, serr)
		}
		maps = append(maps, out)
	}
	uidLines := subIDLines(t, testutil.SubUIDFile, u.Name)
	gidLines := subIDLines(t, testutil.SubGIDFile, u.Name)
	if len(uidLines) != 1 || len(gidLines) != 1 || uidLines[0] != gidLines[0] {
		t.Fatalf("after two logins: /etc/subuid %v, /etc/subgid %v; want one equal line in each", uidLines, gidLines)
	}
	var start, count uint32
	if _, err := fmt.Sscanf(strings.TrimPrefix(uidLines[0], u.Name+":"), "%d:%d", &start, &count); err != nil || count != 65536 {
		t.Fatalf("allocated line %q: want NAME:START:65536", uidLines[0])
	}
	u.SubUID, u.SubGID = start, start // so cleanup kills what runs as them
	if want := idMapSelf(u.UID, start); !strings.HasPrefix(maps[0], want) || maps[1] != maps[0] {
		t.Errorf("uid maps %q, want both to start %q", maps, want)
	}
	ev := s.waitEvent("subid.allocate", map[string]string{"user": u.Name, "start": fmt.Sprint(start), "count": "65536"})
	if n := len(s.events("subid.allocate")); n != 1 {
		t.Errorf("%d subid.allocate events for two logins, want 1: %v", n, ev)
	}
	for _, f := range []string{"/etc/subuid.lock", "/etc/subgid.lock"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}

// TestCheckConfigSubIDAllocate: `check-config --user` for a user with no
// subordinate range says what the first login will do when their policy
// allocates one, and shows the id they would have inside, without
// writing a range; when it does not, it says there is no jail and fails.
func TestCheckConfigSubIDAllocate(t *testing.T) {
	u := testutil.NewUserNoSubIDs(t, "subcc")
	before, err := os.ReadFile(testutil.SubUIDFile)
	if err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, fmt.Sprintf("[[policy]]\nname = \"dir\"\nmatch_users = [%q]\n[policy.jail]\nsubid_allocate = true\n", u.Name))
	out, serr, code := testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", u.Name)
	want := "# subids: none yet; the first login allocates a 65536-range (subid_allocate), now "
	inside := fmt.Sprintf("# inside the jail: uid=%d(%s) gid=%d(%s)", u.UID, u.Name, u.GID, u.Name)
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, inside) || strings.Contains(out, "no jail") {
		t.Errorf("subid_allocate: exit %d, stderr %q; want %q and %q in\n%s", code, serr, want, inside, out)
	}
	if after, _ := os.ReadFile(testutil.SubUIDFile); string(after) != string(before) {
		t.Errorf("check-config changed %s", testutil.SubUIDFile)
	}

	e = newEnv(t, "")
	out, serr, code = testutil.Run(t, e.bin, "check-config", "--config", e.cfg, "--user", u.Name)
	if code == 0 || !strings.Contains(out, "# inside the jail: no jail (") || strings.Contains(out, "# subids:") {
		t.Errorf("no subid_allocate: exit %d, stderr %q; want a failure and \"no jail\" in\n%s", code, serr, out)
	}
}
