package jail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/netpolicy"
)

// EtcFiles are the /etc files generated for a jail, all made in one place
// (etcFilesFromParent) and written by init from its setup plan: they
// depend on the address the network attach gave the jail, which the Spec
// cannot know and Start does not write back into it.
type EtcFiles struct {
	Hosts      string `json:"hosts,omitempty"`       // names the hostname at the jail's address
	ResolvConf string `json:"resolv_conf,omitempty"` // nat jails only; "" keeps the root's
	// Passwd and Group are lines init merges into the root's own
	// /etc/passwd and /etc/group (mergeEntries): the session user's
	// names in a self jail (names.go). None leaves the files as they are.
	Passwd []string `json:"passwd,omitempty"`
	Group  []string `json:"group,omitempty"`
}

// etcFilesFromParent makes the jail's /etc files: hosts always (the
// jail's hostname on its NAT address, or on 127.0.1.1 without one), and
// for a nat jail a resolv.conf naming servers it can reach.
func etcFilesFromParent(spec *Spec, att *netpolicy.Attachment) (*EtcFiles, error) {
	var ip netip.Addr
	if att != nil {
		ip = att.IP
	}
	etc := &EtcFiles{Hosts: netpolicy.HostsFile(spec.Hostname, ip), Group: groupEntries(spec)}
	if pw := passwdEntry(spec); pw != "" {
		etc.Passwd = []string{pw}
	}
	if spec.Network != nil {
		var err error
		if own := ownResolver(att); own.IsValid() {
			etc.ResolvConf = netpolicy.OwnResolvConf(own)
		} else {
			etc.ResolvConf, err = netpolicy.ResolvConf(spec.Network.DNS)
		}
		if err != nil {
			return nil, fmt.Errorf("resolv.conf: %w", err)
		}
	}
	return etc, nil
}

// ownResolver is the jail's own resolver (a policy naming hosts), if any.
func ownResolver(att *netpolicy.Attachment) netip.Addr {
	if att == nil {
		return netip.Addr{}
	}
	return att.OwnResolver()
}

// bindEtcFiles puts the session's /etc/hosts, /etc/resolv.conf and, when
// the user's names are missing from the root's, /etc/passwd and /etc/group
// in place: written to init's scratch tmpfs and bound over the root's
// files, so the root itself (the host's /etc, or an image) is never
// written. Runs after the fresh /run exists: a resolv.conf that links
// into /run (systemd's stub) gets its target made there.
func (r *rootfs) bindEtcFiles() error {
	passwd, err := r.mergedRootFile("/etc/passwd", r.etc.Passwd)
	if err != nil {
		return err
	}
	group, err := r.mergedRootFile("/etc/group", r.etc.Group)
	if err != nil {
		return err
	}
	files := []struct{ path, content string }{
		{"/etc/hosts", r.etc.Hosts},
		{"/etc/resolv.conf", r.etc.ResolvConf},
		{"/etc/passwd", passwd},
		{"/etc/group", group},
	}
	for _, f := range files {
		if f.content == "" {
			continue
		}
		src := filepath.Join(r.scratch, strings.ReplaceAll(strings.TrimPrefix(f.path, "/"), "/", "-"))
		r.plan.add(planStep{code: opWriteFile, flags: planCreate, num: 0o644, a: src, b: f.content})
		r.plan.add(planStep{code: opEnsureFileInRoot, a: f.path})
		r.plan.mountInRoot(src, f.path, "", unix.MS_BIND, "")
		r.plan.setattrInRoot(f.path, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, false)
	}
	return nil
}

// mergedRootFile is the root's file at path with entries merged in, or ""
// when it already holds them all (then it is left unbound, the root's
// own).
func (r *rootfs) mergedRootFile(path string, entries []string) (string, error) {
	if len(entries) == 0 {
		return "", nil
	}
	content, err := r.readRootFile(path)
	if err != nil {
		return "", err
	}
	merged, changed := mergeEntries(content, entries)
	if !changed {
		return "", nil
	}
	return merged, nil
}

// readRootFile reads the file at path as the jail's root will have it
// when init binds over it: the host's, or the image's, resolved inside
// the image so that its symlinks cannot point the read at a host file.
// It is "" when the jail will not see a file there: missing, under a
// hidden path, or led by a symlink into a place the jail gets afresh
// (/run, /tmp, /proc, ...) or never sees. Anything but a regular file is
// refused before it is opened for reading: the caller is host root, and
// an image's /etc/passwd could be a FIFO or a device.
func (r *rootfs) readRootFile(path string) (string, error) {
	if r.unseen(path) {
		return "", nil
	}
	top := "/"
	if !r.hostMode() {
		// As the kernel names it: the image dir may sit under a symlink.
		var err error
		if top, err = filepath.EvalSymlinks(r.spec.Rootfs); err != nil {
			return "", err
		}
	}
	fd, err := openInRoot(top, path, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	resolved, err := os.Readlink(fdPath(fd))
	if err != nil {
		return "", err
	}
	inside, ok := strings.CutPrefix(resolved, strings.TrimSuffix(top, "/"))
	if !ok || !strings.HasPrefix(inside, "/") || r.unseen(inside) {
		return "", nil
	}
	var st, topSt unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: resolved, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("%s of the root (%s) is not a regular file", path, resolved)
	}
	// The image reaches the jail without the mounts under it.
	if !r.hostMode() {
		if err := unix.Stat(top, &topSt); err != nil {
			return "", &os.PathError{Op: "stat", Path: top, Err: err}
		}
		if st.Dev != topSt.Dev {
			return "", nil
		}
	}
	f, err := os.OpenFile(fdPath(fd), os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, maxEtcFile+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", resolved, err)
	}
	if len(content) > maxEtcFile {
		return "", fmt.Errorf("read %s: over %d bytes", resolved, maxEtcFile)
	}
	// The plan carries text; a NUL would end it early.
	if bytes.IndexByte(content, 0) >= 0 {
		return "", fmt.Errorf("%s of the root (%s) holds a NUL byte", path, resolved)
	}
	return string(content), nil
}

// freshInJail are the directories a jail gets fresh instances of, so a
// path under them in the root is not what the jail sees.
var freshInJail = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"}

// unseen says whether the jail will not see the root's file at p (an
// absolute, clean path): under a hidden path, a fresh mount, or (host
// rootfs) a top-level entry the jail is not given.
func (r *rootfs) unseen(p string) bool {
	under := func(dir string) bool {
		dir = strings.TrimSuffix(dir, "/")
		return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
	}
	for _, h := range r.hidden() {
		if h != "/" && under(h) {
			return true
		}
	}
	for _, d := range freshInJail {
		if under(d) {
			return true
		}
	}
	if r.hostMode() {
		top, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		return hostTopSkip[top]
	}
	return false
}

func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// maxEtcFile bounds how much of a root's /etc/passwd or /etc/group the
// caller reads: an image's file is untrusted input.
const maxEtcFile = 64 << 20
