// Package sessionbin finds, checks and holds open loginjail-session, the
// small binary that runs the per-login processes (the SSH server's
// per-connection process, the jail init, the PAM mode's holder), as
// OpenSSH 9.8 runs sshd-session: exec'ing it costs a login far less than
// exec'ing the whole loginjail.
//
// The binary is opened once and exec'd from that descriptor: a package
// upgrade that replaces the file mid-run never pairs the running listener
// with a session binary of another version (their fd and status-pipe
// protocol is private to one build).
package sessionbin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Name is the session binary's file name, and argv[0] of what runs it.
const Name = "loginjail-session"

// minFD is the lowest descriptor the held binary gets. The child of
// exec.Cmd moves its stdio and ExtraFiles down to 0..n and parks others
// just above them before execve, which then resolves /proc/self/fd/N in
// the child's table: N must lie above everything that shuffle touches.
const minFD = 64

// Candidates are the places looked at for the session binary of the
// loginjail executable exe, in order: next to it (bin/loginjail,
// bin/loginjail-session), then under lib/loginjail beside its directory
// (/usr/sbin/loginjail, /usr/lib/loginjail/loginjail-session, as Debian
// puts sshd-session in /usr/lib/openssh).
func Candidates(exe string) []string {
	dir := filepath.Dir(exe)
	return []string{
		filepath.Join(dir, Name),
		filepath.Join(filepath.Dir(dir), "lib", "loginjail", Name),
	}
}

// Binary is the session binary, held open.
type Binary struct {
	f    *os.File
	name string // the path it was opened from, for messages
	// Fallback is set when no session binary was found and the running
	// loginjail itself stands in (it runs every per-login verb too, at a
	// higher cost per login); Missing says where it was looked for.
	Fallback bool
	Missing  string
}

// Open finds the session binary of the running executable (Candidates),
// checks it and holds it open. Its error is one line naming the fix.
func Open() (*Binary, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%s: own executable: %w", Name, err)
	}
	return OpenFor(exe)
}

// OpenFor is Open for the loginjail executable exe. With no session
// binary in either place, the running executable stands in (Fallback):
// `go build ./cmd/loginjail` alone gives a working server, as before the
// split. One that is there but fails Check is refused, never skipped.
func OpenFor(exe string) (*Binary, error) {
	cands := Candidates(exe)
	for _, p := range cands {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		b, err := hold(f, p, true)
		if err != nil {
			f.Close()
			return nil, err
		}
		return b, nil
	}
	f, err := os.OpenFile("/proc/self/exe", os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s not found (looked for %s and %s), and the running executable: %w", Name, cands[0], cands[1], err)
	}
	// Not checked: it is what already runs as root.
	b, err := hold(f, exe, false)
	if err != nil {
		f.Close()
		return nil, err
	}
	b.Fallback = true
	b.Missing = fmt.Sprintf("%s not found (looked for %s and %s); per-login processes run %s itself, which costs each login more: install %s beside it", Name, cands[0], cands[1], exe, Name)
	return b, nil
}

// hold checks the opened file (with check) and moves it above minFD.
func hold(f *os.File, p string, check bool) (*Binary, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("%s: %w", p, os.NewSyscallError("fstat", err))
	}
	if err := Check(st.Mode, st.Uid); check && err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, minFD)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, os.NewSyscallError("fcntl", err))
	}
	f.Close()
	return &Binary{f: os.NewFile(uintptr(fd), p), name: p}, nil
}

// Check says whether a file of mode and owner uid may be exec'd as root
// for every login: a regular executable file owned by root that no one
// but root can write (group or other write would let that group or
// anyone run code as root in every session).
func Check(mode uint32, uid uint32) error {
	switch {
	case mode&unix.S_IFMT != unix.S_IFREG:
		return errors.New("not a regular file")
	case uid != 0:
		return fmt.Errorf("owned by uid %d, not root (chown root %s)", uid, Name)
	case mode&0o022 != 0:
		return fmt.Errorf("writable by group or others (mode %04o; chmod go-w %s)", mode&0o7777, Name)
	case mode&0o100 == 0:
		return fmt.Errorf("not executable (mode %04o)", mode&0o7777)
	}
	return nil
}

// Path is what to exec to run the held binary: /proc/self/fd/N, which the
// kernel resolves to the opened file whatever has since replaced its name.
func (b *Binary) Path() string {
	return "/proc/self/fd/" + strconv.Itoa(int(b.f.Fd()))
}

// Name is the path the binary was opened from.
func (b *Binary) Name() string { return b.name }

// Close lets the binary go.
func (b *Binary) Close() error { return b.f.Close() }
