package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/jail"
)

// ShellOptions is a `loginjail shell`: sshd's ForceCommand (or a login
// shell) in PAM mode, run as the user.
type ShellOptions struct {
	Config *config.Config
	Cmd    string // -c CMD, else SSH_ORIGINAL_COMMAND; "" = login shell
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
}

// ErrNoJail means no jail was made for this login: never run a shell
// outside one.
var ErrNoJail = errors.New("no jail for this login (is pam_exec loginjail pam-hook in sshd's PAM session stack?)")

// Shell finds the jail built for this login, runs the command, login
// shell or SFTP server in it, relays the terminal or the stdio, and
// returns the exit status (128+N for a signal).
func Shell(o ShellOptions) (int, error) {
	// sshd's process for this connection; read before anything can block,
	// so that its death meanwhile is seen.
	parent := os.Getppid()
	c, err := findHolder(o.Config)
	if err != nil {
		return 1, err
	}
	defer c.Close()
	tty := term.IsTerminal(int(o.Stdin.Fd()))
	req := SpawnReq{Cmd: o.Cmd, Term: os.Getenv("TERM"), SFTP: isSFTP(o.Cmd)}
	if req.SFTP {
		req.Cmd, tty = "", false
	}
	req.Pty = tty
	if tty {
		req.Rows, req.Cols = terminalSize(o.Stdout)
	}
	p, master, err := StartRemote(c, req, []*os.File{o.Stdin, o.Stdout, o.Stderr})
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		return 1, fmt.Errorf("the jail refused: %s", refused.Reason)
	case errors.Is(err, errNoTerminal):
		return 1, err
	case err != nil:
		return 1, fmt.Errorf("ask the jail: %w", err)
	}
	stopSignals := forwardSignals(func(sig syscall.Signal) { p.Signal(sig) })
	defer stopSignals()
	hangUpWithParent(p, parent)
	if tty {
		defer master.Close()
		t, err := openTerminal(o.Stdin, o.Stdout)
		if err != nil {
			return 1, fmt.Errorf("raw mode: %w", err)
		}
		t.relay(master, func(r, cl uint16) {
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: r, Col: cl})
		}, p.Done())
		t.restore()
	}
	return shellExit(p.Wait())
}

func shellExit(st jail.ExitStatus, err error) (int, error) {
	if err != nil {
		return 255, errors.New("lost the jail before the command's end")
	}
	return st.Code, nil
}

// isSFTP tells sshd's sftp subsystem command (internal-sftp or the path
// of an sftp-server) from an ordinary command.
func isSFTP(cmd string) bool {
	f := strings.Fields(cmd)
	return len(f) > 0 && (f[0] == "internal-sftp" || filepath.Base(f[0]) == "sftp-server")
}

// findHolder connects to the holder of the login this process belongs to:
// the socket named by one of its ancestors (the login's privileged sshd
// process). The holder checks our uid and ancestry itself.
func findHolder(cfg *config.Config) (Conn, error) {
	for _, a := range ancestors(os.Getpid()) {
		start, err := jail.ProcStartTime(a)
		if err != nil {
			continue
		}
		c, err := DialJail(holderSocket(cfg, a, start))
		if err == nil {
			return c, nil
		}
	}
	return Conn{}, ErrNoJail
}

// hangUpWithParent makes the death of our parent (sshd's process for this
// connection, gone with the connection when its monitor was killed and no
// close_session will come) hang up the jailed process, as a closed
// terminal would: a non-terminal command would otherwise run on with no
// one to read it.
func hangUpWithParent(p *RemoteProc, parent int) {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGHUP), 0, 0, 0); err != nil {
		return
	}
	// Reparented already (to init: sshd is never pid 1): it is gone.
	if parent == 1 || os.Getppid() != parent {
		p.Signal(syscall.SIGHUP)
	}
}
