package session

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a fresh session id: 8 random hex digits, short enough to
// type after `loginjail enter`.
func NewID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
