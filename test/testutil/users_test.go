package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// suffix makes test account names unique to this process, so the same test
// run twice at once (two sessions on one machine) does not collide.
func suffix(s string) string {
	return fmt.Sprintf("st%d-%s", os.Getpid(), s)
}

// subIDLines returns name's lines in a subordinate id file.
func subIDLines(t *testing.T, path, name string) []string {
	t.Helper()
	b, err := readSubIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			lines = append(lines, l)
		}
	}
	return lines
}

func requireGone(t *testing.T, name, home string) {
	t.Helper()
	if _, found, _ := lookupPasswd(name); found {
		t.Errorf("%s still in /etc/passwd", name)
	}
	if b, _ := os.ReadFile("/etc/group"); bytes.Contains(b, []byte("\n"+name+":")) {
		t.Errorf("group %s still in /etc/group", name)
	}
	if _, err := os.Stat(home); err == nil {
		t.Errorf("home %s still exists", home)
	}
	for _, f := range []string{SubUIDFile, SubGIDFile} {
		if l := subIDLines(t, f, name); len(l) != 0 {
			t.Errorf("%s still has %v", f, l)
		}
	}
}

func TestNewUserTwice(t *testing.T) {
	RequireRoot(t)
	for round := 1; round <= 2; round++ {
		var u User
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			p := NewUser(t, suffix("twice"))
			u = *p
			if u.Name != Prefix+suffix("twice") || u.UID <= 0 || u.GID <= 0 || u.Home == "" {
				t.Fatalf("user %+v", u)
			}
			if u.SubUID < subIDBase || u.SubUID != u.SubGID {
				t.Fatalf("subordinate ids %d/%d", u.SubUID, u.SubGID)
			}
			want := fmt.Sprintf("%s:%d:%d", u.Name, u.SubUID, SubIDCount)
			for _, f := range []string{SubUIDFile, SubGIDFile} {
				if l := subIDLines(t, f, u.Name); len(l) != 1 || l[0] != want {
					t.Fatalf("%s: got %v, want [%s]", f, l, want)
				}
			}
			fi, err := os.Stat(u.Home)
			if err != nil || !fi.IsDir() {
				t.Fatalf("home %s: %v", u.Home, err)
			}
			// A process of the user must not stop the cleanup.
			cmd := exec.Command("su", "-s", "/bin/sh", "-c", "exec sleep 300", u.Name)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { _ = cmd.Wait() }() // reaped once the user's cleanup kills it
		})
		requireGone(t, u.Name, u.Home)
	}
}

func TestNewUserNoSubIDs(t *testing.T) {
	RequireRoot(t)
	var u User
	t.Run("create", func(t *testing.T) {
		u = *NewUserNoSubIDs(t, suffix("nosub"))
		if u.SubUID != 0 || u.SubGID != 0 {
			t.Fatalf("got range %d/%d", u.SubUID, u.SubGID)
		}
		for _, f := range []string{SubUIDFile, SubGIDFile} {
			if l := subIDLines(t, f, u.Name); len(l) != 0 {
				t.Fatalf("%s has %v", f, l)
			}
		}
	})
	requireGone(t, u.Name, u.Home)
}

func TestTwoUsersGetDisjointRanges(t *testing.T) {
	RequireRoot(t)
	a := NewUser(t, suffix("a"))
	b := NewUser(t, suffix("b"))
	if a.SubUID == b.SubUID || (a.SubUID < b.SubUID && a.SubUID+SubIDCount > b.SubUID) ||
		(b.SubUID < a.SubUID && b.SubUID+SubIDCount > a.SubUID) {
		t.Fatalf("ranges overlap: %d and %d", a.SubUID, b.SubUID)
	}
}

// deadPID returns the pid of a process that has already exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// addLeftover makes an account as a crashed run with this pid would leave
// it; pid -1 makes one as a person would, without the creator marker.
func addLeftover(t *testing.T, name string, pid int) {
	t.Helper()
	comment := fmt.Sprintf("%s%d", commentMarker, pid)
	if pid < 0 {
		comment = "made by hand"
	}
	out, err := exec.Command("useradd", "--create-home", "--user-group", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0",
		"--comment", comment, name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	for _, f := range []string{SubUIDFile, SubGIDFile} {
		if err := editSubIDFile(f, func(b []byte) []byte { return appendSubIDLine(b, name, 4000000000, SubIDCount) }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewUserReplacesLeftover(t *testing.T) {
	RequireRoot(t)
	addLeftover(t, Prefix+suffix("left"), deadPID(t))
	u := NewUser(t, suffix("left"))
	for _, f := range []string{SubUIDFile, SubGIDFile} {
		if l := subIDLines(t, f, u.Name); len(l) != 1 || strings.Contains(l[0], ":4000000000:") {
			t.Fatalf("%s: %v", f, l)
		}
	}
}

func TestRemoveStaleUsers(t *testing.T) {
	RequireRoot(t)
	stale := Prefix + suffix("stale")
	addLeftover(t, stale, deadPID(t))
	manual := Prefix + suffix("manual")
	addLeftover(t, manual, -1) // no creator pid: made by hand, kept
	t.Cleanup(func() { _ = removeUser(&User{Name: manual, UID: -1, Home: "/home/" + manual}) })
	live := NewUser(t, suffix("live"))
	if err := RemoveStaleUsers(); err != nil {
		t.Fatal(err)
	}
	requireGone(t, stale, "/home/"+stale)
	if _, found, _ := lookupPasswd(manual); !found {
		t.Fatal("RemoveStaleUsers removed an account NewUser did not make")
	}
	if _, found, _ := lookupPasswd(live.Name); !found {
		t.Fatal("RemoveStaleUsers removed the account of a live test process")
	}
	if l := subIDLines(t, SubUIDFile, live.Name); len(l) != 1 {
		t.Fatalf("live user's subuid lines: %v", l)
	}
}
