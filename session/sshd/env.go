package sshd

import (
	"path"
	"strings"
)

// acceptEnv reports whether a client may set name: it must match one of
// the accept_env globs (OpenSSH AcceptEnv) and be a plain variable name.
func acceptEnv(patterns []string, name string) bool {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return false
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
