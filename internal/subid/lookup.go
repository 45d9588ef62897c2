package subid

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/loginjail/loginjail/config"
)

// Source is where a host keeps subordinate ids. The zero value is the
// system's: /etc/subuid, /etc/subgid, /etc/nsswitch.conf, /etc/.pwd.lock.
type Source struct {
	Files    config.SubIDFiles
	NSSwitch string // nsswitch.conf
	PwdLock  string // lckpwdf's lock file
}

// User is whose ranges are looked up: a directory user is in no local
// file, so its ids come from NSS (session.LookupIdentity).
type User struct {
	Name     string
	UID, GID uint32
}

// Lookup returns the user's subordinate ranges: from /etc/subuid and
// /etc/subgid first, then from the NSS source on the subid: line through
// libsubid, and when neither has any and allocate is set (subid_allocate)
// from a new range it writes to both files under shadow's lock and logs
// (event "subid.allocate"). A short, half or overlapping range is an
// error, never replaced.
func (s Source) Lookup(u User, allocate bool, log *slog.Logger) (config.SubIDs, error) {
	ids, err := s.fromFiles(u)
	if err != nil && allocate && !errors.Is(err, config.ErrNoSubIDs) {
		// A half range may be another login's allocation caught between
		// its two files (each is replaced whole, the pair is not): read
		// again under shadow's lock, which that allocation holds.
		ids, err = s.fromFilesLocked(u)
	}
	if err == nil || !errors.Is(err, config.ErrNoSubIDs) {
		return ids, err
	}
	src, serr := nssSource(orDefault(s.NSSwitch, nsswitchFile))
	if serr != nil {
		return config.SubIDs{}, serr
	}
	if src != "" {
		ids, found, nerr := s.fromNSS(u, src)
		if nerr != nil {
			return config.SubIDs{}, fmt.Errorf("%w; and from subid: %s in %s: %w", err, src, orDefault(s.NSSwitch, nsswitchFile), nerr)
		}
		if found {
			return ids, nil
		}
	}
	if !allocate {
		return config.SubIDs{}, err
	}
	return s.allocate(u, log)
}

// fromFilesLocked is fromFiles under shadow's lock on both files.
func (s Source) fromFilesLocked(u User) (config.SubIDs, error) {
	f := s.files()
	unlock, err := lockShadow(orDefault(s.PwdLock, pwdLockFile), f.SubUID, f.SubGID)
	if err != nil {
		return config.SubIDs{}, fmt.Errorf("subordinate ids of %q: %w", u.Name, err)
	}
	defer unlock()
	return s.fromFiles(u)
}

// Plan is the range a first login with subid_allocate would give u now,
// as Lookup would allocate it, but nothing is locked or written
// (check-config only looks): another allocation may take it first.
func (s Source) Plan(u User) (config.SubIDs, error) {
	span, err := config.PlanSubIDs(s.files(), u.UID, u.GID)
	if err != nil {
		return config.SubIDs{}, fmt.Errorf("plan subordinate ids for %q: %w", u.Name, err)
	}
	return config.SubIDs{UIDStart: uint32(span.Start), GIDStart: uint32(span.Start)}, nil
}

// fromFiles reads the subuid and subgid files.
func (s Source) fromFiles(u User) (config.SubIDs, error) {
	f := s.files()
	return config.LookupSubIDsFrom(f.SubUID, f.SubGID, f.Passwd, f.Group, u.Name, u.UID)
}

// fromNSS asks libsubid; found is false when the source has no range of
// SubIDCount ids for the user in either kind.
func (s Source) fromNSS(u User, src string) (config.SubIDs, bool, error) {
	var starts [2]uint32
	for i, gid := range []bool{false, true} {
		spans, err := libsubidRanges(u.Name, gid)
		if err != nil {
			return config.SubIDs{}, false, err
		}
		ok := false
		for _, sp := range spans {
			if sp.Count >= config.SubIDCount && sp.Start+config.SubIDCount <= 1<<32 {
				starts[i], ok = uint32(sp.Start), true
				break
			}
		}
		if !ok {
			return config.SubIDs{}, false, nil
		}
	}
	ids := config.SubIDs{UIDStart: starts[0], GIDStart: starts[1]}
	if err := config.CheckSubIDsClear(ids, u.Name, "subid: "+src, s.files()); err != nil {
		return config.SubIDs{}, false, err
	}
	return ids, true, nil
}

// allocate gives the user a new range in both files. Under the lock the
// files are read again: another login of the same user (another
// connection process) may have allocated it meanwhile.
func (s Source) allocate(u User, log *slog.Logger) (config.SubIDs, error) {
	f := s.files()
	unlock, err := lockShadow(orDefault(s.PwdLock, pwdLockFile), f.SubUID, f.SubGID)
	if err != nil {
		return config.SubIDs{}, fmt.Errorf("allocate subordinate ids for %q: %w", u.Name, err)
	}
	defer unlock()
	ids, err := s.fromFiles(u)
	if err == nil || !errors.Is(err, config.ErrNoSubIDs) {
		return ids, err
	}
	span, err := config.PlanSubIDs(f, u.UID, u.GID)
	if err != nil {
		return config.SubIDs{}, fmt.Errorf("allocate subordinate ids for %q: %w", u.Name, err)
	}
	line := u.Name + ":" + strconv.FormatUint(span.Start, 10) + ":" + strconv.FormatUint(span.Count, 10)
	if err := appendLine(f.SubUID, line); err != nil {
		return config.SubIDs{}, fmt.Errorf("allocate subordinate ids for %q: %w", u.Name, err)
	}
	if err := appendLine(f.SubGID, line); err != nil {
		return config.SubIDs{}, fmt.Errorf("allocate subordinate ids for %q (its %s line stays, unused without a gid range): %w", u.Name, f.SubUID, err)
	}
	if log != nil {
		log.Info("subordinate ids allocated", "event", "subid.allocate", "user", u.Name,
			"start", span.Start, "count", span.Count, "files", f.SubUID+" "+f.SubGID)
	}
	return s.fromFiles(u)
}

// files is s.Files with the system's file for each empty name.
func (s Source) files() config.SubIDFiles { return s.Files.System() }

// orDefault is s, or d when s is empty.
func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
