package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/sessionbin"
	"github.com/loginjail/loginjail/jail"
)

// holderReadyTimeout bounds how long pam-hook waits for the jail.
const holderReadyTimeout = 30 * time.Second

// pamDir holds the holders' sockets: listed by root only, reachable by
// name, so a user's `loginjail shell` finds its own login's socket from
// its ancestry without seeing anyone else's.
func pamDir(cfg *config.Config) string { return filepath.Join(cfg.Server.StateDir, "pam") }

// holderSocket names the socket of the login whose sshd monitor is
// (pid, start): pid reuse cannot make a later login's name collide.
func holderSocket(cfg *config.Config, pid int, start uint64) string {
	return filepath.Join(pamDir(cfg), fmt.Sprintf("%d-%d.sock", pid, start))
}

// PAMHook is `loginjail pam-hook`, run by pam_exec.so in sshd's session
// stack as root in the login's privileged sshd process (its parent). On
// open_session it starts the login's holder, which builds the jail, and
// returns once the jail is ready or has failed; on close_session it asks
// the holder to end the jail. Other PAM_TYPEs are no-ops.
func PAMHook(cfg *config.Config, cfgPath string, env func(string) string) error {
	user := env("PAM_USER")
	switch env("PAM_TYPE") {
	case "open_session":
		if user == "" {
			return errors.New("pam-hook: PAM_USER is not set")
		}
		return startHolder(cfgPath, user, env("PAM_RHOST"), os.Getppid())
	case "close_session":
		return closeHolder(cfg, os.Getppid())
	default:
		return nil
	}
}

// startHolder runs `loginjail-session pam-holder` detached (its own session, stdio
// not pam_exec's pipes) and waits for its one line: "ok" or the error.
func startHolder(cfgPath, user, rhost string, monitor int) error {
	start, err := jail.ProcStartTime(monitor)
	if err != nil {
		return fmt.Errorf("pam-hook: sshd process %d: %w", monitor, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pam-hook: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return err
	}
	defer devnull.Close()
	// The holder, and the jail init it starts, are the small session
	// binary: each login execs it, not the whole loginjail.
	bin, err := sessionbin.Open()
	if err != nil {
		return fmt.Errorf("pam-hook: %w", err)
	}
	defer bin.Close()
	if bin.Fallback {
		slog.Warn(bin.Missing, "event", "pam.session_binary")
	}
	cmd := exec.Command(bin.Path(), "pam-holder", "--config", cfgPath, "--user", user, "--rhost", rhost,
		"--sshd-pid", strconv.Itoa(monitor), "--sshd-start", strconv.FormatUint(start, 10))
	cmd.Args[0] = sessionbin.Name
	// None of pam_exec's pipes or log file: pam_exec (and so sshd) would
	// wait for their end, which is the end of the whole login.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("pam-hook: start holder: %w", err)
	}
	w.Close()
	cmd.Process.Release()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "ok" {
			return nil
		}
		if s == "" {
			s = "holder exited without a word"
		}
		return fmt.Errorf("pam-hook: user %q: %s", user, s)
	case <-time.After(holderReadyTimeout):
		return fmt.Errorf("pam-hook: user %q: jail not ready after %v", user, holderReadyTimeout)
	}
}

// closeHolder asks the holder of the login whose monitor is our parent to
// end its jail, and waits until it has.
func closeHolder(cfg *config.Config, monitor int) error {
	start, err := jail.ProcStartTime(monitor)
	if err != nil {
		return fmt.Errorf("pam-hook: sshd process %d: %w", monitor, err)
	}
	path := holderSocket(cfg, monitor, start)
	c, err := DialJail(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil // never jailed, or already gone
	}
	if err != nil {
		return fmt.Errorf("pam-hook: %w", err)
	}
	defer c.Close()
	if err := c.Send(&Msg{Type: MsgClose}); err != nil {
		return fmt.Errorf("pam-hook: close: %w", err)
	}
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		if _, files, err := c.Recv(); err != nil {
			return nil // the holder closed the connection: done
		} else {
			closeFiles(files)
		}
	}
}

// HolderOptions is a `loginjail pam-holder`.
type HolderOptions struct {
	Config    *config.Config
	User      string
	RHost     string
	SSHDPid   int
	SSHDStart uint64
	Ready     *os.File // gets "ok\n" or the error, then is closed
}

// RemoteAddr parses PAM_RHOST for policy matching (it may be a name).
func remoteAddr(rhost string) netip.Addr {
	a, _ := netip.ParseAddr(rhost)
	return a
}

// RunHolder builds the login's jail and serves its shell clients until
// close_session, the sshd process's end with no client left, or the
// jail's end.
func RunHolder(ctx context.Context, o HolderOptions) error {
	s, err := Open(ctx, o.Config, Login{User: o.User, Remote: remoteAddr(o.RHost), RemoteStr: o.RHost, Frontdoor: FrontdoorPAM})
	if err != nil {
		fmt.Fprintf(o.Ready, "%s\n", oneLine(err))
		o.Ready.Close()
		return err
	}
	h, err := newHolder(o, s)
	if err != nil {
		s.Close()
		fmt.Fprintf(o.Ready, "%s\n", oneLine(err))
		o.Ready.Close()
		return err
	}
	fmt.Fprintln(o.Ready, "ok")
	o.Ready.Close()
	return h.serve()
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
