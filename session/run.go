package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/jail"
)

// RunOptions is a `loginjail run`: a jail for User from the command line.
type RunOptions struct {
	Config   *config.Config
	User     string
	Net      string   // "" = the policy's
	Hostname string   // "" = the policy's template
	Argv     []string // empty = the login shell
	Stdin    *os.File
	Stdout   *os.File
	Stderr   *os.File
}

// stopGrace is how long a session's leftover processes get between SIGTERM
// and SIGKILL once its main process has ended.
const stopGrace = time.Second

// Run builds the jail, runs the command or login shell in it with the
// caller's terminal or pipes, tears everything down and returns the exit
// status (128+N for a signal).
func Run(ctx context.Context, o RunOptions) (int, error) {
	s, err := Open(ctx, o.Config, Login{User: o.User, Frontdoor: FrontdoorRun, Net: o.Net, Hostname: o.Hostname})
	if err != nil {
		return 1, err
	}
	defer func() {
		if err := s.Close(); err != nil {
			slog.Warn("close session", "session", s.ID, "err", err)
		}
	}()
	tty := term.IsTerminal(int(o.Stdin.Fd()))
	ps := s.LoginShell("", os.Getenv("TERM"), tty)
	if len(o.Argv) > 0 {
		ps.Argv, ps.Arg0 = o.Argv, ""
	}
	j := s.Jail
	if tty {
		return runWithTerminal(j, ps, o)
	}
	return runWithPipes(j, ps, o)
}

func newRecord(spec *jail.Spec, res *config.Resolved, who *Identity, shell string, env []string, door, remote string) (*Record, error) {
	ownerStart, err := jail.ProcStartTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	return &Record{
		ID: spec.ID, User: who.Name, UID: who.UID, Hostname: spec.Hostname,
		Net: res.Jail.Network.Mode, Remote: remote, Started: time.Now().UTC(),
		Frontdoor: door, Policy: res.Policy,
		Owner: os.Getpid(), OwnerStart: ownerStart, SessionDir: spec.SessionDir,
		Home: spec.Home, Shell: shell, InsideUID: spec.InsideUID(), InsideGID: spec.InsideGID(),
		SubUID: spec.SubUID, SubGID: spec.SubGID, Env: env,
		HostGroups: spec.Groups, InsideGroups: spec.InsideGroups(),
		Network: spec.Network, Confine: spec.Confine,
	}, nil
}

// runWithPipes hands the caller's own stdin, stdout and stderr to the
// jailed process, so bytes pass exactly and EOF is the caller's.
func runWithPipes(j *jail.Jail, ps jail.ProcSpec, o RunOptions) (int, error) {
	p, err := j.Spawn(ps, []*os.File{o.Stdin, o.Stdout, o.Stderr})
	if err != nil {
		return 1, err
	}
	stop := forwardSignals(func(sig syscall.Signal) { p.Signal(sig) })
	defer stop()
	return waitStatus(p)
}

// runWithTerminal relays the caller's terminal to a pty of the jail's own.
func runWithTerminal(j *jail.Jail, ps jail.ProcSpec, o RunOptions) (int, error) {
	ps.Rows, ps.Cols = terminalSize(o.Stdout)
	p, err := j.Spawn(ps, nil)
	if err != nil {
		return 1, err
	}
	defer p.Pty.Close()
	t, err := openTerminal(o.Stdin, o.Stdout)
	if err != nil {
		p.Signal(syscall.SIGHUP)
		return 1, fmt.Errorf("raw mode: %w", err)
	}
	defer t.restore()
	stop := forwardSignals(func(sig syscall.Signal) { p.Signal(sig) })
	defer stop()
	t.relay(p.Pty, func(r, c uint16) {
		unix.IoctlSetWinsize(int(p.Pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: r, Col: c})
	}, p.Done())
	return waitStatus(p)
}

// forwardSignals passes the termination signals the caller gets on to
// deliver (the jailed process, or the holder that runs it), as a shell
// passes them to its foreground job.
func forwardSignals(deliver func(syscall.Signal)) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				deliver(s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func waitStatus(p *jail.Process) (int, error) {
	st, err := p.Wait()
	if err != nil && !errors.Is(err, jail.ErrJailGone) {
		return 1, err
	}
	return st.Code, nil
}
