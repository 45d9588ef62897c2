package sshd

import "golang.org/x/crypto/ssh"

// Algorithm lists, set explicitly: x/crypto's defaults still carry SHA-1
// and NIST curves. Order is preference.
var (
	// kexAlgorithms: the post-quantum hybrid first, then X25519 (RFC 8731,
	// with the pre-RFC libssh name old clients send).
	kexAlgorithms = []string{
		ssh.KeyExchangeMLKEM768X25519,
		ssh.KeyExchangeCurve25519,
		"curve25519-sha256@libssh.org",
	}
	// cipherAlgorithms: AEAD only.
	cipherAlgorithms = []string{
		ssh.CipherChaCha20Poly1305,
		ssh.CipherAES256GCM,
		ssh.CipherAES128GCM,
	}
	// macAlgorithms: encrypt-then-MAC only; AEAD ciphers ignore them.
	macAlgorithms = []string{
		ssh.HMACSHA256ETM,
		ssh.HMACSHA512ETM,
	}
	// rsaHostKeyAlgorithms: the RSA host key signs with SHA-2 only.
	rsaHostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	// userKeyAlgorithms are the signature algorithms accepted from
	// clients' keys (the server-sig-algs list).
	userKeyAlgorithms = []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoSKED25519,
		ssh.KeyAlgoECDSA256,
		ssh.KeyAlgoECDSA384,
		ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoSKECDSA256,
		ssh.KeyAlgoRSASHA512,
		ssh.KeyAlgoRSASHA256,
	}
)

// serverVersion is the identification string we announce.
const serverVersion = "SSH-2.0-loginjail"

// applyAlgorithms pins every negotiable list of sc.
func applyAlgorithms(sc *ssh.ServerConfig) {
	sc.KeyExchanges = kexAlgorithms
	sc.Ciphers = cipherAlgorithms
	sc.MACs = macAlgorithms
	sc.PublicKeyAuthAlgorithms = userKeyAlgorithms
	sc.ServerVersion = serverVersion
}
