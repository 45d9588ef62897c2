package procwait

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// threads is the number of OS threads of this process.
func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

// TestReapHoldsNoThread is the listener's growth of issue 17: many
// per-connection processes ending together must not leave a thread
// each behind in the listener (as a blocking cmd.Wait does).
func TestReapHoldsNoThread(t *testing.T) {
	const n = 64
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = exec.Command("sleep", "0.5")
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	before := threads(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := Reap(c.Process.Pid)
			if err == nil && ws.ExitStatus() != 0 {
				err = os.ErrInvalid
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
	}
	if grew := threads(t) - before; grew > n/4 {
		t.Fatalf("waiting for %d children started %d OS threads; the wait must not hold one each", n, grew)
	}
}

// TestReapStatus: the status the listener judges a crash by.
func TestReapStatus(t *testing.T) {
	exit3 := exec.Command("sh", "-c", "exit 3")
	killed := exec.Command("sleep", "30")
	for _, c := range []*exec.Cmd{exit3, killed} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := Reap(exit3.Process.Pid)
	if err != nil || ws.ExitStatus() != 3 || Describe(ws) != "exit status 3" {
		t.Fatalf("exit 3: got %v (%q), %v", ws.ExitStatus(), Describe(ws), err)
	}
	killed.Process.Signal(syscall.SIGKILL)
	ws, err = Reap(killed.Process.Pid)
	if err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL || Describe(ws) != "signal: killed" {
		t.Fatalf("killed: got %v, %v", Describe(ws), err)
	}
	if _, err := Reap(killed.Process.Pid); err == nil {
		t.Fatal("a reaped child was waited for twice without an error")
	}
}
