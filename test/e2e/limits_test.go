package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/test/testutil"
)

// cgroupV1 is where this host keeps the v1 hierarchy of ctrl; "" on a v2
// host. The limit tests check the host side there.
func cgroupFile(t *testing.T, ctrl, rel, file string) string {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return filepath.Join("/sys/fs/cgroup", rel, file) // v2
	}
	return filepath.Join("/sys/fs/cgroup", ctrl, rel, file)
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// TestForkBombHeldByPids: a fork bomb meets pids.max inside the jail and
// the host keeps forking.
func TestForkBombHeldByPids(t *testing.T) {
	e := newEnv(t, "[jail.limits]\npids = 40\n")
	u := testutil.NewUser(t, "forkbomb")
	script := `perl -e '
my @kids;
while (@kids < 1000) { my $p = fork; last unless defined $p; if ($p == 0) { sleep 20; exit 0 } push @kids, $p }
print "forked ", scalar(@kids), "\n"; kill 9, @kids; 1 while wait != -1;'; echo after`
	stdout, stderr, code := e.run(u, script)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	var n int
	if i := strings.Index(stdout, "forked"); i >= 0 {
		fmt.Sscanf(stdout[i:], "forked %d", &n)
	}
	if n < 10 || n >= 40 {
		t.Errorf("fork bomb forked %d processes: want fewer than pids = 40 (and some)\n%s", n, stdout)
	}
	if !strings.Contains(stdout, "after") {
		t.Errorf("the session did not go on after the bomb: %q", stdout)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("host cannot fork after the bomb: %v", err)
	}
}

// TestMemoryBombOOMInside: a process over memory is OOM-killed inside the
// jail; the session's shell and the host live on.
func TestMemoryBombOOMInside(t *testing.T) {
	e := newEnv(t, "[jail.limits]\nmemory = \"64M\"\n")
	u := testutil.NewUser(t, "membomb")
	stdout, stderr, code := e.run(u, `perl -e '$x = "a" x (512 * 1024 * 1024); print "survived\n"'; echo "status $?"; echo alive`)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "status 137\n") || strings.Contains(stdout, "survived") || !strings.Contains(stdout, "alive\n") {
		t.Errorf("want the bomb SIGKILLed (137) and the shell alive, got %q", stdout)
	}
}

// TestLimitsOnHostCgroup: the session's cgroup holds the policy's limits
// and goes with the session; with per_user the limits sit on the user's
// cgroup, shared by their sessions.
func TestLimitsOnHostCgroup(t *testing.T) {
	for _, perUser := range []bool{false, true} {
		t.Run(fmt.Sprintf("per_user=%v", perUser), func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("[jail.limits]\npids = 55\nmemory = \"128M\"\ncpu = 0.25\nper_user = %v\n", perUser))
			u := testutil.NewUser(t, fmt.Sprintf("cg%v", perUser))
			b1 := e.start(u, "exec sleep 600")
			limited := "loginjail/" + b1.sess.ID
			sess := limited
			if perUser {
				limited = "loginjail/u" + strconv.Itoa(u.UID)
				sess = limited + "/" + b1.sess.ID
			}
			if got := readTrim(cgroupFile(t, "pids", limited, "pids.max")); got != "55" {
				t.Errorf("pids.max of %s = %q, want 55", limited, got)
			}
			if got := readTrim(cgroupFile(t, "cpu", limited, "cpu.cfs_quota_us")); got != "25000" && !strings.HasPrefix(readTrim(cgroupFile(t, "cpu", limited, "cpu.max")), "25000 ") {
				t.Errorf("cpu quota of %s = %q, want 25000", limited, got)
			}
			if procs := readTrim(cgroupFile(t, "pids", sess, "cgroup.procs")); !strings.Contains(" "+strings.Join(strings.Fields(procs), " ")+" ", fmt.Sprintf(" %d ", b1.sess.Pid)) {
				t.Errorf("init %d not in %s: %q", b1.sess.Pid, sess, procs)
			}
			e.lj("kill", b1.sess.ID)
			b1.wait(t)
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err1 := os.Stat(cgroupFile(t, "pids", sess, ""))
				_, err2 := os.Stat(cgroupFile(t, "pids", limited, ""))
				if os.IsNotExist(err1) && os.IsNotExist(err2) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("cgroups %s / %s left after kill", sess, limited)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestCgroupReclaimedByGC: a run killed with SIGKILL leaves its cgroup;
// gc removes it.
func TestCgroupReclaimedByGC(t *testing.T) {
	e := newEnv(t, "[jail.limits]\npids = 60\n")
	u := testutil.NewUser(t, "cggc")
	b := e.start(u, "exec sleep 600")
	b.cmd.Process.Kill()
	b.wait(t)
	// Its init ends its processes and exits when the control connection
	// drops; gc reclaims sessions whose init is gone.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", b.sess.Pid)); os.IsNotExist(err) {
			break
		}
	}
	if _, err := os.Stat(cgroupFile(t, "pids", "loginjail/"+b.sess.ID, "")); err != nil {
		t.Errorf("cgroup of %s should outlive a killed run until gc: %v", b.sess.ID, err)
	}
	e.lj("gc")
	e.assertGone(b.sess)
	if _, err := os.Stat(cgroupFile(t, "pids", "loginjail/"+b.sess.ID, "")); !os.IsNotExist(err) {
		t.Errorf("cgroup of %s left after gc: %v", b.sess.ID, err)
	}
}

// TestMissingControllerIsNamed: a limit the host cannot enforce fails the
// login naming the controller, unless best_effort, which logs it. On a
// host that has an io weight (v2's io controller, v1's blkio weight) the
// same limit must be taken instead: the login runs, without best_effort.
func TestMissingControllerIsNamed(t *testing.T) {
	if ctrl, ok := ioWeightAvailable(t); ok {
		e := newEnv(t, "[jail.limits]\nio_weight = 100\n")
		u := testutil.NewUser(t, "io")
		stdout, stderr, code := e.run(u, "echo ran")
		if code != 0 || stdout != "ran\n" || strings.Contains(stderr, "limit not enforced") {
			t.Errorf("io_weight on a host with %s: exit %d, stdout %q, stderr %q", ctrl, code, stdout, stderr)
		}
		return
	}
	e := newEnv(t, "[jail.limits]\nio_weight = 100\n")
	u := testutil.NewUser(t, "noio")
	_, stderr, code := e.run(u, "true")
	if code == 0 || !strings.Contains(stderr, "cgroup controller blkio is not available") {
		t.Errorf("exit %d, stderr %q: want a failure naming blkio", code, stderr)
	}
	e2 := newEnv(t, "[jail.limits]\nio_weight = 100\nbest_effort = true\n")
	stdout, stderr, code := e2.run(u, "echo ran")
	if code != 0 || stdout != "ran\n" || !strings.Contains(stderr, "limit not enforced") {
		t.Errorf("best_effort: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// ioWeightAvailable says whether this host offers an io weight, and
// through what: on v2 the io controller of the root, on v1 a blkio
// hierarchy with blkio.weight (CFQ) or blkio.bfq.weight (BFQ).
func ioWeightAvailable(t *testing.T) (string, bool) {
	t.Helper()
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "v2 io controller", slices.Contains(strings.Fields(string(b)), "io")
	}
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/blkio", f)); err == nil {
			return "v1 " + f, true
		}
	}
	return "", false
}
