package session

import (
	"fmt"
	"path/filepath"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/jail"
)

// configDir is hidden from every jail: it may name other users' policies.
const configDir = "/etc/loginjail"

// SpecFor turns a resolved policy and an identity into the jail spec for
// session id. It is pure, so the mapping from policy to jail is
// table-tested without root.
func SpecFor(cfg *config.Config, r *config.Resolved, who *Identity, ids config.SubIDs, id string) (*jail.Spec, error) {
	network, err := NetworkFor(cfg, r, id)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", who.Name, err)
	}
	spec := &jail.Spec{
		Network:        network,
		ID:             id,
		User:           who.Name,
		UID:            who.UID,
		GID:            who.GID,
		Home:           filepath.Clean(who.Home),
		SubUID:         ids.UIDStart,
		SubGID:         ids.GIDStart,
		UserMode:       r.Jail.UserMode,
		Groups:         who.Groups,
		AllowSetgroups: r.Jail.AllowSetgroups,
		Rootfs:         r.Jail.Rootfs,
		Hostname:       config.ExpandHostname(r.Jail.Hostname, who.Name, id),
		TmpSize:        int64(r.Jail.TmpSize),
		Hide:           hiddenPaths(cfg, r),
		SessionDir:     filepath.Join(cfg.Server.StateDir, "sessions", id),
	}
	if spec.Confine, err = ConfinementFor(r); err != nil {
		return nil, fmt.Errorf("user %q: %w", who.Name, err)
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("user %q: %w", who.Name, err)
	}
	return spec, nil
}

// ConfinementFor maps the policy's limits, capabilities and seccomp keys
// onto the jail's confinement.
func ConfinementFor(r *config.Resolved) (jail.Confinement, error) {
	l := r.Jail.Limits
	caps, err := jail.ResolveCaps(r.Jail.UserMode, r.Jail.CapsAdd, r.Jail.CapsDrop)
	if err != nil {
		return jail.Confinement{}, err
	}
	return jail.Confinement{
		Limits: jail.Limits{
			Memory: int64(l.Memory), Swap: int64(l.Swap), Pids: int64(l.Pids), CPU: l.CPU,
			IOWeight: uint64(l.IOWeight), Nofile: uint64(l.Nofile), Nproc: uint64(l.Nproc),
			BestEffort: l.BestEffort, PerUser: l.PerUser,
		},
		Caps: caps,
		Seccomp: jail.Seccomp{
			Off:          r.Jail.Seccomp == "off",
			Deny:         r.Jail.SeccompDeny,
			NestedUserns: r.Jail.NestedUserns,
		},
	}, nil
}

// hiddenPaths are loginjail's own state, keys and config, and the policy's
// extras.
func hiddenPaths(cfg *config.Config, r *config.Resolved) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append([]string{cfg.Server.StateDir, cfg.Server.LibDir, configDir}, r.Jail.Hide...) {
		p = filepath.Clean(p)
		if !seen[p] && p != "/" {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// LoginEnv is the environment a login gets inside the jail, as sshd and
// login(1) set it.
func LoginEnv(r *config.Resolved, who *Identity, spec *jail.Spec, shell, term string) []string {
	user, home := who.Name, who.Home
	if spec.UserMode == jail.UserModeRoot {
		// The user is root inside; tools that trust $USER should agree.
		user, home = "root", who.Home
	}
	env := []string{
		"HOME=" + home,
		"USER=" + user,
		"LOGNAME=" + user,
		"SHELL=" + shell,
		"PATH=" + r.Jail.Path,
		"LANG=" + r.Jail.Lang,
		"XDG_RUNTIME_DIR=" + spec.RuntimeDir(),
	}
	if term != "" {
		env = append(env, "TERM="+term)
	}
	return env
}

// ShellFor is the policy's shell, else the user's login shell, else
// /bin/sh.
func ShellFor(r *config.Resolved, who *Identity) string {
	switch {
	case r.Jail.Shell != "":
		return r.Jail.Shell
	case who.Shell != "":
		return who.Shell
	default:
		return "/bin/sh"
	}
}
