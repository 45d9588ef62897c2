package sshd

import (
	"errors"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/config"
)

// evAuthPartial marks a method that succeeded while authentication_methods
// asks for more (OpenSSH's "Partial publickey for ...").
const evAuthPartial = "auth.partial"

// callbacks are the x/crypto callbacks of the methods a client may try
// next; the others stay nil, so the server does not offer them.
func (c *conn) callbacks(methods []string) ssh.ServerAuthCallbacks {
	var cb ssh.ServerAuthCallbacks
	for _, m := range methods {
		switch m {
		case config.MethodPublickey:
			cb.PublicKeyCallback = c.checkPublicKey
		case config.MethodPassword:
			cb.PasswordCallback = c.authPassword
		case config.MethodKbd:
			cb.KeyboardInteractiveCallback = c.authKeyboardInteractive
		}
	}
	return cb
}

// complete takes a method that succeeded (PAM account checked). Without
// authentication_methods that is the login; with it, the login needs a
// whole list: until then the client hears "partial success" and the
// methods that may come next.
func (c *conn) complete(l *login) (*ssh.Permissions, error) {
	done := append(slices.Clip(c.methodsDone), l.method)
	complete, next := c.cfg.Server.NextMethods(done)
	if !complete && len(next) == 0 {
		l.closePAM(c)
		return nil, c.failed(l.who.Name, l.method, l.keyFP, errors.New("method not allowed here by authentication_methods"))
	}
	if prev := c.pending; prev != nil {
		if prev.who.UID != l.who.UID {
			l.closePAM(c)
			return nil, c.failed(l.who.Name, l.method, l.keyFP, errors.New("user changed during authentication"))
		}
		// The key of an earlier step keeps its options (command=,
		// certificate extensions): the login is as narrow as its key.
		if l.keyFP == "" && prev.keyFP != "" {
			l.keyFP, l.opts = prev.keyFP, prev.opts
		}
		l.method = prev.method + "," + l.method
	}
	c.methodsDone = done
	if complete {
		c.succeeded(l)
		return &ssh.Permissions{}, nil
	}
	// Keep l (and its PAM transaction) as the partial login; the last
	// step's PAM transaction is the one whose session opens.
	c.abandonPending()
	c.pending = l
	attrs := []any{"event", evAuthPartial, "user", l.who.Name, "method", l.method, "next", strings.Join(next, ",")}
	if l.keyFP != "" {
		attrs = append(attrs, "key", l.keyFP)
	}
	c.lg().Info("partial authentication", attrs...)
	return nil, &ssh.PartialSuccessError{Next: c.callbacks(next)}
}

// closePAM ends the PAM transaction of a login that will not be used.
func (l *login) closePAM(c *conn) {
	if l.pam != nil {
		tx := l.pam
		c.thread.do(func() { tx.Close() })
		l.pam = nil
	}
}
