package sshd

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

// TestReadAsUser: a file only root may read is refused to a read as
// nobody (the fsuid took, and with it root's DAC capabilities left), a
// file of nobody's own is read, and the caller's thread keeps root's
// rights afterwards.
func TestReadAsUser(t *testing.T) {
	testutil.RequireRoot(t)
	const nobody = 65534
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rootOnly, own := filepath.Join(dir, "root"), filepath.Join(dir, "own")
	for _, p := range []string{rootOnly, own} {
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(own, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := readAsUser(nobody, func() ([]byte, error) { return os.ReadFile(rootOnly) }); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("read of a root-only file as nobody: %v, want permission denied", err)
	}
	if b, err := readAsUser(nobody, func() ([]byte, error) { return os.ReadFile(own) }); err != nil || string(b) != own {
		t.Errorf("read of nobody's file as nobody: %q, %v", b, err)
	}
	for i := 0; i < 20; i++ { // whichever thread runs us, it is root's
		if _, err := os.ReadFile(rootOnly); err != nil {
			t.Fatalf("after readAsUser: %v", err)
		}
	}
}
