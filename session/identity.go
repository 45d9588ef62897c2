package session

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	osuser "os/user"
	"strconv"
	"strings"
)

// Identity is a host account as NSS knows it.
type Identity struct {
	Name  string
	UID   uint32
	GID   uint32
	Gecos string
	Home  string
	Shell string
	// Groups are the account's groups as a login gets them
	// (getgrouplist: the primary first, then every supplementary one).
	Groups []uint32
}

// LookupIdentity finds user in /etc/passwd, or through getent for accounts
// that live in other NSS sources (LDAP, sssd). os/user does not report the
// login shell, which a login needs.
func LookupIdentity(user string) (*Identity, error) {
	id, err := lookupAccount(user)
	if err != nil {
		return nil, err
	}
	if id.Groups, err = groupIDsOf(id.Name, id.GID); err != nil {
		return nil, err
	}
	return id, nil
}

// groupIDsOf are the groups of name, whose primary group is gid, as
// initgroups(3) would give them at a login: the primary first, no repeats.
func groupIDsOf(name string, gid uint32) ([]uint32, error) {
	u := &osuser.User{Username: name, Gid: strconv.FormatUint(uint64(gid), 10)}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %q: %w", name, err)
	}
	out := []uint32{gid}
	seen := map[uint32]bool{gid: true}
	for _, s := range ids {
		g, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("groups of %q: gid %q: %w", name, s, err)
		}
		if !seen[uint32(g)] {
			seen[uint32(g)] = true
			out = append(out, uint32(g))
		}
	}
	return out, nil
}

// lookupAccount reads user's passwd entry.
func lookupAccount(user string) (*Identity, error) {
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
	return &Identity{Name: f[0], UID: uint32(uid), GID: uint32(gid), Gecos: f[4], Home: f[5], Shell: f[6]}, true
}
