package session

import (
	osuser "os/user"
	"strconv"
	"strings"

	"github.com/loginjail/loginjail/jail"
)

// AccountFor is what names who inside a self jail running shell: their
// gecos and every group's name, from the host's NSS whatever its source
// (cgo's getgrgid_r, so LDAP and sssd groups too). The jail writes them
// into its own /etc/passwd and /etc/group (jail/names.go), so a directory
// user's names resolve inside without the host's directory socket. Nil
// for a root jail (the user is root there) or a name no passwd line can
// hold. A value that would break a line is cleaned (gecos) or left out
// (a group's name, the shell).
func AccountFor(spec *jail.Spec, who *Identity, shell string) *jail.Account {
	if spec.UserMode != jail.UserModeSelf || !lineSafe(who.Name) || strings.Contains(who.Name, ",") {
		return nil
	}
	a := &jail.Account{Gecos: strings.Map(func(r rune) rune {
		if r == ':' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, who.Gecos)}
	if lineSafe(shell) {
		a.Shell = shell
	}
	for _, g := range spec.Groups {
		grp, err := osuser.LookupGroupId(strconv.FormatUint(uint64(g), 10))
		if err != nil || grp.Name == "" || !lineSafe(grp.Name) {
			continue
		}
		if a.GroupNames == nil {
			a.GroupNames = map[uint32]string{}
		}
		a.GroupNames[g] = grp.Name
	}
	return a
}

// lineSafe says whether s can be one field of a passwd or group line.
func lineSafe(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r == ':' || r < 0x20 || r == 0x7f })
}
