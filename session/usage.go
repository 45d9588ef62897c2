package session

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage is what a live session uses now: `ps` prints it and the metrics
// endpoints export it. It is read from the session's own cgroup when the
// session has one (cgroup v2, or v1 with limits), else summed over the
// processes of the jail's pid namespace from /proc: sessions without
// limits are measured too.
type Usage struct {
	CPUSeconds  float64 // user + system time of every process the jail ran, dead ones included
	MemoryBytes int64   // cgroup memory charge, or the sum of the processes' resident sets
	Pids        int     // processes (tasks) alive in the jail
}

// cgroupRoot is where the host's cgroup hierarchies are mounted; tests
// point it elsewhere.
var cgroupRoot = "/sys/fs/cgroup"

// procRoot is the host's /proc; tests point it elsewhere.
var procRoot = "/proc"

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// ReadUsage measures the sessions of recs, keyed by session id. A session
// whose init is gone (or has no pid yet) is left out. One walk of /proc
// serves every session that has no cgroup of its own.
func ReadUsage(recs []*Record) map[string]Usage {
	out := make(map[string]Usage, len(recs))
	byNS := map[string]string{} // pid namespace link -> session id, for the /proc walk
	found := map[string]cgroupFound{}
	for _, r := range recs {
		if r.Pid <= 0 {
			continue
		}
		u, cg := cgroupUsage(r.Pid)
		if cg.complete() {
			out[r.ID] = u
			continue
		}
		ns, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(r.Pid), "ns", "pid"))
		if err != nil {
			continue // ended meanwhile
		}
		byNS[ns] = r.ID
		out[r.ID] = u // what the cgroup had; the walk fills the rest
		found[r.ID] = cg
	}
	if len(byNS) > 0 {
		sumProcs(byNS, found, out)
	}
	return out
}

// cgroupFound says which fields a session's cgroup gave.
type cgroupFound struct{ cpu, mem, pids bool }

func (f cgroupFound) complete() bool { return f.cpu && f.mem && f.pids }

// cgroupUsage reads the usage of the cgroups pid is in, where they are
// loginjail's own (a jail without a cgroup of its own sits in its
// builder's, whose usage is not the session's).
func cgroupUsage(pid int) (Usage, cgroupFound) {
	var u Usage
	var f cgroupFound
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return u, f
	}
	for line := range strings.Lines(string(b)) {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], "loginjail") {
			continue
		}
		ctrls, path := parts[1], parts[2]
		if ctrls == "" { // v2
			dir := filepath.Join(cgroupRoot, path)
			if v, ok := keyedValue(filepath.Join(dir, "cpu.stat"), "usage_usec"); ok {
				u.CPUSeconds, f.cpu = float64(v)/1e6, true
			}
			if v, ok := readInt(filepath.Join(dir, "memory.current")); ok {
				u.MemoryBytes, f.mem = v, true
			}
			if v, ok := readInt(filepath.Join(dir, "pids.current")); ok {
				u.Pids, f.pids = int(v), true
			}
			continue
		}
		dir := filepath.Join(cgroupRoot, ctrls, path)
		for _, c := range strings.Split(ctrls, ",") {
			switch c {
			case "cpuacct":
				if v, ok := readInt(filepath.Join(dir, "cpuacct.usage")); ok {
					u.CPUSeconds, f.cpu = float64(v)/1e9, true
				}
			case "memory":
				if v, ok := readInt(filepath.Join(dir, "memory.usage_in_bytes")); ok {
					u.MemoryBytes, f.mem = v, true
				}
			case "pids":
				if v, ok := readInt(filepath.Join(dir, "pids.current")); ok {
					u.Pids, f.pids = int(v), true
				}
			}
		}
	}
	return u, f
}

// sumProcs walks /proc once and adds each process in one of byNS's pid
// namespaces to its session's usage, for the fields its cgroup did not
// give (found). CPU counts each live process's own time plus the time of the
// children it reaped (cutime, cstime): the jail's init reaps every
// orphan, so a dead process's time is counted once, in its reaper.
func sumProcs(byNS map[string]string, found map[string]cgroupFound, out map[string]Usage) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return
	}
	page := int64(os.Getpagesize())
	type sums struct {
		ticks uint64
		rss   int64
		n     int
	}
	acc := map[string]*sums{}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		ns, err := os.Readlink(filepath.Join(dir, "ns", "pid"))
		if err != nil {
			continue
		}
		id, ok := byNS[ns]
		if !ok {
			continue
		}
		ticks, rssPages, err := procStat(filepath.Join(dir, "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		s := acc[id]
		if s == nil {
			s = &sums{}
			acc[id] = s
		}
		s.ticks += ticks
		s.rss += rssPages * page
		s.n++
	}
	for id, s := range acc {
		u, f := out[id], found[id]
		if !f.cpu {
			u.CPUSeconds = float64(s.ticks) / clockTicks
		}
		if !f.mem {
			u.MemoryBytes = s.rss
		}
		if !f.pids {
			u.Pids = s.n
		}
		out[id] = u
	}
}

// procStat reads utime+stime+cutime+cstime (clock ticks) and rss (pages)
// from a /proc/PID/stat file.
func procStat(path string) (ticks uint64, rss int64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime..cstime are fields 14..17, rss 24.
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("%s: %d fields", path, len(f)+2)
	}
	for _, s := range f[11:15] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		ticks += v
	}
	rss, err = strconv.ParseInt(f[21], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return ticks, rss, nil
}

// readInt reads a cgroup file holding one integer.
func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// keyedValue reads "key value" from a flat-keyed cgroup file (cpu.stat).
func keyedValue(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
