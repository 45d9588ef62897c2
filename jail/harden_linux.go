package jail

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// rlimit is one resource limit of a jail (soft = hard).
type rlimit struct {
	name     string
	resource int
	value    uint64
}

// rlimitsOf lists the limits l sets; a zero value leaves one alone.
func rlimitsOf(l Limits) []rlimit {
	var out []rlimit
	for _, r := range []rlimit{{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, l.Nofile}, {"RLIMIT_NPROC", unix.RLIMIT_NPROC, l.Nproc}} {
		if r.value != 0 {
			out = append(out, r)
		}
	}
	return out
}

// seccompFilterOf builds the jail's filter for the setup plan's handoff:
// init loads it on itself (SECCOMP_FILTER_FLAG_TSYNC) once the jail is
// built, and every process it forks inherits it. nil when the policy
// turns seccomp off.
func seccompFilterOf(s Seccomp) ([]unix.SockFilter, error) {
	if s.Off {
		return nil, nil
	}
	filter, err := BuildSeccompFilter(s)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return filter, nil
}
