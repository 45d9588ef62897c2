package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawn runs a ProcSpec for connection c and answers with its pid (and the
// pty master, if one was asked for). Runs in init, after pivot_root.
func (s *initServer) spawn(c *conn, m *message, files []*os.File) {
	defer closeAll(files)
	res := &message{Type: msgResult, ID: m.ID}
	if m.Spawn == nil {
		res.Error = "spawn: no process given"
		c.send(res)
		return
	}
	ps := m.Spawn
	stdio, master, err := spawnStdio(ps, files)
	if err != nil {
		res.Error = err.Error()
		c.send(res)
		return
	}
	defer closeAll(stdio)
	if master != nil {
		defer master.Close()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		res.Error = "spawn: the jail is stopping"
		c.send(res)
		return
	}
	pid, err := forkExecInChild(ps, stdio)
	if err != nil {
		res.Error = err.Error()
		c.send(res)
		return
	}
	s.children[pid] = c
	select {
	case s.spawned <- struct{}{}:
	default:
	}
	res.Pid = pid
	if master != nil {
		c.send(res, int(master.Fd()))
	} else {
		c.send(res)
	}
}

// spawnStdio gives the process its stdin, stdout and stderr: the slave of
// a fresh pty from the jail's devpts, or the three files the caller sent.
func spawnStdio(ps *ProcSpec, files []*os.File) (stdio []*os.File, master *os.File, err error) {
	if !ps.Pty {
		if len(files) != 3 {
			return nil, nil, fmt.Errorf("spawn: want 3 stdio descriptors, got %d", len(files))
		}
		return []*os.File{files[0], files[1], files[2]}, nil, nil
	}
	master, slave, err := openPtyInChild(ps.UID, ps.Rows, ps.Cols)
	if err != nil {
		return nil, nil, err
	}
	if ps.Termios != nil {
		if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, ps.Termios); err != nil {
			master.Close()
			slave.Close()
			return nil, nil, os.NewSyscallError("TCSETS", err)
		}
	}
	return []*os.File{slave}, master, nil
}

// forkExecInChild starts the process as ps.UID/ps.GID in its own session.
func forkExecInChild(ps *ProcSpec, stdio []*os.File) (int, error) {
	if len(ps.Argv) == 0 {
		return 0, errors.New("spawn: empty argv")
	}
	path := "/proc/self/exe"
	if !ps.Self {
		p, err := lookPath(ps.Argv[0], envValue(ps.Env, "PATH"))
		if err != nil {
			return 0, err
		}
		path = p
	}
	argv := append([]string(nil), ps.Argv...)
	if ps.Arg0 != "" {
		argv[0] = ps.Arg0
	}
	dir := ps.Dir
	if st, err := os.Stat(dir); dir == "" || err != nil || !st.IsDir() {
		dir = "/"
	}
	fds := make([]uintptr, 0, 3)
	for _, f := range stdio {
		fds = append(fds, f.Fd())
	}
	tty := len(fds) == 1
	if tty {
		fds = []uintptr{fds[0], fds[0], fds[0]}
	}
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   ps.Env,
		Files: fds,
		Sys: &syscall.SysProcAttr{
			// The groups are init's, the user's from the clone: a jail
			// that denies setgroups could not set any other.
			Credential: &syscall.Credential{Uid: ps.UID, Gid: ps.GID, NoSetGroups: true},
			Setsid:     true,
			Setctty:    tty,
			Ctty:       0,
		},
	}
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil && dir != "/" {
		// The user may not be able to enter the directory; a shell in /
		// beats no shell, as with OpenSSH's "Could not chdir to home".
		attr.Dir = "/"
		pid, err = syscall.ForkExec(path, argv, attr)
	}
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", path, err)
	}
	return pid, nil
}

// lookPath finds file in the jail's PATH, the way execvp does.
func lookPath(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %s: not found in PATH", file)
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// openPtyInChild allocates a terminal from the jail's own devpts, so the
// jail can reach no host terminal. The slave belongs to the user.
func openPtyInChild(uid uint32, rows, cols uint16) (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: "/dev/pts/ptmx", Err: err}
	}
	master = os.NewFile(uintptr(mfd), "ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, os.NewSyscallError("unlockpt", err)
	}
	// TIOCGPTPEER opens the slave from the master, without a path lookup
	// that anything in the jail could race.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		master.Close()
		return nil, nil, os.NewSyscallError("TIOCGPTPEER", errno)
	}
	slave = os.NewFile(r, "pts")
	if err := unix.Fchown(int(r), int(uid), -1); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, os.NewSyscallError("fchown pts", err)
	}
	if rows > 0 && cols > 0 {
		if err := unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			master.Close()
			slave.Close()
			return nil, nil, os.NewSyscallError("TIOCSWINSZ", err)
		}
	}
	return master, slave, nil
}
