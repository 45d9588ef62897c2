package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// SubIDCount is the number of subordinate ids a jail uses, from the start
// of the user's range.
const SubIDCount = 65536

// SubIDs are the first ids of the subordinate uid and gid ranges a user's
// jails map (SubIDCount ids each).
type SubIDs struct{ UIDStart, GIDStart uint32 }

// System files read by LookupSubIDs.
const (
	subuidFile = "/etc/subuid"
	subgidFile = "/etc/subgid"
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
)

// LookupSubIDs finds the subordinate id ranges of a user in /etc/subuid and
// /etc/subgid; see [LookupSubIDsFrom].
func LookupSubIDs(username string, uid uint32) (SubIDs, error) {
	return LookupSubIDsFrom(subuidFile, subgidFile, passwdFile, groupFile, username, uid)
}

// LookupSubIDsFrom finds the subordinate id ranges of a user in files of
// the shadow-utils subuid/subgid format ("name_or_uid:start:count", several
// lines per user allowed, '#' comments). A line belongs to the user when it
// names the user or the numeric uid; the first such range with at least
// SubIDCount ids is used. Without one, the error names the fix (a usermod
// command with a free range). A range whose first SubIDCount ids contain the
// uid of an account in passwdPath (or a gid in groupPath) is refused, the
// user's own included. An empty passwdPath or groupPath skips that check.
func LookupSubIDsFrom(subuidPath, subgidPath, passwdPath, groupPath, username string, uid uint32) (SubIDs, error) {
	uidRanges, uidErr := readSubIDs(subuidPath)
	gidRanges, gidErr := readSubIDs(subgidPath)
	for _, err := range []error{uidErr, gidErr} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return SubIDs{}, err
		}
	}
	uidR, uidOK := pickSubIDs(uidRanges, username, uid)
	gidR, gidOK := pickSubIDs(gidRanges, username, uid)

	var uids, gids []idOwner
	var err error
	if passwdPath != "" {
		if uids, err = readIDFile(passwdPath, 2); err != nil {
			return SubIDs{}, err
		}
	}
	if groupPath != "" {
		if gids, err = readIDFile(groupPath, 2); err != nil {
			return SubIDs{}, err
		}
	}

	if !uidOK || !gidOK {
		free := freeSubIDStart(append(uidRanges, gidRanges...), append(uids, gids...))
		span := fmt.Sprintf("%d-%d", free, free+SubIDCount-1)
		var fix []string
		if !uidOK {
			fix = append(fix, "--add-subuids "+span)
		}
		if !gidOK {
			fix = append(fix, "--add-subgids "+span)
		}
		kind, file, ranges, ferr := "uid", subuidPath, uidRanges, uidErr
		if uidOK {
			kind, file, ranges, ferr = "gid", subgidPath, gidRanges, gidErr
		}
		fixText := "add one with: usermod " + strings.Join(fix, " ") + " " + username
		var err error
		if ferr != nil {
			err = fmt.Errorf("user %q has no subordinate %s range of %d ids in %s (%w); %s",
				username, kind, SubIDCount, file, ferr, fixText)
		} else {
			why := ""
			if small, ok := largestOf(ranges, username, uid); ok {
				why = fmt.Sprintf(" (%s:%d has only %d)", file, small.line, small.count)
			}
			err = fmt.Errorf("user %q has no subordinate %s range of %d ids in %s%s; %s",
				username, kind, SubIDCount, file, why, fixText)
		}
		if !uidOK && !gidOK && !ownsAny(uidRanges, username, uid) && !ownsAny(gidRanges, username, uid) {
			err = noRangeError{err}
		}
		return SubIDs{}, err
	}
	if err := checkOverlap(uidR, "uid", subuidPath, username, uids, passwdPath); err != nil {
		return SubIDs{}, err
	}
	if err := checkOverlap(gidR, "gid", subgidPath, username, gids, groupPath); err != nil {
		return SubIDs{}, err
	}
	return SubIDs{UIDStart: uint32(uidR.start), GIDStart: uint32(gidR.start)}, nil
}

// ErrNoSubIDs matches (errors.Is) the error of a lookup that found no
// subordinate range of the user's at all, neither uid nor gid, not even
// a short one: the case subid_allocate fills in.
var ErrNoSubIDs = errors.New("no subordinate id range")

// noRangeError marks a lookup error as ErrNoSubIDs and keeps its text.
type noRangeError struct{ err error }

func (e noRangeError) Error() string        { return e.err.Error() }
func (e noRangeError) Unwrap() error        { return e.err }
func (e noRangeError) Is(target error) bool { return target == ErrNoSubIDs }

// ownsAny reports whether any line of ranges is the user's.
func ownsAny(ranges []subRange, username string, uid uint32) bool {
	for _, r := range ranges {
		if r.owns(username, uid) {
			return true
		}
	}
	return false
}

// subRange is one line of a subuid/subgid file.
type subRange struct {
	owner        string
	start, count uint64
	line         int
}

// readSubIDs parses a subuid/subgid file.
func readSubIDs(path string) ([]subRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read subordinate ids: %w", err)
	}
	defer f.Close()
	var out []subRange
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ":")
		if len(fields) != 3 || fields[0] == "" {
			return nil, fmt.Errorf("%s:%d: malformed line %q, want NAME_OR_UID:START:COUNT", path, n, text)
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32 {
			return nil, fmt.Errorf("%s:%d: malformed line %q: START and COUNT must be numbers, COUNT > 0, within 32-bit ids", path, n, text)
		}
		out = append(out, subRange{owner: fields[0], start: start, count: count, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// owns reports whether a range line belongs to the user.
func (r subRange) owns(username string, uid uint32) bool {
	return r.owner == username || r.owner == strconv.FormatUint(uint64(uid), 10)
}

// pickSubIDs returns the user's first range with at least SubIDCount ids.
func pickSubIDs(ranges []subRange, username string, uid uint32) (subRange, bool) {
	for _, r := range ranges {
		if r.owns(username, uid) && r.count >= SubIDCount {
			return r, true
		}
	}
	return subRange{}, false
}

// largestOf returns the user's largest (too small) range, for messages.
func largestOf(ranges []subRange, username string, uid uint32) (subRange, bool) {
	var best subRange
	found := false
	for _, r := range ranges {
		if r.owns(username, uid) && (!found || r.count > best.count) {
			best, found = r, true
		}
	}
	return best, found
}

// freeSubIDStart suggests the start of a free range: after the highest
// range in use, at least 100000, aligned to SubIDCount once past 100000,
// and clear of the real accounts' ids.
func freeSubIDStart(ranges []subRange, accounts []idOwner) uint64 {
	var next uint64 = 100000
	for _, r := range ranges {
		if end := r.start + r.count; end > 100000 && end > next {
			next = end
		}
	}
	align := func(n uint64) uint64 {
		if n <= 100000 {
			return 100000
		}
		return (n + SubIDCount - 1) / SubIDCount * SubIDCount
	}
	next = align(next)
	for moved := true; moved; {
		moved = false
		for _, a := range accounts {
			if a.id >= next && a.id < next+SubIDCount {
				next, moved = align(a.id+1), true
			}
		}
	}
	return next
}

// idOwner is an account (or group) and its numeric id.
type idOwner struct {
	name string
	id   uint64
	line int
}

// readIDFile reads the names and ids (field idField, 0-based) of a
// passwd-format file. Comments and lines it cannot parse are skipped, as
// the C library does.
func readIDFile(path string, idField int) ([]idOwner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	defer f.Close()
	var out []idOwner
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ":")
		if len(fields) <= idField {
			continue
		}
		id, err := strconv.ParseUint(fields[idField], 10, 32)
		if err != nil {
			continue
		}
		out = append(out, idOwner{name: fields[0], id: id, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// checkOverlap refuses a range whose used part contains an account's id.
func checkOverlap(r subRange, kind, file, username string, accounts []idOwner, accountsFile string) error {
	for _, a := range accounts {
		if a.id >= r.start && a.id < r.start+SubIDCount {
			return fmt.Errorf("subordinate %s range %d-%d of user %q (%s:%d) overlaps %s %d of %q (%s:%d); give the user a range clear of real ids",
				kind, r.start, r.start+SubIDCount-1, username, file, r.line, kind, a.id, a.name, accountsFile, a.line)
		}
	}
	return nil
}
