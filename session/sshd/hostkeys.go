package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/loginjail/loginjail/config"
)

// Generated host key files under lib_dir, named as OpenSSH names them.
const (
	ed25519KeyFile = "ssh_host_ed25519_key"
	rsaKeyFile     = "ssh_host_rsa_key"
	rsaKeyBits     = 3072
)

// hostKeyPaths is the host key files the server uses: [server] host_keys,
// else the generated ones under lib_dir.
func hostKeyPaths(srv *config.Server) []string {
	if len(srv.HostKeys) > 0 {
		return srv.HostKeys
	}
	return []string{filepath.Join(srv.LibDir, ed25519KeyFile), filepath.Join(srv.LibDir, rsaKeyFile)}
}

// ensureHostKeys generates the ed25519 and RSA host keys under lib_dir
// (dir 0700, keys 0600) when no host_keys are configured and they do not
// exist yet. The listener calls it once at start.
func ensureHostKeys(srv *config.Server) error {
	if len(srv.HostKeys) > 0 {
		return nil
	}
	if err := os.MkdirAll(srv.LibDir, 0o700); err != nil {
		return fmt.Errorf("host keys: %w", err)
	}
	if err := os.Chmod(srv.LibDir, 0o700); err != nil {
		return fmt.Errorf("host keys: %w", err)
	}
	gens := []struct {
		file string
		gen  func() (any, error)
	}{
		{ed25519KeyFile, func() (any, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err }},
		{rsaKeyFile, func() (any, error) { return rsa.GenerateKey(rand.Reader, rsaKeyBits) }},
	}
	for _, g := range gens {
		path := filepath.Join(srv.LibDir, g.file)
		if _, err := os.Stat(path); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("host key %s: %w", path, err)
		}
		key, err := g.gen()
		if err != nil {
			return fmt.Errorf("generate host key %s: %w", path, err)
		}
		if err := writeHostKey(path, key); err != nil {
			return err
		}
		slog.Info("generated host key", "event", evHostKey, "path", path)
	}
	return nil
}

// writeHostKey writes key in OpenSSH format (0600) and its .pub (0644),
// through a temporary file so a crash leaves no half key.
func writeHostKey(path string, key any) error {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return fmt.Errorf("encode host key %s: %w", path, err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return fmt.Errorf("host key %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("write host key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write host key: %w", err)
	}
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
		return fmt.Errorf("write host key: %w", err)
	}
	return nil
}

// loadHostKeys reads the host keys; RSA keys sign with SHA-2 only.
func loadHostKeys(srv *config.Server) ([]ssh.Signer, error) {
	var out []ssh.Signer
	for _, path := range hostKeyPaths(srv) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", path, err)
		}
		switch s.PublicKey().Type() {
		case ssh.KeyAlgoRSA:
			as, ok := s.(ssh.AlgorithmSigner)
			if !ok {
				return nil, fmt.Errorf("host key %s: RSA key cannot choose its signature algorithm", path)
			}
			if s, err = ssh.NewSignerWithAlgorithms(as, rsaHostKeyAlgorithms); err != nil {
				return nil, fmt.Errorf("host key %s: %w", path, err)
			}
		case ssh.KeyAlgoED25519:
		default:
			return nil, fmt.Errorf("host key %s: type %s is not allowed (ed25519 or RSA)", path, s.PublicKey().Type())
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no host keys")
	}
	return out, nil
}
