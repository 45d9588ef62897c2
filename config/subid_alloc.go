package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// LoginDefsFile is where shadow keeps the window new subordinate ranges
// are taken from (SUB_UID_MIN, SUB_UID_MAX, SUB_UID_COUNT and the SUB_GID_
// twins).
const LoginDefsFile = "/etc/login.defs"

// SubIDWindow is where useradd (and loginjail's subid_allocate) take new
// subordinate ranges from, and how many ids a new range holds.
type SubIDWindow struct{ Min, Max, Count uint64 }

// defaultSubIDWindow is shadow's built-in default (useradd's find_new_sub_uids).
var defaultSubIDWindow = SubIDWindow{Min: 100000, Max: 600100000, Count: SubIDCount}

// ReadSubIDWindows reads the SUB_UID_* and SUB_GID_* settings of a
// login.defs file; a setting (or the file) that is absent keeps shadow's
// default. A count below SubIDCount is raised to it: a jail maps that many.
func ReadSubIDWindows(path string) (uid, gid SubIDWindow, err error) {
	uid, gid = defaultSubIDWindow, defaultSubIDWindow
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return uid, gid, nil
	}
	if err != nil {
		return uid, gid, fmt.Errorf("read subordinate id window: %w", err)
	}
	defer f.Close()
	fields := map[string]*uint64{
		"SUB_UID_MIN": &uid.Min, "SUB_UID_MAX": &uid.Max, "SUB_UID_COUNT": &uid.Count,
		"SUB_GID_MIN": &gid.Min, "SUB_GID_MAX": &gid.Max, "SUB_GID_COUNT": &gid.Count,
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		kv := strings.Fields(sc.Text())
		if len(kv) < 2 || strings.HasPrefix(kv[0], "#") {
			continue
		}
		dst, ok := fields[kv[0]]
		if !ok {
			continue
		}
		v, perr := strconv.ParseUint(kv[1], 10, 32)
		if perr != nil {
			return uid, gid, fmt.Errorf("%s:%d: %s %q is not a number", path, n, kv[0], kv[1])
		}
		*dst = v
	}
	if err := sc.Err(); err != nil {
		return uid, gid, fmt.Errorf("read %s: %w", path, err)
	}
	for _, w := range []*SubIDWindow{&uid, &gid} {
		w.Count = max(w.Count, SubIDCount)
	}
	return uid, gid, nil
}

// IDSpan is the half-open id interval [Start, Start+Count).
type IDSpan struct{ Start, Count uint64 }

// End is one past the span's last id.
func (s IDSpan) End() uint64 { return s.Start + s.Count }

// Overlaps reports whether the spans share an id.
func (s IDSpan) Overlaps(o IDSpan) bool { return s.Start < o.End() && o.Start < s.End() }

// FirstFreeSpan returns the lowest start of count ids inside
// [w.Min, w.Max] that meets none of the busy spans: first fit, as shadow's
// find_new_sub_uids does, so a freed range is reused before the window
// grows. False when the window has no such gap.
func FirstFreeSpan(busy []IDSpan, w SubIDWindow, count uint64) (uint64, bool) {
	busy = slices.Clone(busy)
	slices.SortFunc(busy, func(a, b IDSpan) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	next := w.Min
	for _, b := range busy {
		if b.Count == 0 || b.End() <= next {
			continue
		}
		if b.Start >= next+count {
			break
		}
		next = b.End()
	}
	if count == 0 || next+count-1 > w.Max || next+count-1 < next {
		return 0, false
	}
	return next, true
}

// SubIDFiles names the files a subordinate id allocation reads: the ranges
// (SubUID, SubGID), the local accounts whose ids a range must avoid
// (Passwd, Group) and the window (LoginDefs). "" is the system's file.
type SubIDFiles struct{ SubUID, SubGID, Passwd, Group, LoginDefs string }

// System is f with the system's file for each empty name.
func (f SubIDFiles) System() SubIDFiles {
	return SubIDFiles{
		SubUID: orDefault(f.SubUID, subuidFile), SubGID: orDefault(f.SubGID, subgidFile),
		Passwd: orDefault(f.Passwd, passwdFile), Group: orDefault(f.Group, groupFile),
		LoginDefs: orDefault(f.LoginDefs, LoginDefsFile),
	}
}

// PlanSubIDs picks the range subid_allocate gives a user without one: the
// same start in both files, the first that is free in the subuid and the
// subgid file alike, inside both login.defs windows, clear of every uid
// in Passwd and gid in Group and of the user's own uid and gid (a
// directory user is in neither file). The caller holds shadow's lock, so
// the files cannot change before the range is written.
func PlanSubIDs(files SubIDFiles, uid, gid uint32) (IDSpan, error) {
	files = files.System()
	uidW, gidW, err := ReadSubIDWindows(files.LoginDefs)
	if err != nil {
		return IDSpan{}, err
	}
	var busy []IDSpan
	for _, path := range []string{files.SubUID, files.SubGID} {
		ranges, err := readSubIDs(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return IDSpan{}, err
		}
		for _, r := range ranges {
			busy = append(busy, IDSpan{r.start, r.count})
		}
	}
	for _, path := range []string{files.Passwd, files.Group} {
		owners, err := readIDFile(path, 2)
		if err != nil {
			return IDSpan{}, err
		}
		for _, o := range owners {
			busy = append(busy, IDSpan{o.id, 1})
		}
	}
	busy = append(busy, IDSpan{uint64(uid), 1}, IDSpan{uint64(gid), 1})
	w := SubIDWindow{Min: max(uidW.Min, gidW.Min), Max: min(uidW.Max, gidW.Max), Count: max(uidW.Count, gidW.Count)}
	start, ok := FirstFreeSpan(busy, w, w.Count)
	if !ok {
		return IDSpan{}, fmt.Errorf("no free subordinate id range of %d ids between %d and %d (SUB_UID_MIN/MAX, SUB_GID_MIN/MAX in %s)",
			w.Count, w.Min, w.Max, files.LoginDefs)
	}
	return IDSpan{start, w.Count}, nil
}

// orDefault is s, or d when s is empty.
func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// CheckSubIDsClear refuses ranges (found elsewhere than the files, e.g.
// through NSS; source names where) whose used part holds the uid of an
// account in files.Passwd or the gid of a group in files.Group.
func CheckSubIDsClear(ids SubIDs, username, source string, files SubIDFiles) error {
	files = files.System()
	for _, c := range []struct {
		kind, path string
		start      uint32
	}{{"uid", files.Passwd, ids.UIDStart}, {"gid", files.Group, ids.GIDStart}} {
		owners, err := readIDFile(c.path, 2)
		if err != nil {
			return err
		}
		if err := checkOverlap(subRange{start: uint64(c.start), count: SubIDCount}, c.kind, source, username, owners, c.path); err != nil {
			return err
		}
	}
	return nil
}
