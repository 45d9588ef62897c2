package testutil

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// NewGroup creates the group "ljt-<suffix>" with members as supplementary
// members and removes it when the test ends. It returns the group's name
// and gid.
func NewGroup(t testing.TB, suffix string, members ...*User) (string, int) {
	t.Helper()
	RequireRoot(t)
	name := Prefix + suffix
	if !validName.MatchString(name) {
		t.Fatalf("test group name %q: want lower-case letters, digits, '-' or '_', at most 32 bytes", name)
	}
	exec.Command("groupdel", name).Run() // a dead run's leftover
	if out, err := exec.Command("groupadd", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("groupdel", name).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v\n%s", name, err, out)
		}
	})
	for _, u := range members {
		if out, err := exec.Command("usermod", "-aG", name, u.Name).CombinedOutput(); err != nil {
			t.Fatalf("usermod -aG %s %s: %v\n%s", name, u.Name, err, out)
		}
	}
	out, err := exec.Command("getent", "group", name).Output()
	if err != nil {
		t.Fatalf("getent group %s: %v", name, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 3 {
		t.Fatalf("getent group %s: %q", name, out)
	}
	gid, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("getent group %s: gid %q", name, f[2])
	}
	return name, gid
}
