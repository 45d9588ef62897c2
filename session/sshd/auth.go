package sshd

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
	"github.com/loginjail/loginjail/session/pamauth"
)

// serverConfig is the connection's x/crypto configuration: pinned
// algorithms, host keys, and the auth callbacks of auth_pubkey.go and
// auth_pam.go.
// Only the methods that may come first (auth_methods.go) are offered.
func (c *conn) serverConfig(keys []ssh.Signer) *ssh.ServerConfig {
	_, first := c.cfg.Server.NextMethods(nil)
	cb := c.callbacks(first)
	sc := &ssh.ServerConfig{
		MaxAuthTries:                c.cfg.Server.MaxAuthTries,
		PublicKeyCallback:           cb.PublicKeyCallback,
		VerifiedPublicKeyCallback:   c.verifiedPublicKey,
		PasswordCallback:            cb.PasswordCallback,
		KeyboardInteractiveCallback: cb.KeyboardInteractiveCallback,
		BannerCallback:              c.banner,
	}
	applyAlgorithms(sc)
	for _, k := range keys {
		sc.AddHostKey(k)
	}
	return sc
}

// Reasons a login is refused that the admin's log names (the client only
// ever hears "permission denied").
var (
	errUnknownUser = errors.New("no such user")
	errAccess      = errors.New("access refused")
)

// refusal is what a client is told: nothing about why.
var refusal = errors.New("permission denied")

// lookupUser is the account the client names, or why it may not log in
// with method: allow/deny users and groups (OpenSSH's order), then for
// root permit_root_login (a key's forced command is judged later, in
// checkPublicKey). The error names the rule for the log only.
func (c *conn) lookupUser(name, method string) (*session.Identity, error) {
	who, err := session.LookupIdentity(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownUser, err)
	}
	s := &c.cfg.Server
	var groups []string
	if len(s.AllowGroups)+len(s.DenyGroups) > 0 {
		if groups, err = config.GroupsOf(who.Name); err != nil {
			// Groups unknown: a group rule cannot be decided, so refuse.
			return nil, fmt.Errorf("%w: %w", errAccess, err)
		}
	}
	if ok, why := s.CheckUser(who.Name, groups, c.remote.Addr()); !ok {
		return nil, fmt.Errorf("%w: %s", errAccess, why)
	}
	if who.UID == 0 {
		// forced = true: for keys the command is checked once the key's
		// line is known.
		if ok, why := s.PermitRootLogin.Allows(method, true); !ok {
			return nil, fmt.Errorf("%w: %s", errAccess, why)
		}
	}
	return who, nil
}

// failed logs a failed attempt, reports it to the listener and returns
// the client's error.
func (c *conn) failed(user, method, fp string, cause error) error {
	c.failures++
	attrs := []any{"event", evAuthFailure, "user", user, "method", method, "err", oneLine(cause.Error())}
	if fp != "" {
		attrs = append(attrs, "key", fp)
	}
	c.lg().Warn("authentication failed", attrs...)
	if isRefusal(cause) {
		c.status.send(statusRefused, method)
	} else {
		c.status.send(statusFail, method)
	}
	return refusal
}

// isRefusal tells a login refused whatever its credentials (allow/deny
// rules, permit_root_login, an account PAM's account stack turns away)
// from failed credentials.
func isRefusal(err error) bool {
	return errors.Is(err, errAccess) || errors.Is(err, pamauth.ErrDenied) ||
		errors.Is(err, pamauth.ErrAcctExpired) || errors.Is(err, pamauth.ErrAuthtokReqd)
}

// succeeded records l as the connection's login.
func (c *conn) succeeded(l *login) {
	c.abandonPending()
	c.pending = l
	c.authed.Store(true)
	attrs := []any{"event", evAuthSuccess, "user", l.who.Name, "method", l.method}
	if l.keyFP != "" {
		attrs = append(attrs, "key", l.keyFP)
	}
	c.lg().Info("authenticated", attrs...)
}

// maxBanner bounds the banner file.
const maxBanner = 64 << 10

// banner is the [server] banner file, sent before authentication.
func (c *conn) banner(ssh.ConnMetadata) string {
	path := c.cfg.Server.Banner
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		c.lg().Warn("banner", "err", err)
		return ""
	}
	if len(b) > maxBanner {
		b = b[:maxBanner]
	}
	return string(b)
}
