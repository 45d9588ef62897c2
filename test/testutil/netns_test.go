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

func TestRequireRootSkips(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root")
	}
	ran := false
	t.Run("inner", func(t *testing.T) {
		RequireRoot(t)
		ran = true
	})
	if ran {
		t.Fatal("RequireRoot did not skip")
	}
}
