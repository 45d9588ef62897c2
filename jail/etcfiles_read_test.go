package jail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// imageRootfs is a rootfs planner for an image at dir, reached through
// a symlink as an admin's path may be.
func imageRootfs(t *testing.T) (*rootfs, string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "image")
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	spec := &Spec{Rootfs: link, Home: "/home/u", Hide: []string{"/etc/hidden"}}
	return &rootfs{spec: spec}, dir
}

// TestReadRootFile: the caller reads an image's /etc/passwd as the jail
// will see it: through the image's own symlinks, never out of it, empty
// where the jail gets a fresh mount or a hidden path, and never a file
// that is not a regular one.
func TestReadRootFile(t *testing.T) {
	r, dir := imageRootfs(t)
	etc := filepath.Join(dir, "etc")
	os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	if got, err := r.readRootFile("/etc/passwd"); err != nil || got != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("plain file: %q, %v", got, err)
	}

	// A relative link that climbs past the image's root stays inside it.
	os.MkdirAll(filepath.Join(dir, "usr/share"), 0o755)
	os.WriteFile(filepath.Join(dir, "usr/share/group"), []byte("root:x:0:\n"), 0o644)
	os.Symlink("../../../../../../usr/share/group", filepath.Join(etc, "group"))
	if got, err := r.readRootFile("/etc/group"); err != nil || got != "root:x:0:\n" {
		t.Errorf("link inside the image: %q, %v", got, err)
	}

	// Into a place the jail gets afresh: as missing.
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	os.WriteFile(filepath.Join(dir, "run/passwd"), []byte("ghost:x:1:1::/:/bin/sh\n"), 0o644)
	os.Remove(filepath.Join(etc, "passwd"))
	os.Symlink("/run/passwd", filepath.Join(etc, "passwd"))
	if got, err := r.readRootFile("/etc/passwd"); err != nil || got != "" {
		t.Errorf("link into /run: %q, %v; want it read as missing", got, err)
	}

	// Under a hidden path: as missing.
	os.MkdirAll(filepath.Join(etc, "hidden"), 0o755)
	os.WriteFile(filepath.Join(etc, "hidden/f"), []byte("x\n"), 0o644)
	if got, err := r.readRootFile("/etc/hidden/f"); err != nil || got != "" {
		t.Errorf("hidden: %q, %v; want it read as missing", got, err)
	}

	// A FIFO is refused before it is opened for reading (which would
	// block the caller).
	os.Remove(filepath.Join(etc, "passwd"))
	if err := unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.readRootFile("/etc/passwd"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v, want it refused", err)
	}

	// A NUL byte cannot travel in the plan.
	os.Remove(filepath.Join(etc, "passwd"))
	os.WriteFile(filepath.Join(etc, "passwd"), []byte("a\x00b\n"), 0o644)
	if _, err := r.readRootFile("/etc/passwd"); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("NUL: %v, want it refused", err)
	}

	if got, err := r.readRootFile("/etc/missing"); err != nil || got != "" {
		t.Errorf("missing: %q, %v", got, err)
	}
}
