package session

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcStat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	// A command name with spaces and a parenthesis; utime 7, stime 3,
	// cutime 20, cstime 10, rss 250 pages.
	line := "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 20 10 20 0 1 0 100 1000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	ticks, rss, err := procStat(p)
	if err != nil || ticks != 40 || rss != 250 {
		t.Errorf("procStat = %d, %d, %v; want 40, 250", ticks, rss, err)
	}
}

// This test process (not in any jail) is measured from /proc when its
// "cgroup" is not loginjail's.
func TestReadUsageProcFallback(t *testing.T) {
	r := &Record{ID: "t1", Pid: os.Getpid()}
	u, ok := ReadUsage([]*Record{r})["t1"]
	if !ok || u.Pids < 1 || u.MemoryBytes <= 0 {
		t.Errorf("usage of the test's own pid namespace: %+v %v", u, ok)
	}
}
