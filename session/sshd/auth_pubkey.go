package sshd

import (
	"errors"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
	"github.com/loginjail/loginjail/session/pamauth"
)

// checkPublicKey answers whether key may log in as the user: the user
// passes allow/deny and the root policy; the key is not revoked; it is
// on a line of their authorized_keys (read with StrictModes checks) or of
// authorized_keys_command's output, or it is a certificate of a trusted
// CA (auth_cert.go); the line's from= admits the client and its
// expiry-time has not passed. x/crypto calls it once per key offered.
func (c *conn) checkPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	user, fp := meta.User(), ssh.FingerprintSHA256(key)
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		fp = ssh.FingerprintSHA256(cert.Key)
	}
	who, err := c.lookupUser(user, config.MethodPublickey)
	if err != nil {
		return nil, c.failed(user, "publickey", fp, err)
	}
	if err := c.checkRevoked(key); err != nil {
		return nil, c.failed(user, "publickey", fp, err)
	}
	var opts *keyOptions
	if isCert {
		opts, err = c.checkCertificate(who, cert)
	} else {
		opts, err = c.findKey(who, key)
	}
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
	if who.UID == 0 {
		if ok, why := c.cfg.Server.PermitRootLogin.Allows(config.MethodPublickey, opts.Command != ""); !ok {
			return nil, c.failed(user, "publickey", fp, errors.New(why))
		}
	}
	if len(opts.Environment) > 0 && !c.cfg.Server.PermitUserEnvironment {
		c.lg().Info("environment= of the key's line ignored (permit_user_environment = false)", "user", user, "key", fp)
		opts.Environment = nil
	}
	c.keyOK[user+" "+ssh.FingerprintSHA256(key)] = &login{who: who, method: "publickey", keyFP: fp, opts: opts}
	return &ssh.Permissions{}, nil
}

// findKey looks for a plain key in the user's authorized_keys files, then
// in what authorized_keys_command prints (as OpenSSH, in that order).
func (c *conn) findKey(who *session.Identity, key ssh.PublicKey) (*keyOptions, error) {
	s := &c.cfg.Server
	opts, err := findAuthorizedKey(s.AuthorizedKeysFiles(who.Name, who.Home), who.UID, who.Home, key, false)
	if opts != nil || s.AuthorizedKeysCommand == "" {
		return opts, err
	}
	out, cerr := c.runKeysCommand(who, key)
	if cerr != nil {
		return nil, errors.Join(err, cerr)
	}
	o, merr := matchKeyLines(out, "authorized_keys_command", key, false)
	if o != nil {
		return o, nil
	}
	return nil, errors.Join(err, merr)
}

// verifiedPublicKey runs once the client has proven it holds the key:
// PAM's account stack decides (expired account, pam_nologin), as sshd's
// UsePAM does for every method.
func (c *conn) verifiedPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey, perms *ssh.Permissions, _ string) (*ssh.Permissions, error) {
	user := meta.User()
	l := c.keyOK[user+" "+ssh.FingerprintSHA256(key)]
	if l == nil {
		return nil, c.failed(user, "publickey", ssh.FingerprintSHA256(key), errors.New("key was not checked"))
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
		return nil, c.failed(user, "publickey", l.keyFP, err)
	}
	l.pam = tx
	return c.complete(l)
}
