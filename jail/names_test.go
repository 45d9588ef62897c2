package jail

import (
	"strings"
	"testing"
)

func TestNamesEntries(t *testing.T) {
	s := &Spec{User: "dana", UID: 20001, GID: 20001, Home: "/home/dana", SubUID: 300000, SubGID: 300000,
		UserMode: UserModeSelf, Groups: []uint32{20001, 20100, 27, 999},
		Account: &Account{Gecos: "Dana D", Shell: "/bin/bash", GroupNames: map[uint32]string{20001: "dana", 20100: "staff-ldap", 27: "sudo"}}}
	if got, want := passwdEntry(s), "dana:x:20001:20001:Dana D:/home/dana:/bin/bash"; got != want {
		t.Errorf("passwd entry %q, want %q", got, want)
	}
	// 999 has no name: no line. The primary group lists no member.
	want := []string{"dana:x:20001:", "staff-ldap:x:20100:dana", "sudo:x:27:dana"}
	if got := groupEntries(s); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("group entries %q, want %q", got, want)
	}
	root := *s
	root.UserMode = UserModeRoot
	if passwdEntry(&root) != "" || groupEntries(&root) != nil {
		t.Error("a root jail got name entries; its user is root, named by the rootfs")
	}
	none := *s
	none.Account = nil
	if passwdEntry(&none) != "" || groupEntries(&none) != nil {
		t.Error("no account, yet name entries")
	}
}

func TestMergeEntries(t *testing.T) {
	for _, c := range []struct {
		name, content string
		entries       []string
		want          string
		changed       bool
	}{
		{"already there", "root:x:0:0::/root:/bin/sh\ndana:x:20001:20001:Dana D:/home/dana:/bin/bash\n",
			[]string{"dana:x:20001:20001:Dana D:/home/dana:/bin/bash"},
			"root:x:0:0::/root:/bin/sh\ndana:x:20001:20001:Dana D:/home/dana:/bin/bash\n", false},
		{"appended", "root:x:0:0::/root:/bin/sh\n", []string{"dana:x:20001:20001::/home/dana:/bin/bash"},
			"root:x:0:0::/root:/bin/sh\ndana:x:20001:20001::/home/dana:/bin/bash\n", true},
		{"no file", "", []string{"dana:x:20001:"}, "dana:x:20001:\n", true},
		{"image's uid 1000 gives way", "root:x:0:0::/root:/bin/sh\ndebian:x:1000:1000::/home/debian:/bin/sh\n# c\n",
			[]string{"dana:x:1000:1000::/home/dana:/bin/bash"},
			"root:x:0:0::/root:/bin/sh\n# c\ndana:x:1000:1000::/home/dana:/bin/bash\n", true},
		{"same name other id gives way", "dana:x:5:5::/x:/bin/sh\n", []string{"dana:x:7:7::/home/dana:/bin/sh"},
			"dana:x:7:7::/home/dana:/bin/sh\n", true},
		{"member added", "root:x:0:\nsudo:x:27:ann\n", []string{"sudo:x:27:dana"}, "root:x:0:\nsudo:x:27:ann,dana\n", true},
		{"member there", "sudo:x:27:dana,ann\n", []string{"sudo:x:27:dana"}, "sudo:x:27:dana,ann\n", false},
		{"nis line kept", "+::::::\n", []string{"dana:x:7:"}, "+::::::\ndana:x:7:\n", true},
		{"nothing to add", "x\n", nil, "x\n", false},
	} {
		got, changed := mergeEntries(c.content, c.entries)
		if got != c.want || changed != c.changed {
			t.Errorf("%s: got %q (changed %v), want %q (%v)", c.name, got, changed, c.want, c.changed)
		}
	}
}

func TestAccountValidate(t *testing.T) {
	s := &Spec{User: "dana", UserMode: UserModeSelf}
	for _, a := range []*Account{
		{Gecos: "x\nroot::0:0::/:/bin/sh"},
		{Shell: "/bin/sh:"},
		{GroupNames: map[uint32]string{5: "a:b"}},
		{GroupNames: map[uint32]string{5: ""}},
	} {
		s.Account = a
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "account") {
			t.Errorf("account %+v: Validate said %v, want a refusal", a, err)
		}
	}
}
