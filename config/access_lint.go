package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"strings"
)

// access finds what loads but would lock logins out or leave a check
// undone: no way to authenticate, a revoked_keys file in the KRL format
// (refused by the server, which would then refuse every key), CA and
// revoked key files that are missing, and an authorized_keys_command that
// cannot run as its user.
func (l *linter) access() {
	s := &l.c.Server
	if len(s.AuthenticationMethods) > 0 && len(s.MethodLists()) == 0 {
		l.add(l.line("server", "authentication_methods"), false,
			"authentication_methods: no list can be completed with the methods enabled (pubkey_authentication, password_authentication, kbd_interactive_authentication): nobody can log in")
	}
	if len(s.AuthenticationMethods) == 0 && !s.PubkeyAuthentication && !s.PasswordAuthentication && !s.KbdInteractiveAuthentication {
		l.add(l.line("server", "pubkey_authentication"), false, "every authentication method is off: nobody can log in")
	}
	if s.RevokedKeys != "" {
		data, err := os.ReadFile(s.RevokedKeys)
		switch {
		case errors.Is(err, fs.ErrPermission) && !l.o.Privileged:
		case err != nil:
			l.add(l.line("server", "revoked_keys"), false, "revoked_keys %s cannot be read: %v; the server refuses every key until it can", s.RevokedKeys, unwrapPathErr(err))
		case bytes.HasPrefix(data, []byte("SSHKRL\n\x00")):
			l.add(l.line("server", "revoked_keys"), false, "revoked_keys %s is a binary KRL, which loginjail does not read (every key would be refused): list the revoked public keys, one per line", s.RevokedKeys)
		}
	}
	if s.TrustedUserCAKeys != "" {
		if _, err := os.Stat(s.TrustedUserCAKeys); err != nil {
			l.add(l.line("server", "trusted_user_ca_keys"), false, "trusted_user_ca_keys %s: %v: no certificate can log in through it", s.TrustedUserCAKeys, unwrapPathErr(err))
		}
	}
	if s.AuthorizedKeysCommand != "" {
		prog := strings.Fields(s.AuthorizedKeysCommand)[0]
		if fi, err := os.Stat(prog); err != nil {
			l.add(l.line("server", "authorized_keys_command"), false, "authorized_keys_command %s: %v", prog, unwrapPathErr(err))
		} else if fi.Mode()&0o022 != 0 {
			l.add(l.line("server", "authorized_keys_command"), false, "authorized_keys_command %s is writable by group or others: anyone who can change it decides who logs in", prog)
		}
		if name := s.AuthorizedKeysCommandUser; name != "" {
			u, err := user.Lookup(name)
			switch {
			case err != nil:
				l.add(l.line("server", "authorized_keys_command_user"), false, "authorized_keys_command_user %q: %v", name, err)
			case u.Uid == "0":
				l.add(l.line("server", "authorized_keys_command_user"), false, "authorized_keys_command_user %q is uid 0: the command never runs as root", name)
			}
		}
	}
}
