package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NewNetNS creates the named network namespace "ljt-<name>" with
// `ip netns add` and deletes it when the test ends. A namespace of that name
// left by a crashed run is deleted first. It returns the full name, usable
// with `ip netns exec` and under /run/netns. Requires root (skips otherwise).
func NewNetNS(t testing.TB, name string) string {
	t.Helper()
	RequireRoot(t)
	full := Prefix + name
	if _, err := os.Stat(filepath.Join("/run/netns", full)); err == nil {
		_ = exec.Command("ip", "netns", "del", full).Run()
	}
	if out, err := exec.Command("ip", "netns", "add", full).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", full, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", full).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", full, err, out)
		}
	})
	return full
}
