package jail

import (
	"errors"
	"fmt"
	"strings"
)

// Account is what names the session user inside a self-mode jail: their
// host account as the host's NSS gives it, whatever the source (files,
// LDAP through nslcd, sssd). A jail cannot ask the host's directory (its
// socket is never bound in), so the user's own passwd line and their
// groups' lines are written into the jail's /etc/passwd and /etc/group
// instead; without them `id -un` and `ls -l ~` print bare numbers for a
// directory user, or for any user of an image rootfs.
type Account struct {
	Gecos string `json:"gecos,omitempty"`
	Shell string `json:"shell,omitempty"` // the shell the jail runs for the user
	// GroupNames maps the host gid of each of Spec.Groups to its name;
	// a gid NSS could not name is left out.
	GroupNames map[uint32]string `json:"group_names,omitempty"`
}

// validate refuses a value that would break a passwd or group line (a
// ':' or a newline would let a directory entry add lines of its own).
func (a *Account) validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"gecos", a.Gecos}, {"shell", a.Shell}} {
		if !entryField(f.v) {
			errs = append(errs, fmt.Errorf("account %s %q: has ':' or a control character", f.name, f.v))
		}
	}
	for gid, n := range a.GroupNames {
		if n == "" || !entryField(n) {
			errs = append(errs, fmt.Errorf("account group %d name %q: empty, or has ':' or a control character", gid, n))
		}
	}
	return errors.Join(errs...)
}

// entryField says whether s can stand as one field of an /etc/passwd or
// /etc/group line.
func entryField(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r == ':' || r < 0x20 || r == 0x7f })
}

// passwdEntry is the session user's /etc/passwd line inside the jail, ""
// when the jail has no name to add: a root jail's user is root, named by
// the rootfs itself.
func passwdEntry(s *Spec) string {
	if s.UserMode != UserModeSelf || s.Account == nil {
		return ""
	}
	return fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", s.User, s.InsideUID(), s.InsideGID(), s.Account.Gecos, s.Home, s.Account.Shell)
}

// groupEntries are the /etc/group lines of the user's groups inside a
// self jail, by inside gid: the primary group without members (passwd
// names it), every other one with the user as its member. A group the
// jail does not map, or NSS did not name, gets no line.
func groupEntries(s *Spec) []string {
	if s.UserMode != UserModeSelf || s.Account == nil {
		return nil
	}
	m, err := s.GIDMap()
	if err != nil {
		return nil
	}
	var out []string
	seen := map[uint32]bool{}
	for _, g := range s.Groups {
		in := mapIn(m, g)
		name, ok := s.Account.GroupNames[g]
		if in == 65534 || !ok || seen[in] {
			continue
		}
		seen[in] = true
		members := s.User
		if g == s.GID {
			members = ""
		}
		out = append(out, fmt.Sprintf("%s:x:%d:%s", name, in, members))
	}
	return out
}

// mergeEntries returns content (an /etc/passwd or /etc/group file) with
// each of entries in it, and whether it changed. A line already naming
// the same name and id is kept, and for a group gains the entry's member;
// a line with the same name or the same id but not both is dropped, so
// inside their jail the session user's names win over the rootfs's (an
// image's uid 1000, say); the rest is appended. Lines that are not
// entries (comments, NIS "+" lines) pass through.
func mergeEntries(content string, entries []string) (string, bool) {
	if len(entries) == 0 {
		return content, false
	}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	if content == "" {
		lines = nil
	}
	changed := false
	for _, e := range entries {
		ef := strings.Split(e, ":")
		kept := lines[:0:0]
		found := false
		for _, l := range lines {
			lf := strings.Split(l, ":")
			if len(lf) < 3 || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-") {
				kept = append(kept, l)
				continue
			}
			sameName, sameID := lf[0] == ef[0], lf[2] == ef[2]
			switch {
			case sameName && sameID && !found:
				found = true
				if nl := withMember(l, ef); nl != l {
					l, changed = nl, true
				}
				kept = append(kept, l)
			case sameName || sameID:
				changed = true
			default:
				kept = append(kept, l)
			}
		}
		if !found {
			kept = append(kept, e)
			changed = true
		}
		lines = kept
	}
	if !changed {
		return content, false
	}
	return strings.Join(lines, "\n") + "\n", true
}

// withMember adds the member of group entry ef (name:x:gid:member) to
// group line l when l lacks it; passwd lines and member-less entries
// come back unchanged.
func withMember(l string, ef []string) string {
	if len(ef) != 4 || ef[3] == "" {
		return l
	}
	lf := strings.Split(l, ":")
	if len(lf) != 4 {
		return l
	}
	var members []string
	if lf[3] != "" {
		members = strings.Split(lf[3], ",")
	}
	for _, m := range members {
		if m == ef[3] {
			return l
		}
	}
	lf[3] = strings.Join(append(members, ef[3]), ",")
	return strings.Join(lf, ":")
}
