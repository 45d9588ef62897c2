package sshd

import (
	"errors"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/session/pamauth"
)

// checkPublicKey answers whether key may log in as the user: it is on a
// line of their authorized_keys (read with StrictModes checks) whose
// from= admits the client and whose expiry-time has not passed. x/crypto
// calls it for a client's query and again before checking a signature.
func (c *conn) checkPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	user, fp := meta.User(), ssh.FingerprintSHA256(key)
	who, err := c.lookupUser(user)
	if err != nil {
		return nil, c.failed(user, "publickey", fp, err)
	}
	files := c.cfg.Server.AuthorizedKeysFiles(who.Name, who.Home)
	opts, err := findAuthorizedKey(files, who.UID, who.Home, key)
	switch {
	case opts == nil && err != nil:
		return nil, c.failed(user, "publickey", fp, err)
	case opts == nil:
		return nil, c.failed(user, "publickey", fp, errors.New("key not in authorized_keys"))
	case !opts.allowsFrom(c.remote.Addr()):
		return nil, c.failed(user, "publickey", fp, errors.New("from= of the key's line does not match the client address"))
	case !opts.Expiry.IsZero() && time.Now().After(opts.Expiry):
		return nil, c.failed(user, "publickey", fp, errors.New("key's expiry-time has passed"))
	}
	if len(opts.Environment) > 0 && !c.cfg.Server.PermitUserEnvironment {
		c.lg().Info("environment= of the key's line ignored (permit_user_environment = false)", "user", user, "key", fp)
		opts.Environment = nil
	}
	c.keyOK[user+" "+fp] = &login{who: who, method: "publickey", keyFP: fp, opts: opts}
	return &ssh.Permissions{}, nil
}

// verifiedPublicKey runs once the client has proven it holds the key:
// PAM's account stack decides (expired account, pam_nologin), as sshd's
// UsePAM does for every method.
func (c *conn) verifiedPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey, perms *ssh.Permissions, _ string) (*ssh.Permissions, error) {
	user, fp := meta.User(), ssh.FingerprintSHA256(key)
	l := c.keyOK[user+" "+fp]
	if l == nil {
		return nil, c.failed(user, "publickey", fp, errors.New("key was not checked"))
	}
	var tx *pamauth.Tx
	var err error
	c.thread.do(func() {
		if tx, err = pamauth.Start(c.cfg.Server.PAMService, user, c.remote.Addr().String()); err != nil {
			return
		}
		if err = tx.Account(); err != nil {
			tx.Close()
		}
	})
	if err != nil {
		return nil, c.failed(user, "publickey", fp, err)
	}
	l.pam = tx
	c.succeeded(l)
	return perms, nil
}
