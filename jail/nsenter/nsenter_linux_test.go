package nsenter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/test/testutil"
)

// These tests re-execute the test binary itself as the enter process: the
// constructor in nsexec_linux.c takes over before Go's runtime (and so before
// TestMain or any test) when _LOGINJAIL_NSENTER is set, so no dispatch is
// needed here.

// namespaces are the ones a jail has and enter joins.
var namespaces = []string{"user", "mnt", "pid", "uts", "ipc", "net", "cgroup"}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root")
	}
}

// target is a stand-in for a jail's init.
type target struct {
	pid   int // host pid
	pidfd int
}

// startTarget clones a process into new user, mount, pid, UTS, IPC, net and
// cgroup namespaces the way jail.Start does (uid 0 inside is host 100000),
// mounts a proc of its pid namespace and sleeps. With denySetgroups the user
// namespace forbids setgroups, as an unprivileged map writer must.
func startTarget(t *testing.T, denySetgroups bool) *target {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "mount -t proc proc /proc && exec sleep 600")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET | syscall.CLONE_NEWCGROUP,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappingsEnableSetgroups: !denySetgroups,
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0},
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start target: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	// Wait for the exec of sleep: by then the jail's /proc is mounted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			t.Fatalf("target exited: %v", err)
		}
		if string(comm) == "sleep\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target still %q after 5s", comm)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	t.Cleanup(func() { unix.Close(pidfd) })
	return &target{pid: pid, pidfd: pidfd}
}

// config returns a Config for tg running argv as uid 0 with a plain PATH.
func (tg *target) config(argv ...string) Config {
	return Config{
		PidFD: tg.pidfd,
		Cwd:   "/",
		Argv:  argv,
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
	}
}

// run enters with cfg and returns stdout, stderr and the exit code; setup,
// if any, adjusts the command first.
func run(t *testing.T, cfg Config, setup ...func(*exec.Cmd)) (stdout, stderr string, code int) {
	t.Helper()
	cmd, err := Command(cfg)
	if err != nil {
		t.Fatalf("Command: %v", err)
	}
	for _, f := range setup {
		f(cmd)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run: %v", err)
	}
	return out.String(), errb.String(), code
}

// mustRun is run that expects exit 0 and nothing on stderr.
func mustRun(t *testing.T, cfg Config) string {
	t.Helper()
	out, errs, code := run(t, cfg)
	if code != 0 || errs != "" {
		t.Fatalf("%q: exit %d, stderr %q", cfg.Argv, code, errs)
	}
	return out
}

func TestSupported(t *testing.T) {
	if err := Supported(); err != nil {
		t.Fatalf("Supported() = %v on %s", err, kernelRelease())
	}
}

func kernelRelease() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

func TestNamespaces(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	var want []string
	for _, ns := range namespaces {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", tg.pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		self, _ := os.Readlink("/proc/self/ns/" + ns)
		if l == self {
			t.Fatalf("target shares the test's %s namespace", ns)
		}
		want = append(want, l)
	}
	argv := []string{"readlink"}
	for _, ns := range namespaces {
		argv = append(argv, "/proc/self/ns/"+ns)
	}
	for _, viaProc := range []bool{false, true} {
		t.Run(fmt.Sprintf("viaProc=%v", viaProc), func(t *testing.T) {
			cfg := tg.config(argv...)
			cfg.viaProc = viaProc
			got := strings.Fields(mustRun(t, cfg))
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("namespaces inside:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	requireRoot(t)
	for _, deny := range []bool{false, true} {
		tg := startTarget(t, deny)
		for _, tc := range []struct {
			uid, gid uint32
			groups   []uint32
			want     string // id -u; id -g; id -G
		}{
			{0, 0, nil, "0 0 0"},
			{1000, 1000, nil, "1000 1000 1000"},
			{1000, 100, []uint32{100, 27, 5000}, "1000 100 100 27 5000"},
		} {
			name := fmt.Sprintf("deny=%v/uid=%d/groups=%v", deny, tc.uid, tc.groups)
			t.Run(name, func(t *testing.T) {
				cfg := tg.config("sh", "-c", `echo $(id -u) $(id -g) $(id -G)`)
				cfg.UID, cfg.GID, cfg.Groups = tc.uid, tc.gid, tc.groups
				out, errs, code := run(t, cfg)
				if deny && len(tc.groups) > 0 {
					// setgroups is impossible there: without the
					// host groups held before setns, refuse, not
					// run with the wrong groups.
					want := fmt.Sprintf("loginjail enter: 0 supplementary groups, want %d", len(tc.groups))
					if code != ExitEnter || !strings.HasPrefix(errs, want) {
						t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, ExitEnter, want)
					}
					// Holding the host gids the jail maps them from
					// (host 100000+N is N inside) gives them.
					for _, g := range tc.groups {
						cfg.HostGroups = append(cfg.HostGroups, 100000+g)
					}
					out, errs, code = run(t, cfg)
				}
				if code != 0 || errs != "" {
					t.Fatalf("exit %d, stderr %q", code, errs)
				}
				if got := strings.TrimSpace(out); got != tc.want {
					t.Errorf("ids inside = %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// TestHostGroupsDropped: the caller's supplementary groups (here root and
// adm of the host) must not reach the target, even where the jail's user
// namespace denies setgroups.
func TestHostGroupsDropped(t *testing.T) {
	requireRoot(t)
	withHostGroups := func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Groups: []uint32{0, 4}}}
	}
	for _, deny := range []bool{false, true} {
		tg := startTarget(t, deny)
		cfg := tg.config("id", "-G")
		cfg.UID, cfg.GID = 1000, 1000
		out, errs, code := run(t, cfg, withHostGroups)
		if code != 0 || errs != "" || out != "1000\n" {
			t.Errorf("deny=%v: id -G = %q, exit %d, stderr %q; want 1000 alone", deny, out, code, errs)
		}
	}
}

func TestUnmappedUID(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	cfg := tg.config("true")
	cfg.UID = 70000 // the map covers 0..65535
	_, errs, code := run(t, cfg)
	if code != ExitEnter || !strings.HasPrefix(errs, "loginjail enter: setresuid 70000: ") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestExitStatus(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	for _, tc := range []struct {
		argv []string
		code int
	}{
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"sh", "-c", "kill -TERM $$"}, 128 + int(unix.SIGTERM)},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + int(unix.SIGKILL)},
		{[]string{"no-such-command-here"}, ExitNotFound},
		{[]string{"/etc/passwd"}, ExitCannotExec},
	} {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			_, errs, code := run(t, tg.config(tc.argv...))
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errs)
			}
			if code >= ExitCannotExec && code <= ExitNotFound && !strings.HasPrefix(errs, "loginjail enter: exec ") {
				t.Errorf("stderr %q, want an exec error", errs)
			}
		})
	}
}

func TestStoppedTarget(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	if err := unix.Kill(tg.pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer unix.Kill(tg.pid, unix.SIGCONT)
	waitState(t, tg.pid, 'T')
	if out := mustRun(t, tg.config("echo", "in")); out != "in\n" {
		t.Errorf("stdout %q", out)
	}
}

// waitState waits until /proc/pid/stat shows state.
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	for range 500 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == state {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d never reached state %c", pid, state)
}

func TestBadPidFD(t *testing.T) {
	requireRoot(t)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()

	// A pidfd of a process that is gone.
	dead := exec.Command("true")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	deadfd, err := unix.PidfdOpen(dead.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(deadfd)
	dead.Wait()

	for _, tc := range []struct {
		name    string
		fd      int
		viaProc bool
		want    string
	}{
		{"not a pidfd", int(devnull.Fd()), false, "loginjail enter: setns: fd 4 is not a pidfd: Invalid argument\n"},
		{"dead process", deadfd, false, "loginjail enter: setns: No such process\n"},
		{"dead process via proc", deadfd, true, "loginjail enter: pidfd 4: No such process\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := run(t, Config{PidFD: tc.fd, Argv: []string{"true"}, viaProc: tc.viaProc})
			if code != ExitEnter || errs != tc.want || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want %d, %q", code, errs, out, ExitEnter, tc.want)
			}
		})
	}

	// A fd that is not open cannot even be passed on.
	if _, err := Command(Config{PidFD: 1 << 20, Argv: []string{"true"}}); err == nil {
		t.Error("Command with a closed fd: no error")
	}
}

// TestBadConfig feeds the C side broken configs directly and wants exit 125
// with one line, whatever the damage. The config is read and checked
// before any privileged step, so this runs without root.
func TestBadConfig(t *testing.T) {
	good, err := encode(Config{Argv: []string{"true"}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	le := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	with := func(off int, b []byte) []byte {
		m := bytes.Clone(good)
		copy(m[off:], b)
		return m
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "config: truncated"},
		{"magic", with(0, []byte("XXXX")), "config: bad magic"},
		{"version", with(4, le(9)), "config: unknown version 9"},
		{"huge", with(8, le(^uint32(0))), "config: payload of 4294967295 bytes exceeds"},
		{"short", good[:len(good)-1], "config: truncated"},
		{"long", with(8, le(uint32(len(good)-12+4))), "config: truncated"},
		{"trailing", append(with(8, le(uint32(len(good)-12+4))), 0, 0, 0, 0), "config: 4 trailing bytes"},
		{"groups", with(12+16, le(1<<30)), "config: groups: bad count"},
		{"host groups", with(12+20, le(1<<30)), "config: host groups: bad count"},
		{"cwd", with(12+24, le(1<<30)), "config: cwd: bad length"},
		{"argv count", with(12+28, le(0)), "config: argv: empty"},
		{"flags", with(12+12, le(8)), "config: unknown flags"},
		{"uid", with(12+4, le(^uint32(0))), "config: uid/gid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := configPipe(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd := exec.Command("/proc/self/exe")
			cmd.Env = []string{envName + "=3"}
			cmd.ExtraFiles = []*os.File{r}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err = cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != ExitEnter {
				t.Fatalf("run: %v, want exit %d", err, ExitEnter)
			}
			errs := errb.String()
			if !strings.HasPrefix(errs, "loginjail enter: "+tc.want) || strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr %q, want one line starting %q", errs, tc.want)
			}
		})
	}
}

func TestEnvironmentAndFDs(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)

	cmd, err := Command(tg.config("true"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"_LOGINJAIL_NSENTER=3"}; strings.Join(cmd.Env, ",") != want[0] {
		t.Errorf("enter process env = %q, want %q", cmd.Env, want)
	}

	// PATH comes from Config.Env (env is found through it) and env prints
	// exactly the environment given.
	cfg := tg.config("env")
	cfg.Env = []string{"PATH=/nonexistent:/usr/bin:/bin", "A=b c", "EMPTY="}
	if out := mustRun(t, cfg); out != strings.Join(cfg.Env, "\n")+"\n" {
		t.Errorf("env inside = %q, want %q", out, cfg.Env)
	}

	// Only stdio is open in the target, even with a leaked fd in the caller.
	leak, err := unix.Open("/etc/hostname", unix.O_RDONLY, 0) // without O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(leak)
	cmd, err = Command(tg.config("ls", "/proc/self/fd"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// ls holds one more fd of its own for reading the directory.
	if fds := strings.Fields(string(out)); len(fds) != 4 || strings.Join(fds[:3], " ") != "0 1 2" {
		t.Errorf("fds open in the target: %q, want 0 1 2 and ls's own", fds)
	}
}

func TestCwd(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	for cwd, want := range map[string]string{
		"/proc/sys":        "/proc/sys",
		"/nonexistent/dir": "/",
		"":                 "/",
	} {
		cfg := tg.config("pwd")
		cfg.Cwd = cwd
		if out := mustRun(t, cfg); out != want+"\n" {
			t.Errorf("Cwd %q: pwd = %q, want %q", cwd, out, want)
		}
	}
	// A directory only root may enter falls back too for uid 1000.
	cfg := tg.config("pwd")
	cfg.UID, cfg.GID, cfg.Cwd = 1000, 1000, "/root"
	if fi, err := os.Stat("/root"); err == nil && fi.Mode().Perm()&0o001 == 0 {
		if out := mustRun(t, cfg); out != "/\n" {
			t.Errorf("Cwd /root as uid 1000: pwd = %q, want /", out)
		}
	}
}

func TestSetsid(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	ptmx, pts := openPty(t)
	defer ptmx.Close()
	defer pts.Close()

	// The shell is a session leader (its sid is its pid) and has a
	// controlling terminal (/dev/tty opens), which is the pty on stdin.
	cfg := tg.config("sh", "-c", `set -e; read pid x x x x sid rest </proc/self/stat; `+
		`sh -c 'exit 0' </dev/tty; echo "$$ $sid"`)
	cfg.Setsid = true
	cmd, err := Command(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v, stderr %q", err, errb.String())
	}
	f := strings.Fields(out.String())
	if len(f) != 2 || f[0] != f[1] {
		t.Errorf("pid and sid inside = %q, want equal", f)
	}

	// Without a terminal on stdin, Setsid fails cleanly.
	cfg = tg.config("true")
	cfg.Setsid = true
	_, errs, code := run(t, cfg)
	if code != ExitEnter || !strings.HasPrefix(errs, "loginjail enter: set controlling terminal") {
		t.Errorf("Setsid without a tty: exit %d, stderr %q", code, errs)
	}
}

// openPty returns a fresh pty pair.
func openPty(t *testing.T) (ptmx, pts *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testutil.Missing(t, "no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(filepath.Join("/dev/pts", strconv.Itoa(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func TestSignalForwarding(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			script := fmt.Sprintf(`trap 'exit 3' %d; echo ready; while :; do sleep 0.05; done`, sig)
			cmd, err := Command(tg.config("sh", "-c", script))
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
				cmd.Process.Kill()
				t.Fatalf("first line %q", line)
			}
			cmd.Process.Signal(sig)
			// Without forwarding the target would loop forever.
			timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			defer timer.Stop()
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Errorf("wait: %v, want exit 3 from the trap", err)
			}
		})
	}
}

// TestTerminalInterrupt: without Setsid the target shares the enter
// process's terminal and process group, so ^C reaches it straight from the
// terminal (and is not forwarded a second time).
func TestTerminalInterrupt(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	ptmx, pts := openPty(t)
	defer ptmx.Close()
	defer pts.Close()
	cmd, err := Command(tg.config("sh", "-c", `trap 'exit 3' INT; echo ready; while :; do sleep 0.05; done`))
	if err != nil {
		t.Fatal(err)
	}
	// The enter process leads a session whose terminal is the pty, as an
	// admin's `loginjail enter` in a terminal would be.
	cmd.Stdin = pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("first line %q", line)
	}
	timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	ptmx.Write([]byte{3}) // ^C
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("wait: %v, want exit 3 from the trap", err)
	}
}

// TestKillEnterKillsTarget: SIGKILL of the enter process reaches the target
// through its parent-death signal.
func TestKillEnterKillsTarget(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	cmd, err := Command(tg.config("sh", "-c", `echo $$; exec sleep 60`))
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once the shell printed, the enter process has forked it.
	bufio.NewReader(stdout).ReadString('\n')
	// The target, as the host sees it: the child of the enter process.
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(kids)))
	if err != nil {
		t.Fatalf("children of the enter process: %q", kids)
	}
	childfd, err := unix.PidfdOpen(child, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(childfd)
	cmd.Process.Kill()
	cmd.Wait()
	fds := []unix.PollFd{{Fd: int32(childfd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 5000); err != nil || n != 1 {
		t.Errorf("target %d still alive 5s after the enter process was killed (%v)", child, err)
	}
}

// TestNonDumpable: the enter process waits in the jail's user namespace as
// host root, where the jail's root holds CAP_SYS_PTRACE. Only being
// non-dumpable keeps the jail from ptracing it or opening its exe (our
// binary). The probe is util-linux nsenter joining only the jail's user
// namespace as its root, so it still sees host pids.
func TestNonDumpable(t *testing.T) {
	requireRoot(t)
	testutil.RequireTool(t, "nsenter") // util-linux
	tg := startTarget(t, false)
	cmd, err := Command(tg.config("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// Wait for the enter process to be in the jail and its child to have
	// exec'd the target: before the exec the child is still a
	// non-dumpable copy of the enter process, and the control below
	// would fail under load.
	var child int
	for range 500 {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if child, err = strconv.Atoi(strings.TrimSpace(string(kids))); err == nil {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(comm)) == "sleep" {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	probe := func(pid int) error {
		return exec.Command("nsenter", fmt.Sprintf("--user=/proc/%d/ns/user", tg.pid),
			"readlink", fmt.Sprintf("/proc/%d/exe", pid)).Run()
	}
	// The control: the jail's root reads the exe of a dumpable process in
	// the jail (the target after exec).
	if err := probe(child); err != nil {
		t.Fatalf("control: jail root cannot read the exe of the target %d: %v", child, err)
	}
	if err := probe(cmd.Process.Pid); err == nil {
		t.Errorf("jail root read the exe link of enter process %d", cmd.Process.Pid)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for name, cfg := range map[string]Config{
		"empty argv":    {},
		"empty argv[0]": {Argv: []string{""}},
		"NUL in arg":    {Argv: []string{"a", "b\x00c"}},
		"NUL in env":    {Argv: []string{"a"}, Env: []string{"A=\x00"}},
		"NUL in cwd":    {Argv: []string{"a"}, Cwd: "/\x00"},
		"uid -1":        {Argv: []string{"a"}, UID: ^uint32(0)},
		"too big":       {Argv: []string{"a", strings.Repeat("x", maxConfig)}},
		"many groups":   {Argv: []string{"a"}, Groups: make([]uint32, maxGroups+1)},
	} {
		if _, err := encode(cfg, 4); err == nil {
			t.Errorf("%s: encode accepted it", name)
		}
	}
	if _, err := Command(Config{PidFD: -1, Argv: []string{"a"}}); err == nil {
		t.Error("PidFD -1: Command accepted it")
	}
}

// TestBigConfig: a config beyond the pipe's default 64 KiB still goes
// through (configPipe grows the pipe).
func TestBigConfig(t *testing.T) {
	requireRoot(t)
	tg := startTarget(t, false)
	cfg := tg.config("sh", "-c", `printf %s "$BIG" | wc -c`)
	cfg.Env = append(cfg.Env, "BIG="+strings.Repeat("x", 100<<10))
	if out := strings.TrimSpace(mustRun(t, cfg)); out != strconv.Itoa(100<<10) {
		t.Errorf("BIG inside has %s bytes", out)
	}
}
