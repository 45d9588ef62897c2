package config

import (
	"fmt"
	"strings"
)

// Authentication method names, as in OpenSSH's AuthenticationMethods.
const (
	MethodPublickey = "publickey"
	MethodPassword  = "password"
	MethodKbd       = "keyboard-interactive"
)

// MethodEnabled reports whether the method's own switch
// (pubkey_authentication, password_authentication,
// kbd_interactive_authentication) is on.
func (s *Server) MethodEnabled(m string) bool {
	switch m {
	case MethodPublickey:
		return s.PubkeyAuthentication
	case MethodPassword:
		return s.PasswordAuthentication
	case MethodKbd:
		return s.KbdInteractiveAuthentication
	}
	return false
}

// normMethod maps OpenSSH's submethod spelling "keyboard-interactive:pam"
// to the method (PAM is the only device here).
func normMethod(m string) string {
	if m == MethodKbd+":pam" {
		return MethodKbd
	}
	return m
}

// parseMethodList splits one authentication_methods entry.
func parseMethodList(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		switch normMethod(m) {
		case MethodPublickey, MethodPassword, MethodKbd:
			out = append(out, normMethod(m))
		default:
			return nil, fmt.Errorf("%q: unknown method %q (want publickey, password, keyboard-interactive)", s, m)
		}
	}
	return out, nil
}

// MethodLists is authentication_methods with every list usable as
// configured (all its methods enabled); nil when the option is empty:
// then any one enabled method is enough.
func (s *Server) MethodLists() [][]string {
	var out [][]string
	for _, e := range s.AuthenticationMethods {
		l, err := parseMethodList(e)
		if err != nil {
			continue // Validate reported it
		}
		usable := true
		for _, m := range l {
			usable = usable && s.MethodEnabled(m)
		}
		if usable {
			out = append(out, l)
		}
	}
	return out
}

// NextMethods is OpenSSH's partial success: with done the methods that
// have succeeded so far, in order, it reports whether some list is
// complete, and otherwise which methods may come next (each list must be
// followed in its order). With no lists, one enabled method completes.
func (s *Server) NextMethods(done []string) (complete bool, next []string) {
	lists := s.MethodLists()
	if len(s.AuthenticationMethods) == 0 {
		if len(done) > 0 {
			return true, nil
		}
		for _, m := range []string{MethodPublickey, MethodPassword, MethodKbd} {
			if s.MethodEnabled(m) {
				next = append(next, m)
			}
		}
		return false, next
	}
lists:
	for _, l := range lists {
		if len(l) < len(done) {
			continue
		}
		for i, m := range done {
			if l[i] != m {
				continue lists
			}
		}
		if len(l) == len(done) {
			return true, nil
		}
		if m := l[len(done)]; !contains(next, m) {
			next = append(next, m)
		}
	}
	return false, next
}
