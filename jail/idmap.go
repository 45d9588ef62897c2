package jail

import (
	"fmt"
	"math"
)

// IDMapping is one extent of a uid_map or gid_map: Size ids starting at
// Inside map to Size ids starting at Outside.
type IDMapping struct {
	Inside, Outside, Size uint32
}

// UIDMap returns the jail's uid_map extents (see idMap).
func (s *Spec) UIDMap() ([]IDMapping, error) {
	return idMap(s.UserMode, s.UID, s.SubUID, "uid")
}

// GIDMap returns the jail's gid_map extents (see idMap).
func (s *Spec) GIDMap() ([]IDMapping, error) {
	return idMap(s.UserMode, s.GID, s.SubGID, "gid")
}

// InsideUID is the user's uid inside the jail.
func (s *Spec) InsideUID() uint32 { return insideID(s.UserMode, s.UID) }

// InsideGID is the user's primary gid inside the jail.
func (s *Spec) InsideGID() uint32 { return insideID(s.UserMode, s.GID) }

func insideID(mode string, own uint32) uint32 {
	if mode == UserModeRoot {
		return 0
	}
	return own
}

// idMap maps 0..65535 inside the jail. Every inside id N maps to sub+N,
// except the user's own id, which maps to the user's host id: in "self"
// mode at N = own (so the user keeps their uid and owns their home), in
// "root" mode at N = 0. Keeping inside N at sub+N for everyone else means
// a file's host owner tells at a glance which jail id made it. A user id
// above 65535 gets its own extent next to the range.
func idMap(mode string, own, sub uint32, kind string) ([]IDMapping, error) {
	if uint64(sub)+IDRange > math.MaxUint32 {
		return nil, fmt.Errorf("subordinate %s range %d+%d: past the largest id", kind, sub, IDRange)
	}
	if own >= sub && own < sub+IDRange {
		return nil, fmt.Errorf("subordinate %s range %d-%d contains the user's own %s %d", kind, sub, sub+IDRange-1, kind, own)
	}
	at := insideID(mode, own)
	var m []IDMapping
	if at < IDRange {
		if at > 0 {
			m = append(m, IDMapping{Inside: 0, Outside: sub, Size: at})
		}
		m = append(m, IDMapping{Inside: at, Outside: own, Size: 1})
		if at+1 < IDRange {
			m = append(m, IDMapping{Inside: at + 1, Outside: sub + at + 1, Size: IDRange - at - 1})
		}
		return m, nil
	}
	// The user's id lies above the range: map the whole range, then the
	// user at their own id.
	return []IDMapping{
		{Inside: 0, Outside: sub, Size: IDRange},
		{Inside: at, Outside: own, Size: 1},
	}, nil
}
