package session

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Identity is a host account as NSS knows it.
type Identity struct {
	Name  string
	UID   uint32
	GID   uint32
	Home  string
	Shell string
}

// LookupIdentity finds user in /etc/passwd, or through getent for accounts
// that live in other NSS sources (LDAP, sssd). os/user does not report the
// login shell, which a login needs.
func LookupIdentity(user string) (*Identity, error) {
	if f, err := os.Open("/etc/passwd"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if id, ok := parsePasswdLine(sc.Text(), user); ok {
				return id, nil
			}
		}
	}
	out, err := exec.Command("getent", "passwd", "--", user).Output()
	if err == nil {
		if id, ok := parsePasswdLine(string(bytes.TrimSpace(out)), user); ok {
			return id, nil
		}
	}
	return nil, fmt.Errorf("user %q: no such user", user)
}

// parsePasswdLine parses "name:x:uid:gid:gecos:home:shell" for name.
func parsePasswdLine(line, name string) (*Identity, bool) {
	f := strings.Split(line, ":")
	if len(f) != 7 || f[0] != name {
		return nil, false
	}
	uid, err1 := strconv.ParseUint(f[2], 10, 32)
	gid, err2 := strconv.ParseUint(f[3], 10, 32)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &Identity{Name: f[0], UID: uint32(uid), GID: uint32(gid), Home: f[5], Shell: f[6]}, true
}
