package jail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSymlinkedMountTargetsStayInRoot plants symlinks at an image's mount
// targets (/tmp, /var/tmp, /run, /home) pointing at a host directory, by
// absolute and by relative path. Every mount must land inside the image,
// at the symlink's target as resolved in the root, and the host directory
// must neither get a mount nor see a write from the jail.
func TestSymlinkedMountTargetsStayInRoot(t *testing.T) {
	requireRoot(t)
	image := newBusyboxImage(t)
	host := newHostDir(t, "ljt-hostdir")
	os.WriteFile(filepath.Join(host, "host-file"), []byte("host\n"), 0o644)

	// The same path inside the image, which is where the links must lead.
	inImage := filepath.Join(image, host)
	if err := os.MkdirAll(inImage, 0o777); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(inImage, "image-file"), []byte("image\n"), 0o644)
	for _, d := range []string{"tmp", "var/tmp", "run"} {
		os.RemoveAll(filepath.Join(image, d))
	}
	rel := strings.Repeat("../", 8) + strings.TrimPrefix(host, "/")
	if err := os.Symlink(host, filepath.Join(image, "tmp")); err != nil { // absolute
		t.Fatal(err)
	}
	if err := os.Symlink("../"+rel, filepath.Join(image, "var/tmp")); err != nil { // climbs past /
		t.Fatal(err)
	}
	if err := os.Symlink(host+"/run", filepath.Join(image, "run")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(inImage, "run"), 0o755)

	j := startImageRootJail(t, image)
	script := "echo jail > /tmp/from-jail; echo jail > /var/tmp/from-jail2; ls " + host + "; cat /proc/self/mountinfo"
	out, serr, st := runIn(t, j, 0, 0, "/bin/sh", "-c", script)
	if st.Code != 0 {
		t.Fatalf("exit %d: %s", st.Code, serr)
	}
	if strings.Contains(out, "host-file") {
		t.Errorf("the jail sees the host directory through a planted link:\n%s", out)
	}
	if !strings.Contains(out, " "+host+" ") {
		t.Errorf("no mount at %s inside the root (where the links lead):\n%s", host, out)
	}
	for _, f := range []string{"from-jail", "from-jail2"} {
		if _, err := os.Stat(filepath.Join(host, f)); err == nil {
			t.Errorf("a write to a linked mount target reached the host: %s", filepath.Join(host, f))
		}
	}
	if m, _ := MountsUnder(host); len(m) > 0 {
		t.Errorf("mounts on the host directory: %v", m)
	}
}

// TestSymlinkedDevStaysInRoot: an image whose /dev is a symlink to a
// host path gets its /dev tmpfs, device nodes, links and pts/shm inside
// the image, where the link leads in the root; the host directory of
// that name gets none of them.
func TestSymlinkedDevStaysInRoot(t *testing.T) {
	requireRoot(t)
	image := newBusyboxImage(t)
	host := newHostDir(t, "ljt-hostdev")
	if err := os.MkdirAll(filepath.Join(image, host), 0o755); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(image, "dev"))
	if err := os.Symlink(host, filepath.Join(image, "dev")); err != nil {
		t.Fatal(err)
	}

	j := startImageRootJail(t, image)
	out, serr, st := runIn(t, j, 0, 0, "/bin/sh", "-c", "echo x > /dev/null && ls /dev/")
	if st.Code != 0 {
		t.Fatalf("exit %d: %s", st.Code, serr)
	}
	for _, want := range []string{"null", "ptmx", "pts", "shm", "fd"} {
		if !strings.Contains(out, want) {
			t.Errorf("jail's /dev lacks %s:\n%s", want, out)
		}
	}
	left, err := os.ReadDir(host)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("the jail's /dev setup wrote to the host directory %s: %v", host, names)
	}
	if m, _ := MountsUnder(host); len(m) > 0 {
		t.Errorf("mounts on the host directory: %v", m)
	}
}

// newHostDir is a world-writable host directory for a planted link to
// point at; not under /tmp, where a planted /tmp link would loop
// through itself.
func newHostDir(t *testing.T, pattern string) string {
	t.Helper()
	host, err := os.MkdirTemp("/", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(host) })
	os.Chmod(host, 0o777)
	return host
}

// startImageRootJail starts a user_mode "root" jail on image, stopped
// when the test ends.
func startImageRootJail(t *testing.T, image string) *Jail {
	t.Helper()
	spec := testSpec(t, UserModeRoot)
	spec.Rootfs = image
	spec.Confine.Caps = DefaultRootCaps
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { j.Stop(time.Second) })
	return j
}
