package config

import (
	"errors"
	"fmt"
	"os/user"
)

// GroupsOf returns the names of the primary and supplementary groups of
// username, primary first, as NSS (os/user) reports them. A group id
// without a name is returned as its number.
func GroupsOf(username string) ([]string, error) {
	u, err := user.Lookup(username)
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", username, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("look up groups of %q: %w", username, err)
	}
	// Primary group first, then the rest in NSS order, without repeats.
	ordered := append([]string{u.Gid}, ids...)
	seen := make(map[string]bool, len(ordered))
	names := make([]string, 0, len(ordered))
	for _, gid := range ordered {
		if seen[gid] {
			continue
		}
		seen[gid] = true
		g, err := user.LookupGroupId(gid)
		var unknown user.UnknownGroupIdError
		switch {
		case errors.As(err, &unknown):
			names = append(names, gid)
		case err != nil:
			return nil, fmt.Errorf("look up group %s of %q: %w", gid, username, err)
		default:
			names = append(names, g.Name)
		}
	}
	return names, nil
}
