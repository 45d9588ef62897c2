package vm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cacheRoot is where built images are kept between runs
// (LOGINJAIL_VM_CACHE overrides it).
func cacheRoot() string {
	if d := os.Getenv("LOGINJAIL_VM_CACHE"); d != "" {
		return d
	}
	return "/var/cache/loginjail-vm"
}

// image is one built guest: base disk, the kernel and initrd taken from
// it, and the key root logs in with.
type image struct {
	dist, dir string
}

func (im image) disk() string   { return filepath.Join(im.dir, "disk.img") }
func (im image) kernel() string { return filepath.Join(im.dir, "vmlinuz") }
func (im image) initrd() string { return filepath.Join(im.dir, "initrd.img") }
func (im image) key() string    { return filepath.Join(im.dir, "id_ed25519") }

// imageDir is the cache directory of dist: the distribution plus a hash of
// build-image.sh, which holds the package list and every build step, so a
// change to either builds a new image and never reuses a stale one.
func imageDir(dist string) (string, error) {
	script, err := os.ReadFile("build-image.sh")
	if err != nil {
		return "", fmt.Errorf("read build script: %w", err)
	}
	sum := sha256.Sum256(script)
	return filepath.Join(cacheRoot(), dist+"-"+hex.EncodeToString(sum[:])[:12]), nil
}

// buildImage returns the cached image of dist, building it first when the
// cache has none (a flock keeps two runs from building the same one).
func buildImage(t *testing.T, dist string) (image, error) {
	dir, err := imageDir(dist)
	if err != nil {
		return image{}, err
	}
	im := image{dist: dist, dir: dir}
	if err := os.MkdirAll(cacheRoot(), 0o755); err != nil {
		return im, fmt.Errorf("image cache: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return im, fmt.Errorf("image lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return im, fmt.Errorf("image lock: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
		t.Logf("%s: cached image %s", dist, dir)
		return im, nil
	}
	os.RemoveAll(dir)
	start := time.Now()
	t.Logf("%s: building image %s (mmdebstrap)", dist, dir)
	out, err := exec.Command("bash", "build-image.sh", dist, dir).CombinedOutput()
	if err != nil {
		return im, fmt.Errorf("build-image.sh %s: %w\n%s", dist, err, out)
	}
	t.Logf("%s: image built in %s", dist, time.Since(start).Round(time.Second))
	// Images of an older build script are never used again (2 GB each).
	old, _ := filepath.Glob(filepath.Join(cacheRoot(), dist+"-*"))
	for _, o := range old {
		if o != dir && !strings.HasSuffix(o, ".lock") {
			os.RemoveAll(o)
			os.Remove(o + ".lock")
		}
	}
	return im, nil
}
