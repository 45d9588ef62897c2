package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
)

// SubIDFileConflicts lists what is wrong between the lines of one
// subuid or subgid file (kind "uid" or "gid") and the accounts of its
// passwd or group file: a range sharing ids with another owner's range
// (their jails would own each other's files and processes) and a range
// holding a real account's id (that jail would own the account's files).
// Each overlapping line is named once, beside the line it runs into. A
// missing subid file has no conflicts.
func SubIDFileConflicts(subPath, accountsPath, kind string) ([]string, error) {
	ranges, err := readSubIDs(subPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	accounts, err := readIDFile(accountsPath, 2)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	slices.SortStableFunc(ranges, func(a, b subRange) int { return cmp.Compare(a.start, b.start) })
	slices.SortStableFunc(accounts, func(a, b idOwner) int { return cmp.Compare(a.id, b.id) })
	span := func(r subRange) string {
		return fmt.Sprintf("%s:%d (%s %d-%d)", subPath, r.line, r.owner, r.start, r.start+r.count-1)
	}
	var out []string
	var reach subRange // the range reaching furthest so far
	for i, r := range ranges {
		if i > 0 && r.start < reach.start+reach.count && r.owner != reach.owner {
			out = append(out, fmt.Sprintf("%s overlaps %s", span(r), span(reach)))
		}
		if i == 0 || r.start+r.count > reach.start+reach.count {
			reach = r
		}
		j := sort.Search(len(accounts), func(k int) bool { return accounts[k].id >= r.start })
		if j < len(accounts) && accounts[j].id < r.start+r.count {
			a := accounts[j]
			out = append(out, fmt.Sprintf("%s holds %s %d of %q (%s:%d)", span(r), kind, a.id, a.name, accountsPath, a.line))
		}
	}
	return out, nil
}
