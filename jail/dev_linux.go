package jail

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// devNodes are bound from the host: a user namespace cannot mknod.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

var devLinks = map[string]string{
	"fd":     "/proc/self/fd",
	"stdin":  "/proc/self/fd/0",
	"stdout": "/proc/self/fd/1",
	"stderr": "/proc/self/fd/2",
	"ptmx":   "pts/ptmx",
}

// mountDev builds a minimal /dev: a small tmpfs with the harmless device
// nodes, the jail's own devpts instance (its ptmx makes terminals only the
// jail can see) and a tmpfs /dev/shm. The /dev tmpfs goes read-only after.
func (r *rootfs) mountDev() error {
	if err := mountInRoot("tmpfs", r.root, "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return err
	}
	dev := filepath.Join(r.root, "dev")
	for _, n := range devNodes {
		if err := createFileInRoot(r.root, "/dev/"+n, 0o666); err != nil {
			return err
		}
		if err := mountInRoot("/dev/"+n, r.root, "/dev/"+n, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for name, target := range devLinks {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	// gid 5 is "tty" on Debian; terminals get it as their group.
	if err := mountInRoot("devpts", r.root, "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return err
	}
	size := strconv.FormatInt(r.spec.TmpSize, 10)
	if err := mountInRoot("shm", r.root, "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size="+size); err != nil {
		return err
	}
	return setattrInRoot(r.root, "/dev", unix.MOUNT_ATTR_RDONLY, false)
}
