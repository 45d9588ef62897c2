package jail

import (
	"fmt"
	"math"
	"sort"
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

// GIDMap returns the jail's gid_map extents: idMap's, with each of the
// user's supplementary groups (MappedGroups) mapped at its own gid.
func (s *Spec) GIDMap() ([]IDMapping, error) {
	m, err := idMap(s.UserMode, s.GID, s.SubGID, "gid")
	if err != nil {
		return nil, err
	}
	m = withIdentity(m, s.MappedGroups())
	if len(m) > maxExtents {
		return nil, fmt.Errorf("gid_map: %d extents for %d groups, the kernel takes %d", len(m), len(s.Groups), maxExtents)
	}
	return m, nil
}

// maxExtents is the most lines a uid_map or gid_map takes (Linux 4.15+).
const maxExtents = 340

// MappedGroups are the user's supplementary host gids the jail maps at
// their own gid, ascending. Left out, and so seen as the overflow gid
// inside, though the kernel still counts them in permission checks: the
// primary group (mapped already), gid 0 (inside it is the jail's root
// group) and a gid inside the user's subordinate range (its host id is
// mapped already, to another inside id).
func (s *Spec) MappedGroups() []uint32 {
	var out []uint32
	seen := map[uint32]bool{}
	for _, g := range s.Groups {
		if g == 0 || g == s.GID || seen[g] || (g >= s.SubGID && uint64(g) < uint64(s.SubGID)+IDRange) {
			continue
		}
		seen[g] = true
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// InsideGroups is how the jail sees the user's groups (Groups): each
// through the gid map, an unmapped one as the overflow gid 65534.
func (s *Spec) InsideGroups() []uint32 {
	m, err := s.GIDMap()
	if err != nil {
		return nil
	}
	out := make([]uint32, 0, len(s.Groups))
	for _, g := range s.Groups {
		out = append(out, mapIn(m, g))
	}
	return out
}

// mapIn is the inside id of host id outside, 65534 (the kernel's default
// overflow id) when m does not map it.
func mapIn(m []IDMapping, outside uint32) uint32 {
	for _, e := range m {
		if outside >= e.Outside && outside-e.Outside < e.Size {
			return e.Inside + outside - e.Outside
		}
	}
	return 65534
}

// withIdentity maps each id of ids (ascending, none of them mapped on the
// host side by m) at itself: an id inside an extent of m splits it, and
// the inside id it had is left unmapped; one past every extent gets one
// of its own. The result is ordered by inside id.
func withIdentity(m []IDMapping, ids []uint32) []IDMapping {
	for _, id := range ids {
		var out []IDMapping
		placed := false
		for _, e := range m {
			if id < e.Inside || id-e.Inside >= e.Size {
				out = append(out, e)
				continue
			}
			if e.Inside == id && e.Outside == id && e.Size == 1 {
				out = append(out, e) // already the identity
				placed = true
				continue
			}
			if n := id - e.Inside; n > 0 {
				out = append(out, IDMapping{Inside: e.Inside, Outside: e.Outside, Size: n})
			}
			out = append(out, IDMapping{Inside: id, Outside: id, Size: 1})
			if n := e.Inside + e.Size - id - 1; n > 0 {
				out = append(out, IDMapping{Inside: id + 1, Outside: e.Outside + id - e.Inside + 1, Size: n})
			}
			placed = true
		}
		if !placed {
			out = append(out, IDMapping{Inside: id, Outside: id, Size: 1})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Inside < out[j].Inside })
		m = out
	}
	return m
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
