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

// rootfs plans the jail's root filesystem, built in init's mount
// namespace (setupplan_linux.go): each method adds its steps to the plan.
type rootfs struct {
	spec    *Spec
	etc     *EtcFiles
	scratch string // the session dir, with init's private tmpfs on it
	root    string // the new root, under scratch
	plan    *setupPlan
	hostTop []os.DirEntry // the host's "/", for a host rootfs
}

// planRootfs adds the steps that build the new root and pivot into it.
// The order is the audit trail:
//   - nothing may propagate to the host, so / goes rprivate first;
//   - every mount point is created before the tree is made read-only;
//   - the read-only pass comes before the writable mounts, which must stay
//     writable;
//   - the kernel paths are masked right after /proc and /sys are mounted,
//     before anything can be mounted over them;
//   - pivot_root comes last, and the old root is detached so no path leads
//     back to the host.
func (r *rootfs) planRootfs() error {
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
		{"mask kernel paths", r.maskPaths},
		{"make kernel paths read-only", r.readOnlyPaths},
		{"mount /dev", r.mountDev},
		{"mount tmpfs dirs", r.mountTmpDirs},
		{"mount the runtime dir", r.mountRuntimeDir},
		{"bind /etc files", r.bindEtcFiles},
		{"bind home", r.bindHome},
		{"pivot_root", r.pivotRoot},
	}
	for _, st := range steps {
		r.plan.label = "root filesystem: " + st.name
		if err := st.fn(); err != nil {
			return fmt.Errorf("%s: %w", r.plan.label, err)
		}
	}
	return nil
}

func (r *rootfs) hostMode() bool { return r.spec.Rootfs == RootfsHost }

func (r *rootfs) makeRootPrivate() error {
	r.plan.mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	return nil
}

// mountScratch puts a tmpfs owned by the jail's root on the session dir:
// the new root (host mode) or the overlay's upper and work dirs live there
// and vanish with the mount namespace.
func (r *rootfs) mountScratch() error {
	r.plan.mount("loginjail", r.scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size="+strconv.FormatInt(r.spec.TmpSize, 10))
	r.plan.mkdir(r.root, 0o755)
	return nil
}

// mountNewRoot makes r.root a mount point: a bind of itself for the host
// rootfs, or an overlay of the idmapped image (the lower layer the caller
// sends with the plan) with a tmpfs upper layer.
func (r *rootfs) mountNewRoot() error {
	if r.hostMode() {
		r.plan.mountInRoot(r.root, "/", "", unix.MS_BIND, "")
		return nil
	}
	lower, upper, work := filepath.Join(r.scratch, "lower"), filepath.Join(r.scratch, "upper"), filepath.Join(r.scratch, "work")
	for _, d := range []string{lower, upper, work} {
		r.plan.mkdir(d, 0o755)
	}
	r.plan.add(planStep{code: opMoveLower, a: lower})
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lower, upper, work)
	r.plan.mountInRoot("overlay", "/", "overlay", unix.MS_NOSUID|unix.MS_NODEV, data)
	return nil
}

// bindHostTree binds the host's top-level directories into the new root
// and copies its top-level symlinks (/bin -> usr/bin). The caller read
// the host's "/" (its mount namespace is the one init's is copied from).
func (r *rootfs) bindHostTree() error {
	if !r.hostMode() {
		return nil
	}
	for _, e := range r.hostTop {
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
			r.plan.add(planStep{code: opSymlinkInRoot, a: target, b: src})
		case e.IsDir():
			r.plan.mkdir(filepath.Join(r.root, name), 0o755)
			r.plan.mountInRoot(src, src, "", unix.MS_BIND|unix.MS_REC, "")
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
		r.plan.mkdirAllInRoot(d, 0o755)
	}
	if r.hostMode() {
		r.plan.add(planStep{code: opChmod, num: 0o700, a: filepath.Join(r.root, "root")})
	}
	return nil
}

// hidePaths lays an empty read-only tmpfs over each hidden directory
// (loginjail's state, keys and config, policy extras) and /dev/null over
// each hidden file; on the host rootfs, /home and the home's parent go
// too, so other users' homes are gone.
func (r *rootfs) hidePaths() error {
	seen := map[string]bool{}
	for _, p := range r.hidden() {
		if seen[p] || p == "/" {
			continue
		}
		seen[p] = true
		r.plan.add(planStep{code: opCoverInRoot, flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, a: p, d: "mode=0755,size=64k"})
	}
	// The home's mount point was hidden with its parent: make it again.
	r.plan.mkdirAllInRoot(r.spec.Home, 0o755)
	return nil
}

// hidden are the paths hidePaths covers.
func (r *rootfs) hidden() []string {
	hide := append([]string(nil), r.spec.Hide...)
	if r.hostMode() {
		hide = append(hide, "/home", filepath.Dir(r.spec.Home))
	}
	return hide
}

// makeReadOnly turns the whole host tree read-only, nosuid and nodev, in
// one recursive mount_setattr (a bind remount would cover one mount only).
// An image root stays writable: its writes go to the session's tmpfs.
func (r *rootfs) makeReadOnly() error {
	if r.hostMode() {
		r.plan.setattrInRoot("/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
	}
	return nil
}

func (r *rootfs) mountProc() error {
	r.plan.mountInRoot("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	return nil
}

// mountSys mounts a read-only sysfs of the jail's own network namespace.
func (r *rootfs) mountSys() error {
	r.plan.mountInRoot("sysfs", "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	return nil
}

// maskedKernelPaths are the /proc and /sys entries runc and Docker mask by
// default: they reveal host hardware and kernel state (kcore, timers,
// keyrings, firmware tables) no jailed process needs. A directory gets an
// empty read-only tmpfs, a file a bind of /dev/null.
var maskedKernelPaths = []string{
	"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// readOnlyKernelPaths are the /proc entries runc and Docker make read-only:
// writable, they would change the host kernel (sysctls, IRQ affinity,
// SysRq) for anyone with the capability in the init user namespace; in the
// jail's user namespace the kernel already refuses most writes, and these
// read-only binds refuse the rest for every id.
var readOnlyKernelPaths = []string{
	"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// maskPaths lays an empty read-only tmpfs over each directory of
// maskedKernelPaths and binds /dev/null over each file. A path the kernel
// does not have is skipped.
func (r *rootfs) maskPaths() error {
	for _, p := range maskedKernelPaths {
		r.plan.add(planStep{code: opCoverInRoot, flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, a: p, d: "mode=0555,size=4k"})
	}
	return nil
}

// readOnlyPaths binds each of readOnlyKernelPaths onto itself and makes the
// bind (and anything under it) read-only, nosuid, nodev and noexec.
func (r *rootfs) readOnlyPaths() error {
	for _, p := range readOnlyKernelPaths {
		r.plan.add(planStep{code: opReadOnlyInRoot, flags: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC, a: p})
	}
	return nil
}

// mountTmpDirs gives /tmp, /var/tmp and /run fresh tmpfs instances: a
// read-only bind of the host's /run would still let a process connect to
// host sockets (docker, D-Bus, sshd). An image without one skips it.
func (r *rootfs) mountTmpDirs() error {
	size := strconv.FormatInt(r.spec.TmpSize, 10)
	mounts := []struct{ path, mode string }{{"/tmp", "1777"}, {"/var/tmp", "1777"}, {"/run", "0755"}}
	for _, m := range mounts {
		r.plan.skipUnlessDir(m.path, func() {
			r.plan.mountInRoot("tmpfs", m.path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode="+m.mode+",size="+size)
		})
	}
	return nil
}

// mountRuntimeDir gives the user their XDG_RUNTIME_DIR, /run/user/<uid>:
// a tmpfs of its own, mode 0700, owned by the user, as pam_systemd makes
// it on the host. It is the jail's, not the host's: the host's holds
// sockets (D-Bus, the user's systemd) that lead out of the jail. An image
// whose /run leads nowhere (mountTmpDirs skipped it too) goes without.
func (r *rootfs) mountRuntimeDir() error {
	dir := r.spec.RuntimeDir()
	data := fmt.Sprintf("mode=0700,uid=%d,gid=%d,size=%d", r.spec.InsideUID(), r.spec.InsideGID(), r.spec.TmpSize)
	r.plan.skipUnlessDir("/run", func() {
		r.plan.mkdirAllInRoot(dir, 0o755)
		r.plan.mountInRoot("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data)
	})
	return nil
}

// bindHome binds the user's home read-write at its own path.
func (r *rootfs) bindHome() error {
	// A home under /tmp or /run lost its mount point to the fresh tmpfs.
	r.plan.mkdirAllInRoot(r.spec.Home, 0o755)
	r.plan.mountInRoot(r.spec.Home, r.spec.Home, "", unix.MS_BIND|unix.MS_REC, "")
	r.plan.setattrInRoot(r.spec.Home, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
	return nil
}

// pivotRoot swaps the new root in with pivot_root(".", "."), which needs
// no writable put_old directory, and detaches the old root.
func (r *rootfs) pivotRoot() error {
	r.plan.add(planStep{code: opPivotRoot})
	return nil
}
