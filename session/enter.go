package session

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/loginjail/loginjail/jail"
)

// EnterOptions is a `loginjail enter`.
type EnterOptions struct {
	Target string // session id or user
	Root   bool   // as the jail's root instead of the session user
	// Privileged skips the session's confinement (cgroup, rlimits,
	// bounding set, no_new_privs, seccomp): logged, for repairs only.
	Privileged bool
	Argv       []string // empty = the session's login shell
	Stdin      *os.File
	Stdout     *os.File
	Stderr     *os.File
}

// Enter runs a command or shell in a live jail and returns its exit
// status. A user with several sessions is asked which one (or, without a
// terminal, told their ids).
func (g *Registry) Enter(o EnterOptions) (int, error) {
	recs, err := g.Find(o.Target)
	if err != nil {
		return 1, err
	}
	r := recs[0]
	if len(recs) > 1 {
		if r, err = choose(recs, o); err != nil {
			return 1, err
		}
	}
	h, err := jail.OpenInit(r.Pid, r.StartTime)
	if err != nil {
		return 1, fmt.Errorf("session %s: %w", r.ID, err)
	}
	defer h.Close()

	tty := term.IsTerminal(int(o.Stdin.Fd()))
	es := jail.EnterSpec{UID: r.InsideUID, GID: r.InsideGID, Groups: r.InsideGroups, HostGroups: r.HostGroups, Dir: r.Home, Env: r.Env, Tty: tty,
		SessionID: r.ID, HostUID: r.UID, Confine: &r.Confine}
	if o.Privileged {
		es.Confine = nil
		slog.Warn("enter --privileged: the process keeps the jail root's capabilities, meets no seccomp filter and no limit",
			"session", r.ID, "user", r.User, "root", o.Root, "by_uid", os.Getuid())
	}
	if o.Root {
		// With the user's groups still: the jail's init, its root, was
		// born with them too.
		es.UID, es.GID, es.Dir = 0, 0, "/root"
		es.Env = replaceEnv(r.Env, "HOME=/root", "USER=root", "LOGNAME=root")
	}
	if term := os.Getenv("TERM"); tty && term != "" {
		es.Env = replaceEnv(es.Env, "TERM="+term)
	}
	es.Argv = o.Argv
	if len(es.Argv) == 0 {
		es.Argv = []string{r.Shell, "-l"}
	}
	if tty {
		es.Rows, es.Cols = terminalSize(o.Stdout)
	}
	cmd, master, err := jail.Enter(h, es, o.Stdin, o.Stdout, o.Stderr)
	if err != nil {
		return 1, fmt.Errorf("session %s: %w", r.ID, err)
	}
	if master != nil {
		defer master.Close()
		t, err := openTerminal(o.Stdin, o.Stdout)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 1, fmt.Errorf("raw mode: %w", err)
		}
		exited := make(chan struct{})
		var werr error
		go func() { werr = cmd.Wait(); close(exited) }()
		t.relay(master, func(rows, cols uint16) {
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
		}, exited)
		<-exited
		t.restore()
		return exitCode(werr)
	}
	return exitCode(cmd.Wait())
}

// choose asks on the terminal which of a user's sessions to enter.
func choose(recs []*Record, o EnterOptions) (*Record, error) {
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if !term.IsTerminal(int(o.Stdin.Fd())) {
		return nil, fmt.Errorf("user %q has %d sessions (%s): %w; name one: loginjail enter ID",
			recs[0].User, len(recs), strings.Join(ids, ", "), ErrAmbiguous)
	}
	fmt.Fprintf(o.Stderr, "user %s has %d sessions:\n", recs[0].User, len(recs))
	for _, r := range recs {
		fmt.Fprintf(o.Stderr, "  %s  started %s  %s  %s\n", r.ID, r.Started.Local().Format("15:04:05"), r.Frontdoor, r.Remote)
	}
	fmt.Fprint(o.Stderr, "session id: ")
	line, err := bufio.NewReader(o.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return nil, errors.New("no session chosen")
	}
	want := strings.TrimSpace(line)
	for _, r := range recs {
		if r.ID == want {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%q is not one of %s", want, strings.Join(ids, ", "))
}

// replaceEnv sets each "K=V" in env, replacing an earlier K.
func replaceEnv(env []string, kvs ...string) []string {
	out := append([]string(nil), env...)
	for _, kv := range kvs {
		k, _, _ := strings.Cut(kv, "=")
		found := false
		for i, e := range out {
			if strings.HasPrefix(e, k+"=") {
				out[i], found = kv, true
			}
		}
		if !found {
			out = append(out, kv)
		}
	}
	return out
}

func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 1, err
}
