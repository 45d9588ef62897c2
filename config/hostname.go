package config

import (
	"errors"
	"fmt"
	"strings"
)

// MaxHostnameLen is the longest hostname the kernel accepts (HOST_NAME_MAX).
const MaxHostnameLen = 64

// sampleUser and sampleID are the worst cases a hostname template is
// validated with: a 32-character user name using every allowed kind of
// character, and an 8 hex digit session id.
const (
	sampleUser = "a23456789_123456789-123456789_12"
	sampleID   = "0123abcd"
)

// ExpandHostname fills a hostname template: {user} becomes the user name
// and {id} the session id. In the user name, every character that may not
// appear in a hostname (anything but ASCII letters, digits, '-' and '.'),
// notably '_', becomes '-'. The engine uses it to name a jail. The result
// is not truncated: Load checks that the template gives a valid hostname of
// at most MaxHostnameLen characters for any user name of up to 32
// characters of [a-z0-9_-] and an 8 hex digit id.
func ExpandHostname(template, user, id string) string {
	safe := strings.Map(func(r rune) rune {
		if r < 0x80 && (isAlnum(byte(r)) || r == '-' || r == '.') {
			return r
		}
		return '-'
	}, user)
	return strings.NewReplacer("{user}", safe, "{id}", id).Replace(template)
}

// checkHostnameTemplate reports whether template only uses the {user} and
// {id} tokens and expands to a valid hostname for any user name of up to 32
// characters of [a-z0-9_-].
func checkHostnameTemplate(template string) error {
	if template == "" {
		return errors.New("must not be empty")
	}
	rest := strings.NewReplacer("{user}", "", "{id}", "").Replace(template)
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("%q: only the tokens {user} and {id} are allowed", template)
	}
	h := ExpandHostname(template, sampleUser, sampleID)
	if err := checkHostname(h); err != nil {
		return fmt.Errorf("%q expands to %q for a 32-character user name: %w", template, h, err)
	}
	return nil
}

// checkHostname checks an RFC 1123 host name of at most MaxHostnameLen bytes.
func checkHostname(h string) error {
	if len(h) > MaxHostnameLen {
		return fmt.Errorf("longer than %d characters", MaxHostnameLen)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("each dot-separated label must have 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a label may not start or end with '-'")
		}
		for i := 0; i < len(label); i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return fmt.Errorf("%q is not allowed in a hostname", label[i])
			}
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
