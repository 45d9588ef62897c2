package testutil

import (
	"os"
	"strconv"
	"strings"
)

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	Name    string
	UID     int
	GID     int
	Comment string
	Home    string
}

// parsePasswd returns the well-formed entries of an /etc/passwd file.
func parsePasswd(content []byte) []passwdEntry {
	var entries []passwdEntry
	for _, line := range strings.Split(string(content), "\n") {
		f := strings.Split(line, ":")
		if len(f) != 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		entries = append(entries, passwdEntry{Name: f[0], UID: uid, GID: gid, Comment: f[4], Home: f[5]})
	}
	return entries
}

// userEntry is an account as lookupPasswd finds it.
type userEntry struct {
	User
	Comment string // GECOS field
}

// lookupPasswd finds name in /etc/passwd (read directly, so no name service
// cache can answer with an account that was just removed).
func lookupPasswd(name string) (*userEntry, bool, error) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil, false, err
	}
	for _, e := range parsePasswd(b) {
		if e.Name == name {
			return &userEntry{User{Name: e.Name, UID: e.UID, GID: e.GID, Home: e.Home}, e.Comment}, true, nil
		}
	}
	return nil, false, nil
}

// accountIDs returns the numeric id (third field) of every line of an
// /etc/passwd or /etc/group file, each as a range of one.
func accountIDs(path string) ([]idRange, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ids []idRange
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			ids = append(ids, idRange{id, 1})
		}
	}
	return ids, nil
}

// groupNames returns the group names of an /etc/group file.
// groupMembers maps each group of an /etc/group file to its
// supplementary members.
func groupMembers(content []byte) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(string(content), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 4 && f[0] != "" && f[3] != "" {
			out[f[0]] = strings.Split(f[3], ",")
		}
	}
	return out
}

func groupNames(content []byte) []string {
	var names []string
	for _, line := range strings.Split(string(content), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && name != "" {
			names = append(names, name)
		}
	}
	return names
}
