package session

import (
	"github.com/loginjail/loginjail/jail"
)

// parentOf returns pid's parent.
func parentOf(pid int) (int, error) {
	ppid, _, err := jail.ProcStat(pid)
	return ppid, err
}

// ancestors returns pid's ancestors, nearest first, up to init.
func ancestors(pid int) []int {
	var out []int
	for i := 0; i < 64 && pid > 1; i++ {
		p, err := parentOf(pid)
		if err != nil || p <= 0 {
			break
		}
		out = append(out, p)
		pid = p
	}
	return out
}

// descendsFrom reports whether pid has the process (anc, ancStart) among
// its ancestors: the start time makes a reused pid not count.
func descendsFrom(pid, anc int, ancStart uint64) bool {
	for _, a := range ancestors(pid) {
		if a == anc {
			st, err := jail.ProcStartTime(a)
			return err == nil && st == ancStart
		}
	}
	return false
}
