package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Subordinate id files edited for test users.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// SubIDCount is the size of the subordinate uid and gid range each test user
// gets: a whole 16-bit id space, as useradd gives by default.
const SubIDCount = 65536

// Where test ranges are taken from: blocks of SubIDCount ids starting at
// subIDBase, far above the ranges useradd hands out (100000 upwards) and any
// real account, and ending at or below the last id a uid_map accepts.
const (
	subIDBase = 1_000_000_000
	subIDMax  = 4294967294 // highest id usable in uid_map/gid_map
)

// idRange is the half-open id interval [Start, Start+Count).
type idRange struct {
	Start, Count uint64
}

func (r idRange) overlaps(o idRange) bool {
	return r.Start < o.Start+o.Count && o.Start < r.Start+r.Count
}

// parseSubIDRanges returns the ranges of every well-formed "owner:start:count"
// line in a subuid/subgid file; comments, blank and malformed lines are skipped.
func parseSubIDRanges(content []byte) []idRange {
	var ranges []idRange
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 64)
		count, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || count == 0 {
			continue
		}
		ranges = append(ranges, idRange{start, count})
	}
	return ranges
}

// pickFreeRange returns the first block subIDBase + k*SubIDCount that
// overlaps none of the taken ranges.
func pickFreeRange(taken []idRange) (uint32, error) {
	for start := uint64(subIDBase); start+SubIDCount-1 <= subIDMax; start += SubIDCount {
		candidate := idRange{start, SubIDCount}
		free := true
		for _, r := range taken {
			if candidate.overlaps(r) {
				free = false
				break
			}
		}
		if free {
			return uint32(start), nil
		}
	}
	return 0, errors.New("no free subordinate id range left above 1000000000")
}

// removeSubIDLines returns content without the lines whose owner field (the
// text before the first ':') satisfies drop; every other line is kept byte
// for byte, including whether the file ends with a newline.
func removeSubIDLines(content []byte, drop func(owner string) bool) []byte {
	var out bytes.Buffer
	rest := content
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		owner, _, found := bytes.Cut(bytes.TrimRight(line, "\n"), []byte(":"))
		if found && drop(string(owner)) {
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}

// appendSubIDLine returns content with "owner:start:count" added as its last
// line, adding the missing newline of a last line first.
func appendSubIDLine(content []byte, owner string, start, count uint32) []byte {
	out := append([]byte(nil), content...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return fmt.Appendf(out, "%s:%d:%d\n", owner, start, count)
}

// readSubIDFile reads a subordinate id file; a missing file reads as empty.
func readSubIDFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// editSubIDFile rewrites path as edit(content) when that changes it.
func editSubIDFile(path string, edit func([]byte) []byte) error {
	old, err := readSubIDFile(path)
	if err != nil {
		return err
	}
	updated := edit(old)
	if bytes.Equal(old, updated) {
		return nil
	}
	return writeFileAtomic(path, updated)
}
