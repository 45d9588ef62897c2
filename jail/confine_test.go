package jail

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestResolveCaps(t *testing.T) {
	if c, _ := ResolveCaps(UserModeSelf, []string{"ALL"}, nil); len(c) != 0 {
		t.Errorf("self mode got %v", c)
	}
	c, err := ResolveCaps(UserModeRoot, []string{"sys_ptrace"}, []string{"CAP_NET_RAW", "kill"})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := CapMask(c)
	want, _ := CapMask(DefaultRootCaps)
	want = want&^(1<<unix.CAP_NET_RAW|1<<unix.CAP_KILL) | 1<<unix.CAP_SYS_PTRACE
	if m != want {
		t.Errorf("mask %x, want %x (%v)", m, want, c)
	}
	if c, _ := ResolveCaps(UserModeRoot, nil, []string{"ALL"}); len(c) != 0 {
		t.Errorf("drop ALL left %v", c)
	}
	if _, err := ResolveCaps(UserModeRoot, []string{"CAP_FLY"}, nil); err == nil {
		t.Error("unknown capability accepted")
	}
	if m, _ := CapMask(DefaultRootCaps); m != 0xa80405fb {
		t.Errorf("Docker's default set is %x, want a80405fb", m)
	}
}

func TestSeccompFilterBuilds(t *testing.T) {
	f, err := BuildSeccompFilter(Seccomp{Deny: []string{"ptrace"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f) < 60 || len(f) > 200 {
		t.Errorf("%d instructions", len(f))
	}
	if _, err := BuildSeccompFilter(Seccomp{Deny: []string{"no_such_call"}}); err == nil || !strings.Contains(err.Error(), "no_such_call") {
		t.Errorf("unknown syscall: %v", err)
	}
	if b := SeccompBytes(f); len(b) != 8*len(f) {
		t.Errorf("%d bytes for %d instructions", len(b), len(f))
	}
	// A jail that allows nested user namespaces has no clone checks.
	g, _ := BuildSeccompFilter(Seccomp{NestedUserns: true})
	if len(g) >= len(f) {
		t.Errorf("nested_userns filter (%d) not shorter than the default (%d)", len(g), len(f))
	}
}
