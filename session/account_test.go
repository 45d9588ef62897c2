package session

import (
	"strings"
	"testing"

	"github.com/loginjail/loginjail/jail"
)

func TestAccountFor(t *testing.T) {
	who := &Identity{Name: "dana", UID: 4242, GID: 0, Gecos: "Dana:D\nx"}
	spec := &jail.Spec{UserMode: jail.UserModeSelf, Groups: []uint32{0, 4294967}}
	a := AccountFor(spec, who, "/bin/bash")
	if a == nil || a.Gecos != "Dana D x" || a.Shell != "/bin/bash" {
		t.Fatalf("account %+v: want the gecos cleaned of ':' and newlines, and the shell", a)
	}
	// gid 0 is named by every host's NSS; a gid nothing names is left out.
	if len(a.GroupNames) != 1 || a.GroupNames[0] != "root" {
		t.Errorf("group names %v, want only 0: root", a.GroupNames)
	}
	if a := AccountFor(spec, who, "/bin/sh:x"); a == nil || a.Shell != "" {
		t.Errorf("a shell with ':' was kept: %+v", a)
	}
	if a := AccountFor(&jail.Spec{UserMode: jail.UserModeRoot}, who, "/bin/sh"); a != nil {
		t.Errorf("root jail got an account %+v: its user is root there", a)
	}
	for _, name := range []string{"a:b", "a,b", "a\nb"} {
		if a := AccountFor(spec, &Identity{Name: name}, "/bin/sh"); a != nil {
			t.Errorf("user %q got an account: no passwd line can hold the name", name)
		}
	}
	if err := (&jail.Spec{User: who.Name, UserMode: jail.UserModeSelf, Account: a}).Validate(); err != nil && strings.Contains(err.Error(), "account") {
		t.Errorf("AccountFor's account fails Validate: %v", err)
	}
}
