package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// maxIdleConnThreads bounds the average thread count of an idle
// session's per-connection process: the main thread (PAM), sysmon, the
// runtime's template thread and the one running Go, and now and then one
// the runtime started after the idle ones were ended. Without ending
// them it was 5.3-6 (issue 17: each thread is a 16 KiB kernel stack and
// a task struct for the session's whole life).
const maxIdleConnThreads = 5.0

// TestSshdIdleConnThreads holds a few idle sessions and counts their
// per-connection processes' threads, as bench/scale.sh does.
func TestSshdIdleConnThreads(t *testing.T) {
	const k = 6
	s := newSSHD(t, "", "")
	u := testutil.NewUser(t, "sshdidle")
	s.authorize(u, "")
	for i := 0; i < k; i++ {
		s.startSSH(u, "echo ready; exec sleep 300")
	}
	var conns []int
	deadline := time.Now().Add(20 * time.Second)
	for len(conns) < k && time.Now().Before(deadline) {
		conns = conns[:0]
		for _, p := range s.e.ps() {
			if p.User == u.Name && p.Pid > 0 {
				conns = append(conns, connProcess(t, p))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(conns) != k {
		t.Fatalf("%d sessions of %s listed, want %d", len(conns), u.Name, k)
	}
	// The threads go a second after the login's first process starts;
	// sampling before that would let a lucky old binary pass.
	time.Sleep(3 * time.Second)
	var avg float64
	counts := make([]int, k)
	for deadline := time.Now().Add(15 * time.Second); ; {
		sum := 0
		for i, pid := range conns {
			counts[i], _ = strconv.Atoi(procStatus(t, pid)["Threads"])
			sum += counts[i]
		}
		avg = float64(sum) / k
		if avg <= maxIdleConnThreads || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("idle per-connection processes' threads: %v (average %.2f)", counts, avg)
	if avg > maxIdleConnThreads {
		for _, pid := range conns {
			t.Logf("pid %d: %s", pid, threadStates(pid))
		}
		t.Errorf("idle per-connection processes have %.2f threads on average (%v), want at most %.1f", avg, counts, maxIdleConnThreads)
	}
}

// threadStates says where each thread of pid waits (tid, state, kernel
// wait channel and syscall), for a failure's log.
func threadStates(pid int) string {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, e := range ents {
		wchan, _ := os.ReadFile(filepath.Join(dir, e.Name(), "wchan"))
		sc, _ := os.ReadFile(filepath.Join(dir, e.Name(), "syscall"))
		st, _ := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		state := "?"
		if _, rest, ok := strings.Cut(string(st), ") "); ok && rest != "" {
			state = rest[:1]
		}
		nr, _, _ := strings.Cut(strings.TrimSpace(string(sc)), " ")
		out = append(out, fmt.Sprintf("%s %s %s syscall %s", e.Name(), state, wchan, nr))
	}
	return strings.Join(out, "; ")
}
