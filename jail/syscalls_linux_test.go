package jail

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestSyscallTablesAgree: the tables generated from golang.org/x/sys give
// every syscall go-seccomp-bpf's tables know (built from the kernel's
// own syscall tables) the same number. x/sys may know newer ones. On
// arm64 go-seccomp-bpf also lists 32-bit-only time64 calls and calls
// newfstatat fstatat: those names are left out of the comparison.
func TestSyscallTablesAgree(t *testing.T) {
	for _, c := range []struct {
		ours   *seccompABI
		theirs *arch.Info
		strict bool // every name of theirs must be in ours
	}{
		{abiX86_64, arch.X86_64, true},
		{abiI386, arch.I386, true},
		{abiAARCH64, arch.AARCH64, false},
		{abiARM, arch.ARM, false},
	} {
		if c.ours.id != uint32(c.theirs.ID) || c.ours.name != c.theirs.Name {
			t.Errorf("%s: audit arch %#x, want %#x (%s)", c.ours.name, c.ours.id, uint32(c.theirs.ID), c.theirs.Name)
		}
		for name, nr := range c.theirs.SyscallNames {
			got, ok := c.ours.nr(name)
			if !ok {
				if c.strict {
					t.Errorf("%s: %s (%d) missing", c.ours.name, name, nr)
				}
				continue
			}
			if got != nr {
				t.Errorf("%s: %s is %d, want %d", c.ours.name, name, got, nr)
			}
		}
		for i := 1; i < len(c.ours.table); i++ {
			if c.ours.table[i-1].name >= c.ours.table[i].name {
				t.Errorf("%s: table not sorted at %q", c.ours.name, c.ours.table[i].name)
			}
		}
	}
	for _, name := range DefaultSeccompDeny {
		_, native := abiX86_64.nr(name)
		_, compat := abiI386.nr(name)
		if !native && !compat {
			t.Errorf("neither x86_64 nor i386 has default-denied %s", name)
		}
	}
	if _, ok := abiX86_64.nr("no_such_call"); ok {
		t.Error("unknown name found")
	}
}
