package config

import (
	"bytes"
	"encoding/binary"
	"encoding/pem"
	"path/filepath"
	"strings"
)

// Host key types, as SSH names them.
const (
	KeyTypeED25519 = "ssh-ed25519"
	KeyTypeRSA     = "ssh-rsa"
)

// HostKeyTypeAllowed reports whether `loginjail sshd` serves a host key of
// this type: ed25519 and RSA (signing with SHA-2) only. NIST-curve ECDSA
// keys are refused, like the NIST key exchanges.
func HostKeyTypeAllowed(typ string) bool {
	return typ == KeyTypeED25519 || typ == KeyTypeRSA
}

// HostKeyType returns the SSH type of a private key file's content
// ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...), or "" when it
// cannot tell. It reads only what is never encrypted: the PEM block type,
// or the public key inside an OpenSSH "openssh-key-v1" key.
func HostKeyType(data []byte) string {
	block, _ := pem.Decode(data)
	if block == nil {
		return ""
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return KeyTypeRSA
	case "EC PRIVATE KEY":
		return "ecdsa-sha2"
	case "OPENSSH PRIVATE KEY":
	default:
		return ""
	}
	// openssh-key-v1: magic, then strings cipher, kdf, kdf options, a
	// uint32 key count and the first public key, whose first string is
	// its type (PROTOCOL.key in OpenSSH's source).
	b, ok := bytes.CutPrefix(block.Bytes, []byte("openssh-key-v1\x00"))
	if !ok {
		return ""
	}
	next := func() ([]byte, bool) {
		if len(b) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(len(b)-4) < uint64(n) {
			return nil, false
		}
		s := b[4 : 4+n]
		b = b[4+n:]
		return s, true
	}
	for i := 0; i < 3; i++ {
		if _, ok := next(); !ok {
			return ""
		}
	}
	if len(b) < 4 {
		return ""
	}
	b = b[4:]
	pub, ok := next()
	if !ok {
		return ""
	}
	b = pub
	typ, ok := next()
	if !ok {
		return ""
	}
	return string(typ)
}

// KeygenType is the ssh-keygen -t argument that makes a key of the type a
// host key file has (typ from HostKeyType, "" when unknown) or, failing
// that, that its name suggests (OpenSSH's ssh_host_rsa_key,
// ssh_host_ecdsa_key): "rsa", "ecdsa" or "ed25519".
func KeygenType(path, typ string) string {
	switch {
	case typ == KeyTypeRSA:
		return "rsa"
	case strings.HasPrefix(typ, "ecdsa-"):
		return "ecdsa"
	case typ == KeyTypeED25519:
		return "ed25519"
	}
	name := filepath.Base(path)
	switch {
	case strings.Contains(name, "rsa"):
		return "rsa"
	case strings.Contains(name, "ecdsa"):
		return "ecdsa"
	}
	return "ed25519"
}

// KeygenCommand is the command that makes a new host key at path of the
// type it should have (see KeygenType); RSA keys get 3072 bits, as
// loginjail's own and OpenSSH's.
func KeygenCommand(path, typ string) string {
	t := KeygenType(path, typ)
	bits := ""
	if t == "rsa" {
		bits = " -b 3072"
	}
	return "ssh-keygen -t " + t + bits + " -N '' -f " + path
}
