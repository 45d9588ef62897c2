package config

import (
	"os/user"
	"testing"
)

func TestGroupsOf(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skipf("no current user: %v", err)
	}
	groups, err := GroupsOf(u.Username)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		t.Fatalf("no groups for %s", u.Username)
	}
	primary := u.Gid
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		primary = g.Name
	}
	if groups[0] != primary {
		t.Errorf("GroupsOf(%s)[0] = %q, want the primary group %q", u.Username, groups[0], primary)
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if seen[g] {
			t.Errorf("group %q listed twice in %q", g, groups)
		}
		seen[g] = true
	}
	if _, err := GroupsOf("no-such-user-loginjail-test"); err == nil {
		t.Errorf("unknown user: no error")
	}
}
