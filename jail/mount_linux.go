package jail

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountError says which mount failed, with its flags by name.
type mountError struct {
	op, source, target, fstype string
	flags                      uintptr
	data                       string
	err                        error
}

func (e *mountError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.op)
	if e.source != "" {
		fmt.Fprintf(&b, " %s", e.source)
	}
	fmt.Fprintf(&b, " on %s", e.target)
	if e.fstype != "" {
		fmt.Fprintf(&b, " type %s", e.fstype)
	}
	if f := mountFlagNames(e.flags); f != "" {
		fmt.Fprintf(&b, " (%s)", f)
	}
	if e.data != "" {
		fmt.Fprintf(&b, " [%s]", e.data)
	}
	fmt.Fprintf(&b, ": %v", e.err)
	return b.String()
}

func (e *mountError) Unwrap() error { return e.err }

var flagNames = []struct {
	f    uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"}, {unix.MS_REMOUNT, "remount"}, {unix.MS_BIND, "bind"},
	{unix.MS_REC, "rec"}, {unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"},
	{unix.MS_MOVE, "move"},
}

func mountFlagNames(f uintptr) string {
	var names []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// mountInRoot mounts onto target, a path inside root, resolved with
// openat2(RESOLVE_IN_ROOT): a symlink planted anywhere on the way is
// followed inside root and can never point the mount at a host path. The
// mount goes through the opened fd, so the path cannot change under it.
func mountInRoot(source, root, target, fstype string, flags uintptr, data string) error {
	fd, err := openInRoot(root, target, unix.O_PATH)
	if err != nil {
		return &mountError{op: "mount", source: source, target: target, fstype: fstype, flags: flags, data: data, err: err}
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return &mountError{op: "mount", source: source, target: target, fstype: fstype, flags: flags, data: data, err: err}
	}
	return nil
}

// setattrInRoot adds mount attributes (MOUNT_ATTR_*) to the mount at
// target, recursively when rec is set. Unlike a bind remount it covers a
// whole tree and keeps the flags the kernel locked.
func setattrInRoot(root, target string, set uint64, rec bool) error {
	fd, err := openInRoot(root, target, unix.O_PATH)
	if err != nil {
		return &os.PathError{Op: "mount_setattr", Path: target, Err: err}
	}
	defer unix.Close(fd)
	flags := uint(unix.AT_EMPTY_PATH)
	if rec {
		flags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(fd, "", flags, &unix.MountAttr{Attr_set: set}); err != nil {
		return &os.PathError{Op: "mount_setattr", Path: target, Err: err}
	}
	return nil
}

// openInRoot opens path (absolute, as seen inside root) without letting
// any symlink escape root.
func openInRoot(root, path string, flags int) (int, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rfd)
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(rfd, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, &os.PathError{Op: "openat2", Path: filepath.Join(root, rel), Err: err}
	}
	return fd, nil
}

// mkdirAllInRoot creates path inside root one component at a time, each
// resolved inside root, and returns nil if it exists as a directory.
func mkdirAllInRoot(root, path string, mode os.FileMode) error {
	cur := "/"
	for _, part := range strings.Split(strings.Trim(filepath.Clean(path), "/"), "/") {
		if part == "" {
			continue
		}
		dfd, err := openInRoot(root, cur, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(dfd, part, uint32(mode.Perm()))
		unix.Close(dfd)
		if err != nil && err != unix.EEXIST {
			return &os.PathError{Op: "mkdir", Path: filepath.Join(root, cur, part), Err: err}
		}
		cur = filepath.Join(cur, part)
	}
	fd, err := openInRoot(root, cur, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// createFileInRoot makes an empty file at path inside root to bind a
// device or file onto.
func createFileInRoot(root, path string, mode os.FileMode) error {
	dir, name := filepath.Split(filepath.Clean(path))
	dfd, err := openInRoot(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, name, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(root, path), Err: err}
	}
	return unix.Close(fd)
}

func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }
