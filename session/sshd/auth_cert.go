package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/session"
)

// Critical options a certificate may carry; any other refuses it, as
// OpenSSH does.
var certCriticalOptions = []string{"force-command", "source-address"}

// checkCertificate decides whether a user certificate logs in as who, as
// OpenSSH's sshd does: signed by a CA of trusted_user_ca_keys (principals
// from authorized_principals_file, or the user name) or of a
// cert-authority line of the user's authorized_keys or
// authorized_keys_command (principals= of that line, or the user name);
// valid now; source-address admitting the client. The options it returns
// are the login's: the line's, with force-command and the absent permit-*
// extensions added.
func (c *conn) checkCertificate(who *session.Identity, cert *ssh.Certificate) (*keyOptions, error) {
	if cert.CertType != ssh.UserCert {
		return nil, errors.New("certificate is not a user certificate")
	}
	opts, principals, err := c.certAuthority(who, cert)
	if err != nil {
		return nil, err
	}
	var principal string
	for _, p := range cert.ValidPrincipals {
		if slices.Contains(principals, p) {
			principal = p
			break
		}
	}
	if principal == "" {
		// Stricter than x/crypto, whose CheckCert takes a certificate
		// without principals for anyone.
		return nil, fmt.Errorf("certificate principals %q include none of %q", cert.ValidPrincipals, principals)
	}
	checker := &ssh.CertChecker{
		SupportedCriticalOptions: certCriticalOptions,
		// certAuthority has decided which CA is trusted, and for whom.
		IsUserAuthority: func(ssh.PublicKey) bool { return true },
		IsRevoked:       func(cert *ssh.Certificate) bool { return c.checkRevoked(cert) != nil },
	}
	if err := checker.CheckCert(principal, cert); err != nil {
		return nil, fmt.Errorf("certificate %q serial %d: %w", cert.KeyId, cert.Serial, err)
	}
	if sa, ok := cert.CriticalOptions["source-address"]; ok && !sourceAddressAllows(sa, c.remote.Addr()) {
		return nil, fmt.Errorf("certificate source-address %q does not admit the client address", sa)
	}
	if fc, ok := cert.CriticalOptions["force-command"]; ok {
		if opts.Command != "" && opts.Command != fc {
			return nil, errors.New("certificate force-command and the key line's command= disagree")
		}
		opts.Command = fc
	}
	has := func(ext string) bool { _, ok := cert.Extensions[ext]; return ok }
	opts.NoPty = opts.NoPty || !has("permit-pty")
	opts.NoPortFwd = opts.NoPortFwd || !has("permit-port-forwarding")
	opts.NoAgentFwd = opts.NoAgentFwd || !has("permit-agent-forwarding")
	opts.NoX11Fwd = opts.NoX11Fwd || !has("permit-X11-forwarding")
	opts.NoUserRC = opts.NoUserRC || !has("permit-user-rc")
	return opts, nil
}

// certAuthority finds who trusts the certificate's CA for who: the
// options of the trusting line and the principals a certificate must
// carry one of.
func (c *conn) certAuthority(who *session.Identity, cert *ssh.Certificate) (*keyOptions, []string, error) {
	s := &c.cfg.Server
	var errs []error
	if s.TrustedUserCAKeys != "" {
		cas, err := readKeySet(s.TrustedUserCAKeys)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("trusted_user_ca_keys: %w", err))
		case cas.has(cert.SignatureKey):
			names := []string{who.Name}
			if path := s.AuthorizedPrincipalsPath(who.Name, who.Home); path != "" {
				if names, err = readPrincipals(path, who); err != nil {
					return nil, nil, err
				}
			}
			return &keyOptions{}, names, nil
		}
	}
	opts, err := findAuthorizedKey(s.AuthorizedKeysFiles(who.Name, who.Home), who.UID, who.Home, cert.SignatureKey, true)
	if opts == nil && s.AuthorizedKeysCommand != "" {
		var out []byte
		if out, err = c.runKeysCommand(who, cert); err == nil {
			opts, err = matchKeyLines(out, "authorized_keys_command", cert.SignatureKey, true)
		}
	}
	if opts == nil {
		errs = append(errs, err, fmt.Errorf("certificate signed by CA %s, which neither trusted_user_ca_keys nor a cert-authority line trusts",
			ssh.FingerprintSHA256(cert.SignatureKey)))
		return nil, nil, errors.Join(errs...)
	}
	names := opts.Principals
	if len(names) == 0 {
		names = []string{who.Name}
	}
	return opts, names, nil
}

// readPrincipals reads an authorized_principals_file: one name a line,
// "#" comments; read with authorized_keys' ownership and mode checks. A
// missing file accepts nobody.
func readPrincipals(path string, who *session.Identity) ([]string, error) {
	data, err := readAuthorizedKeys(path, who.UID, who.Home)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("authorized_principals_file %s does not exist: no principal accepted", path)
	}
	if err != nil {
		return nil, fmt.Errorf("authorized_principals_file: %w", err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		names = append(names, line)
	}
	return names, sc.Err()
}

// sourceAddressAllows applies a certificate's source-address: a comma
// list of addresses and CIDRs the client must be in.
func sourceAddressAllows(list string, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Contains(a) {
			return true
		}
		if ip, err := netip.ParseAddr(p); err == nil && ip.Unmap() == a {
			return true
		}
	}
	return false
}
