package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNewNetNS(t *testing.T) {
	RequireRoot(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = NewNetNS(t, suffix("ns"))
		if name != Prefix+suffix("ns") {
			t.Fatalf("name %q", name)
		}
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
		t.Fatalf("%s still exists after the test", name)
	}
}

// TestRequireRoot: RequireRoot skips without root and lets the test run
// with it.
func TestRequireRoot(t *testing.T) {
	f, returned := call(t, func(tb testing.TB) { RequireRoot(tb) })
	if root := os.Geteuid() == 0; returned != root || (f.skipped != "") == root {
		t.Fatalf("euid %d: RequireRoot returned %v, skipped %q", os.Geteuid(), returned, f.skipped)
	}
}
