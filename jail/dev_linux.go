package jail

import (
	"maps"
	"slices"
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
	r.plan.mountInRoot("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k")
	for _, n := range devNodes {
		r.plan.add(planStep{code: opCreateInRoot, num: 0o666, a: "/dev/" + n})
		r.plan.mountInRoot("/dev/"+n, "/dev/"+n, "", unix.MS_BIND, "")
	}
	for _, name := range slices.Sorted(maps.Keys(devLinks)) {
		r.plan.add(planStep{code: opSymlinkInRoot, a: devLinks[name], b: "/dev/" + name})
	}
	for _, d := range []string{"/dev/pts", "/dev/shm"} {
		r.plan.mkdirAllInRoot(d, 0o755)
	}
	// gid 5 is "tty" on Debian; terminals get it as their group.
	r.plan.mountInRoot("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
	size := strconv.FormatInt(r.spec.TmpSize, 10)
	r.plan.mountInRoot("shm", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size="+size)
	r.plan.setattrInRoot("/dev", unix.MOUNT_ATTR_RDONLY, false)
	return nil
}
