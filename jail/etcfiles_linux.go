package jail

import (
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
// (etcFilesFromParent) and carried to init in its setup message: they
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
		if err := os.WriteFile(src, []byte(f.content), 0o644); err != nil {
			return err
		}
		if err := r.ensureFileTarget(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if err := mountInRoot(src, r.root, f.path, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		if err := setattrInRoot(r.root, f.path, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
			return err
		}
	}
	return nil
}

// mergedRootFile is the root's file at path with entries merged in, or ""
// when it already holds them all (then it is left unbound, the root's
// own). The root's file is read inside the root, so an image's symlink
// cannot point the read at a host file.
func (r *rootfs) mergedRootFile(path string, entries []string) (string, error) {
	if len(entries) == 0 {
		return "", nil
	}
	var content []byte
	fd, err := openInRoot(r.root, path, unix.O_RDONLY)
	switch {
	case err == nil:
		f := os.NewFile(uintptr(fd), path)
		content, err = io.ReadAll(io.LimitReader(f, maxEtcFile+1))
		f.Close()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
		if len(content) > maxEtcFile {
			return "", fmt.Errorf("read %s: over %d bytes", path, maxEtcFile)
		}
	case !errors.Is(err, unix.ENOENT):
		return "", err
	}
	merged, changed := mergeEntries(string(content), entries)
	if !changed {
		return "", nil
	}
	return merged, nil
}

// maxEtcFile bounds how much of a root's /etc/passwd or /etc/group init
// reads: an image's file is untrusted input.
const maxEtcFile = 64 << 20

// ensureFileTarget makes sure path resolves (inside root) to a file a bind
// can cover: it exists, or it is a symlink whose target can be created in
// a writable part of the root (the fresh /run, an overlay), or, on an
// overlay, it can be created itself.
func (r *rootfs) ensureFileTarget(path string) error {
	fd, err := openInRoot(r.root, path, unix.O_PATH)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return err
	}
	target := path
	dir, name := filepath.Split(path)
	if dfd, err := openInRoot(r.root, dir, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		buf := make([]byte, 4096)
		n, lerr := unix.Readlinkat(dfd, name, buf)
		unix.Close(dfd)
		if lerr == nil {
			target = string(buf[:n])
			if !filepath.IsAbs(target) {
				target = filepath.Join(dir, target)
			}
		}
	}
	if err := mkdirAllInRoot(r.root, filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return createFileInRoot(r.root, target, 0o644)
}
