package config

import "fmt"

// RootLogin is permit_root_login, OpenSSH's PermitRootLogin: "yes", "no",
// "prohibit-password" (keys and certificates only) or
// "forced-commands-only" (keys whose line or certificate forces a
// command). The booleans of older configurations still load: true is
// "yes", false "no".
type RootLogin string

// The permit_root_login values.
const (
	RootYes                RootLogin = "yes"
	RootNo                 RootLogin = "no"
	RootProhibitPassword   RootLogin = "prohibit-password"
	RootForcedCommandsOnly RootLogin = "forced-commands-only"
)

// UnmarshalText takes one of the four words (OpenSSH's old synonym
// "without-password" too, as sshd does).
func (r *RootLogin) UnmarshalText(text []byte) error {
	switch v := RootLogin(text); v {
	case RootYes, RootNo, RootProhibitPassword, RootForcedCommandsOnly:
		*r = v
	case "without-password":
		*r = RootProhibitPassword
	default:
		return fmt.Errorf("%q is not one of \"yes\", \"no\", \"prohibit-password\", \"forced-commands-only\" (or true/false)", string(text))
	}
	return nil
}

// MarshalText prints the word.
func (r RootLogin) MarshalText() ([]byte, error) { return []byte(r), nil }

// Allows reports whether root may log in with method; forced says the key
// (its authorized_keys line or its certificate) forces a command. The
// string is the rule that decided, for the log and check-config.
func (r RootLogin) Allows(method string, forced bool) (bool, string) {
	switch r {
	case RootYes:
		return true, `permit_root_login = "yes"`
	case RootProhibitPassword:
		if method == "publickey" {
			return true, `permit_root_login = "prohibit-password" allows keys`
		}
		return false, fmt.Sprintf(`permit_root_login = "prohibit-password" refuses %s`, method)
	case RootForcedCommandsOnly:
		if method == "publickey" && forced {
			return true, `permit_root_login = "forced-commands-only" allows a key that forces a command`
		}
		if method == "publickey" {
			return false, `permit_root_login = "forced-commands-only" refuses a key without command= or force-command`
		}
		return false, fmt.Sprintf(`permit_root_login = "forced-commands-only" refuses %s`, method)
	}
	return false, `root login is not permitted (permit_root_login = "no")`
}

// describe says what the setting lets root do, for check-config.
func (r RootLogin) describe() string {
	switch r {
	case RootYes:
		return `permit_root_login = "yes": any method`
	case RootProhibitPassword:
		return `permit_root_login = "prohibit-password": keys and certificates only`
	case RootForcedCommandsOnly:
		return `permit_root_login = "forced-commands-only": only keys whose line or certificate forces a command`
	}
	return `permit_root_login = "no": root never logs in`
}
