package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/ssh"
)

// krlMagic opens OpenSSH's binary Key Revocation List format, which this
// server does not read: such a file is refused, never taken as "nothing
// revoked".
var krlMagic = []byte("SSHKRL\n\x00")

// maxKeyList bounds what is read of revoked_keys and trusted_user_ca_keys.
const maxKeyList = 16 << 20

// keySet is a file of public keys (and certificates), one per line, as
// ssh-keygen writes them; options before a key are allowed and ignored.
type keySet map[string]bool

// readKeySet reads path. Lines that are not keys are skipped (OpenSSH
// does the same), a KRL is an error.
func readKeySet(path string) (keySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyList))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if bytes.HasPrefix(data, krlMagic) {
		return nil, fmt.Errorf("%s is a binary KRL (ssh-keygen -k): not supported, list the revoked public keys one per line instead", path)
	}
	set := keySet{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeyList) // grows for a long line
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			continue
		}
		set[string(pk.Marshal())] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return set, nil
}

// has reports whether k is in the set.
func (s keySet) has(k ssh.PublicKey) bool { return s[string(k.Marshal())] }

// errRevoked is a key revoked_keys lists.
var errRevoked = errors.New("key is revoked (revoked_keys)")

// checkRevoked refuses a key revoked_keys lists: the key itself, or for a
// certificate the certificate, its key or the CA that signed it. A
// configured file that cannot be read refuses every key, as OpenSSH's
// sshd does.
func (c *conn) checkRevoked(key ssh.PublicKey) error {
	path := c.cfg.Server.RevokedKeys
	if path == "" {
		return nil
	}
	set, err := readKeySet(path)
	if err != nil {
		return fmt.Errorf("revoked_keys unusable, every key refused: %w", err)
	}
	keys := []ssh.PublicKey{key}
	if cert, ok := key.(*ssh.Certificate); ok {
		keys = append(keys, cert.Key, cert.SignatureKey)
	}
	for _, k := range keys {
		if set.has(k) {
			return errRevoked
		}
	}
	return nil
}
