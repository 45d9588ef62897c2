package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/subid"
	"github.com/loginjail/loginjail/jail"
)

// Login is who is logging in, from where and through which front door:
// everything the policy and the jail are chosen by.
type Login struct {
	User      string
	Remote    netip.Addr // zero for `run`
	RemoteStr string     // as ps shows it ("192.0.2.7:51234"); "" for `run`
	Frontdoor string     // FrontdoorSSHD, FrontdoorPAM or FrontdoorRun
	Net       string     // "" = the policy's network mode
	Hostname  string     // "" = the policy's template
	// KeepAlive makes the jail outlive the process that opened it (PAM
	// mode); otherwise the jail ends when that process goes.
	KeepAlive bool
	// Policy is the login's policy when the front door has resolved it
	// already (Resolve), so that what it decided by (forwarding, sharing)
	// and the jail it gets come from one resolution; nil: Open resolves.
	Policy *config.Resolved
	// Activity is the front door's record of the client's input, which
	// the registry then keeps for `ps` IDLE; nil: a new one (no relay
	// touches it, so the session looks idle since login).
	Activity *Activity
}

// Resolve is the login's policy: the first [[policy]] matching the user,
// their groups and the remote address, with the login's own Net and
// Hostname laid over it. A login resolves it once.
func Resolve(cfg *config.Config, l Login) (*config.Resolved, error) {
	groups, err := config.GroupsOf(l.User)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", l.User, err)
	}
	res, err := cfg.Resolve(l.User, groups, l.Remote)
	if err != nil {
		return nil, err
	}
	if l.Net != "" {
		res.Jail.Network.Mode = l.Net
	}
	if l.Hostname != "" {
		res.Jail.Hostname = l.Hostname
	}
	return res, nil
}

// Session is a live jail for one login, registered for ps/enter/kill/gc.
type Session struct {
	ID     string
	Who    *Identity
	Policy *config.Resolved
	Spec   *jail.Spec
	Jail   *jail.Jail
	Shell  string
	// Activity is the client's last input: the front door touches it on
	// every read from the client; the registry keeps it for `ps`.
	Activity *Activity
	record   *Record
	registry *Registry
	stopIdle chan struct{}
	stopKeep func() // ends keepOwnFirewall; nil before it started
}

// Open builds the login's jail by its policy (l.Policy, or resolved
// here) and registers it. On error nothing is left: no record, no jail,
// no network.
func Open(ctx context.Context, cfg *config.Config, l Login) (*Session, error) {
	who, err := LookupIdentity(l.User)
	if err != nil {
		return nil, err
	}
	res := l.Policy
	if res == nil {
		if res, err = Resolve(cfg, l); err != nil {
			return nil, err
		}
	}
	ids, err := subid.Source{}.Lookup(subid.User{Name: who.Name, UID: who.UID, GID: who.GID}, res.Jail.SubIDAllocate, slog.Default())
	if err != nil {
		return nil, err
	}
	id := NewID()
	spec, err := SpecFor(cfg, res, who, ids, id)
	if err != nil {
		return nil, err
	}
	spec.KeepAlive = l.KeepAlive
	s := &Session{ID: id, Who: who, Policy: res, Spec: spec, Shell: ShellFor(res, who), registry: NewRegistry(cfg.Server.StateDir)}
	spec.Account = AccountFor(spec, who, s.Shell)
	s.record, err = newRecord(spec, res, who, s.Shell, s.Env(""), l.Frontdoor, l.RemoteStr)
	if err != nil {
		return nil, err
	}
	if err := s.registry.Create(s.record); err != nil {
		return nil, err
	}
	if spec.Network != nil {
		restoreBeforeAttach(cfg)
	}
	s.Jail, err = jail.Start(ctx, spec)
	if err != nil {
		s.registry.Remove(id)
		return nil, fmt.Errorf("session %s for %q: %w", id, l.User, err)
	}
	s.record.Pid, s.record.StartTime = s.Jail.Pid, s.Jail.StartTime
	if s.Jail.Net != nil {
		s.record.IP = s.Jail.Net.IP.String()
	}
	if err := s.registry.Update(s.record); err != nil {
		s.Close()
		return nil, err
	}
	s.Activity, s.stopIdle = l.Activity, make(chan struct{})
	if s.Activity == nil {
		s.Activity = NewActivity()
	}
	go s.registry.persistInput(id, s.Activity, s.stopIdle)
	s.stopKeep = s.keepOwnFirewall()
	slog.Info("session start", "session", id, "user", l.User, "frontdoor", l.Frontdoor, "remote", l.RemoteStr,
		"policy", res.Policy, "pid", s.Jail.Pid, "net", res.Jail.Network.Mode, "ip", s.record.IP)
	return s, nil
}

// Env is the login environment inside the jail, with TERM if given.
func (s *Session) Env(term string) []string {
	return LoginEnv(s.Policy, s.Who, s.Spec, s.Shell, term)
}

// LoginShell is the ProcSpec of the user's login shell (argv[0] with a
// leading '-', as login(1) starts it) or, with cmd, of `shell -c cmd`, as
// sshd runs a command.
func (s *Session) LoginShell(cmd, term string, pty bool) jail.ProcSpec {
	ps := jail.ProcSpec{Env: s.Env(term), Dir: s.Spec.Home, UID: s.Spec.InsideUID(), GID: s.Spec.InsideGID(), Pty: pty}
	if cmd == "" {
		ps.Argv, ps.Arg0 = []string{s.Shell}, "-"+filepath.Base(s.Shell)
	} else {
		ps.Argv = []string{s.Shell, "-c", cmd}
	}
	return ps
}

// Close ends the jail (its processes get stopGrace between SIGTERM and
// SIGKILL) and reclaims everything it had: network, session dir, record.
func (s *Session) Close() error {
	if s.stopKeep != nil {
		s.stopKeep()
	}
	var errs []error
	if s.stopIdle != nil {
		close(s.stopIdle)
		s.stopIdle = nil
	}
	if err := s.Jail.Stop(stopGrace); err != nil {
		errs = append(errs, err)
	}
	if err := s.registry.Reclaim(s.record); err != nil {
		errs = append(errs, err)
	}
	slog.Info("session end", "session", s.ID, "user", s.Who.Name)
	return errors.Join(errs...)
}

// ProcSpec is what a client asked to run (r) as a ProcSpec of s: the
// login shell, `shell -c cmd` or the SFTP server, with the login
// environment under r.Env and the terminal r asks for.
func (s *Session) ProcSpec(r SpawnReq) jail.ProcSpec {
	ps := s.LoginShell(r.Cmd, r.Term, r.Pty)
	if r.SFTP {
		ps = s.SFTPServer()
	}
	// The client's layers (PAM's, SetEnv) may name the host's runtime
	// dir (pam_systemd sets it); the jail has its own.
	ps.Env = MergeEnv(ps.Env, r.Env, []string{"XDG_RUNTIME_DIR=" + s.Spec.RuntimeDir()})
	ps.Pty, ps.Rows, ps.Cols, ps.Termios = r.Pty, r.Rows, r.Cols, r.Termios
	return ps
}

// Listen binds inside the jail's network namespace; "unix" makes an
// agent-style socket owned by the session user and returns its path.
func (s *Session) Listen(network, addr string) (*os.File, string, error) {
	return s.Jail.Listen(network, addr, s.Spec.InsideUID(), s.Spec.InsideGID())
}
