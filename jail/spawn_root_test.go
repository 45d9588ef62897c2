package jail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpawnExecErrorAndStdio covers both ends of the spawn child (cloned
// with CLONE_VM|CLONE_VFORK, cinit_spawn_linux.c): a failed exec comes
// back as the child's errno, and a good one runs as the user, in its
// directory, with the caller's stdio, many times over without disturbing
// init.
func TestSpawnExecErrorAndStdio(t *testing.T) {
	requireRoot(t)
	spec := testSpec(t, UserModeSelf)
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		j.Stop(time.Second)
		ReclaimSessionDir(spec.SessionDir)
	}()

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdio := []*os.File{devnull, devnull, devnull}
	// Not executable: the exec fails in the child, after fork, and its
	// errno is the answer.
	_, err = j.Spawn(ProcSpec{Argv: []string{"/etc/passwd"}, Dir: spec.Home, UID: 4242, GID: 4242}, stdio)
	if err == nil || !strings.Contains(err.Error(), "exec /etc/passwd: Permission denied") {
		t.Fatalf("spawn of a non-executable file: err %v, want exec /etc/passwd: Permission denied", err)
	}
	_, err = j.Spawn(ProcSpec{Argv: []string{"no-such-command-ljt"}, Env: []string{"PATH=/usr/bin:/bin"}, UID: 4242, GID: 4242}, stdio)
	if err == nil || !strings.Contains(err.Error(), "not found in PATH") {
		t.Fatalf("spawn of a missing command: err %v, want not found in PATH", err)
	}
	for i := range 20 {
		out, serr, st := runIn(t, j, 4242, 4242, "sh", "-c", "id -u; id -g; pwd; echo err >&2; exit 7")
		want := "4242\n4242\n" + spec.Home + "\n"
		if out != want || serr != "err\n" || st.Code != 7 {
			t.Fatalf("run %d: out %q err %q status %+v, want out %q err \"err\\n\" exit 7", i, out, serr, st, want)
		}
	}
}

// BenchmarkSpawnTrue times Spawn to the reported exit of /bin/true in one
// running jail, next to the baseline of this process running /bin/true
// itself (os/exec, no jail), in the same run. cpu-ms/op is what init and
// the processes it reaped used per spawn, from /proc/<init>/stat (in
// 10 ms ticks: use -benchtime of a few hundred iterations or more).
//
//	sudo go test -run '^$' -bench SpawnTrue -benchtime 300x ./jail/
func BenchmarkSpawnTrue(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("requires root")
	}
	b.Run("jail", func(b *testing.B) {
		spec := testSpec(b, UserModeSelf)
		j, err := Start(context.Background(), spec)
		if err != nil {
			b.Fatalf("Start: %v", err)
		}
		defer func() {
			j.Stop(time.Second)
			ReclaimSessionDir(spec.SessionDir)
		}()
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			b.Fatal(err)
		}
		defer devnull.Close()
		stdio := []*os.File{devnull, devnull, devnull}
		ps := ProcSpec{Argv: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: spec.Home, UID: 4242, GID: 4242}
		cpu0 := procTreeCPU(b, j.Pid)
		b.ResetTimer()
		for range b.N {
			p, err := j.Spawn(ps, stdio)
			if err != nil {
				b.Fatal(err)
			}
			if st, err := p.Wait(); err != nil || st.Code != 0 {
				b.Fatalf("/bin/true: %+v, %v", st, err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(procTreeCPU(b, j.Pid)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
	b.Run("host-os-exec", func(b *testing.B) {
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru0)
		for range b.N {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
}

// procTreeCPU is the user+system time of pid and of the children it
// has reaped (fields 14-17 of /proc/PID/stat, in USER_HZ = 100 ticks).
func procTreeCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields resume after comm's closing parenthesis; fields[0] is field 3.
	fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	var ticks uint64
	for _, f := range fields[11:15] {
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			tb.Fatalf("parse /proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// TestInitHasNoChildAfterReady: init builds the jail itself
// (cinit_plan_linux.c) and leaves no child behind, zombie or not, once it
// reports ready.
func TestInitHasNoChildAfterReady(t *testing.T) {
	requireRoot(t)
	for i := range 5 {
		spec := testSpec(t, UserModeSelf)
		spec.ID += strconv.Itoa(i)
		j, err := Start(context.Background(), spec)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		children := fmt.Sprintf("/proc/%d/task/%d/children", j.Pid, j.Pid)
		var left string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			b, err := os.ReadFile(children)
			if err != nil {
				t.Fatal(err)
			}
			if left = strings.TrimSpace(string(b)); left == "" {
				break
			}
		}
		j.Stop(time.Second)
		ReclaimSessionDir(spec.SessionDir)
		if left != "" {
			t.Fatalf("start %d: init still has children %s 5 s after ready (a setup helper not reaped)", i, left)
		}
	}
}

// TestFailedSetupEndsInit: a setup step that fails reports why, as the
// error of Start, and init ends with it (cinit_setup_failed).
func TestFailedSetupEndsInit(t *testing.T) {
	requireRoot(t)
	spec := testSpec(t, UserModeSelf)
	// A home that is not there: the bind of it fails inside the jail.
	spec.Home += "-missing"
	j, err := Start(context.Background(), spec)
	if err == nil {
		j.Stop(time.Second)
		t.Fatal("Start with a missing home succeeded")
	}
	if !strings.Contains(err.Error(), "jail init: root filesystem: ") {
		t.Fatalf("Start: %v, want the init's root filesystem error", err)
	}
	if _, err := os.Stat(spec.SessionDir); !os.IsNotExist(err) {
		t.Errorf("session dir after a failed start: %v, want it gone", err)
	}
}

// TestSeccompOnAndOff: the filter the caller builds reaches the jail's
// processes through init (the plan's handoff), and a policy that turns
// seccomp off leaves them unfiltered.
func TestSeccompOnAndOff(t *testing.T) {
	requireRoot(t)
	for _, off := range []bool{false, true} {
		spec := testSpec(t, UserModeSelf)
		spec.Confine.Seccomp.Off = off
		j, err := Start(context.Background(), spec)
		if err != nil {
			t.Fatalf("Start (seccomp off %v): %v", off, err)
		}
		out, _, _ := runIn(t, j, 4242, 4242, "grep", "^Seccomp:", "/proc/self/status")
		j.Stop(time.Second)
		ReclaimSessionDir(spec.SessionDir)
		want := "Seccomp:\t2\n"
		if off {
			want = "Seccomp:\t0\n"
		}
		if out != want {
			t.Errorf("seccomp off %v: %q, want %q", off, out, want)
		}
	}
}
