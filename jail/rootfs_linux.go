package jail

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// hostTopSkip are the host's top-level entries a jail never sees through
// the host rootfs: they get fresh instances (proc, sys, dev, run, tmp),
// are hidden (home, root), or hold other people's or the kernel's files.
var hostTopSkip = map[string]bool{
	"proc": true, "sys": true, "dev": true, "run": true, "tmp": true,
	"home": true, "root": true, "mnt": true, "media": true,
	"lost+found": true, "boot": true,
}

// rootfs builds the jail's root filesystem in init's mount namespace.
type rootfs struct {
	spec    *Spec
	etc     *EtcFiles
	scratch string // the session dir, with init's private tmpfs on it
	root    string // the new root, under scratch
	lower   *os.File
}

// prepareRootfsInChild builds the new root and pivots into it. The order
// is the audit trail:
//   - nothing may propagate to the host, so / goes rprivate first;
//   - every mount point is created before the tree is made read-only;
//   - the read-only pass comes before the writable mounts, which must stay
//     writable;
//   - pivot_root comes last, and the old root is detached so no path leads
//     back to the host.
func prepareRootfsInChild(spec *Spec, etc *EtcFiles, lower *os.File) error {
	r := &rootfs{spec: spec, etc: etc, scratch: spec.SessionDir, root: filepath.Join(spec.SessionDir, "root"), lower: lower}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"make / rprivate", r.makeRootPrivate},
		{"mount scratch tmpfs", r.mountScratch},
		{"mount new root", r.mountNewRoot},
		{"bind host tree", r.bindHostTree},
		{"create mount points", r.createMountPoints},
		{"hide paths", r.hidePaths},
		{"make read-only", r.makeReadOnly},
		{"mount /proc", r.mountProc},
		{"mount /sys", r.mountSys},
		{"mount /dev", r.mountDev},
		{"mount tmpfs dirs", r.mountTmpDirs},
		{"bind /etc files", r.bindEtcFiles},
		{"bind home", r.bindHome},
		{"pivot_root", r.pivotRoot},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

func (r *rootfs) hostMode() bool { return r.spec.Rootfs == RootfsHost }

func (r *rootfs) makeRootPrivate() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return &mountError{op: "mount", target: "/", flags: unix.MS_REC | unix.MS_PRIVATE, err: err}
	}
	return nil
}

// mountScratch puts a tmpfs owned by the jail's root on the session dir:
// the new root (host mode) or the overlay's upper and work dirs live there
// and vanish with the mount namespace.
func (r *rootfs) mountScratch() error {
	data := "mode=0700,size=" + strconv.FormatInt(r.spec.TmpSize, 10)
	if err := unix.Mount("loginjail", r.scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return &mountError{op: "mount", source: "tmpfs", target: r.scratch, fstype: "tmpfs", flags: unix.MS_NOSUID | unix.MS_NODEV, data: data, err: err}
	}
	return os.Mkdir(r.root, 0o755)
}

// mountNewRoot makes r.root a mount point: a bind of itself for the host
// rootfs, or an overlay of the idmapped image with a tmpfs upper layer.
func (r *rootfs) mountNewRoot() error {
	if r.hostMode() {
		return mountInRoot(r.root, "/", r.root, "", unix.MS_BIND, "")
	}
	if r.lower == nil {
		return fmt.Errorf("image %s: no lower layer from the parent", r.spec.Rootfs)
	}
	lower, upper, work := filepath.Join(r.scratch, "lower"), filepath.Join(r.scratch, "upper"), filepath.Join(r.scratch, "work")
	for _, d := range []string{lower, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.MoveMount(int(r.lower.Fd()), "", unix.AT_FDCWD, lower, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount", Path: lower, Err: err}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lower, upper, work)
	return mountInRoot("overlay", "/", r.root, "overlay", unix.MS_NOSUID|unix.MS_NODEV, data)
}

// bindHostTree binds the host's top-level directories into the new root
// and copies its top-level symlinks (/bin -> usr/bin).
func (r *rootfs) bindHostTree() error {
	if !r.hostMode() {
		return nil
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if hostTopSkip[name] {
			continue
		}
		src := "/" + name
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, filepath.Join(r.root, name)); err != nil {
				return err
			}
		case e.IsDir():
			if err := os.Mkdir(filepath.Join(r.root, name), 0o755); err != nil {
				return err
			}
			if err := mountInRoot(src, r.root, src, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// createMountPoints makes every directory the later steps mount on, while
// the tree is still writable.
func (r *rootfs) createMountPoints() error {
	dirs := []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/home", filepath.Dir(r.spec.Home), r.spec.Home}
	if r.hostMode() {
		dirs = append(dirs, "/root")
	}
	for _, d := range dirs {
		if err := mkdirAllInRoot(r.root, d, 0o755); err != nil {
			return err
		}
	}
	if r.hostMode() {
		return os.Chmod(filepath.Join(r.root, "root"), 0o700)
	}
	return nil
}

// hidePaths lays an empty read-only tmpfs over each hidden directory
// (loginjail's state, keys and config, policy extras) and, on the host
// rootfs, over /home and the home's parent so other users' homes are gone.
func (r *rootfs) hidePaths() error {
	hide := append([]string(nil), r.spec.Hide...)
	if r.hostMode() {
		hide = append(hide, "/home", filepath.Dir(r.spec.Home))
	}
	seen := map[string]bool{}
	for _, p := range hide {
		if seen[p] || p == "/" {
			continue
		}
		seen[p] = true
		fd, err := openInRoot(r.root, p, unix.O_PATH)
		if err != nil {
			continue // nothing there to hide
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "stat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := mountInRoot("/dev/null", r.root, p, "", unix.MS_BIND, ""); err != nil {
				return err
			}
			continue
		}
		if err := mountInRoot("loginjail", r.root, p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
			return err
		}
	}
	// The home's mount point was hidden with its parent: make it again.
	return mkdirAllInRoot(r.root, r.spec.Home, 0o755)
}

// makeReadOnly turns the whole host tree read-only, nosuid and nodev, in
// one recursive mount_setattr (a bind remount would cover one mount only).
// An image root stays writable: its writes go to the session's tmpfs.
func (r *rootfs) makeReadOnly() error {
	if !r.hostMode() {
		return nil
	}
	return setattrInRoot(r.root, "/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
}

func (r *rootfs) mountProc() error {
	return mountInRoot("proc", r.root, "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// mountSys mounts a read-only sysfs of the jail's own network namespace.
func (r *rootfs) mountSys() error {
	return mountInRoot("sysfs", r.root, "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// mountTmpDirs gives /tmp, /var/tmp and /run fresh tmpfs instances: a
// read-only bind of the host's /run would still let a process connect to
// host sockets (docker, D-Bus, sshd).
func (r *rootfs) mountTmpDirs() error {
	size := strconv.FormatInt(r.spec.TmpSize, 10)
	mounts := []struct{ path, mode string }{{"/tmp", "1777"}, {"/var/tmp", "1777"}, {"/run", "0755"}}
	for _, m := range mounts {
		if fd, err := openInRoot(r.root, m.path, unix.O_PATH|unix.O_DIRECTORY); err != nil {
			continue // an image without /var/tmp
		} else {
			unix.Close(fd)
		}
		if err := mountInRoot("tmpfs", r.root, m.path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode="+m.mode+",size="+size); err != nil {
			return err
		}
	}
	return nil
}

// bindHome binds the user's home read-write at its own path.
func (r *rootfs) bindHome() error {
	// A home under /tmp or /run lost its mount point to the fresh tmpfs.
	if err := mkdirAllInRoot(r.root, r.spec.Home, 0o755); err != nil {
		return err
	}
	if err := mountInRoot(r.spec.Home, r.root, r.spec.Home, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return setattrInRoot(r.root, r.spec.Home, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
}

// pivotRoot swaps the new root in with pivot_root(".", "."), which needs no
// writable put_old directory, and detaches the old root.
func (r *rootfs) pivotRoot() error {
	fd, err := unix.Open(r.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: r.root, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fchdir(fd); err != nil {
		return &os.PathError{Op: "fchdir", Path: r.root, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: r.root, Err: err}
	}
	// The old root is now stacked under "."; keep its unmount from
	// reaching anything else, then drop it.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &mountError{op: "mount", target: "old root", flags: unix.MS_SLAVE | unix.MS_REC, err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "umount2", Path: "old root", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}
