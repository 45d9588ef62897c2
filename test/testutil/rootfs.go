package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// BusyboxRootfs makes a tiny directory rootfs owned by host root, as an
// admin would unpack an image: the usual top-level directories, a static
// busybox and a symlink for each applet. It is removed after the test.
func BusyboxRootfs(t testing.TB, prefix string, applets ...string) string {
	t.Helper()
	RequireTool(t, "/bin/busybox") // busybox-static
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "etc", "home", "root", "tmp", "var/tmp", "proc", "sys", "dev", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
