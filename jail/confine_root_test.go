package jail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/test/testutil"
)

// statusField returns a field of /proc/PID/status as the jail printed it.
func statusField(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// confinementProbe prints what a jailed process is held to.
const confinementProbe = `cat /proc/self/status; echo "nofile:$(ulimit -n)"; echo "nproc:$(awk '/Max processes/{print $3}' /proc/self/limits)"; ` +
	`sed 's/^/cgroup /' /proc/self/cgroup; ls /proc/self/fd | tr '\n' ' ' | sed 's/^/fds:/'; echo`

func TestConfinementOfSpawnedProcess(t *testing.T) {
	requireRoot(t)
	for _, mode := range []string{UserModeSelf, UserModeRoot} {
		t.Run(mode, func(t *testing.T) {
			spec := testSpec(t, mode)
			spec.Confine = Confinement{
				Limits: Limits{Pids: 100, Memory: 256 << 20, CPU: 0.5, Nofile: 512, Nproc: 300},
			}
			if mode == UserModeRoot {
				spec.Confine.Caps = DefaultRootCaps
			}
			j, err := Start(context.Background(), spec)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer j.Stop(time.Second)
			uid := spec.InsideUID()
			out, serr, st := runIn(t, j, uid, uid, "sh", "-c", confinementProbe)
			if st.Code != 0 {
				t.Fatalf("exit %d: %s", st.Code, serr)
			}
			wantBnd := "0000000000000000"
			if mode == UserModeRoot {
				m, _ := CapMask(DefaultRootCaps)
				wantBnd = fmt.Sprintf("%016x", m)
			}
			checks := map[string]string{
				"CapBnd": wantBnd, "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
				"nofile": "512", "nproc": "300",
			}
			if mode == UserModeSelf {
				checks["CapEff"], checks["CapPrm"] = "0000000000000000", "0000000000000000"
			} else {
				checks["CapEff"] = wantBnd
			}
			for k, want := range checks {
				if got := statusField(out, k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			if got := statusField(out, "fds"); got != "0 1 2 3" { // 3: the fd ls reads /proc/self/fd with
				t.Errorf("open fds: %q, want 0 1 2 (and ls's own 3)", got)
			}
			// The cgroup namespace is rooted at the session's cgroup.
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "cgroup ") {
					f := strings.SplitN(strings.TrimPrefix(line, "cgroup "), ":", 3)
					if len(f) == 3 && f[2] != "/" {
						t.Errorf("cgroup view %q: want / for every hierarchy", line)
					}
				}
			}
			// The limits are on the host side, in the files of the
			// host's cgroup version. This host's (v1 or hybrid here) is
			// checked on every run; the VM test bed (test/vm) boots a
			// pure v2 kernel, where the v2 files are the ones read.
			rel, _ := cgroupRel(spec.ID, spec.UID, false)
			limits := map[string]string{
				"pids/" + rel + "/pids.max":                "100",
				"memory/" + rel + "/memory.limit_in_bytes": strconv.Itoa(256 << 20),
				"cpu/" + rel + "/cpu.cfs_quota_us":         "50000",
			}
			procs := filepath.Join("pids", rel, "cgroup.procs")
			dirs := make([]string, 0, len(v1Controllers))
			for _, ctrl := range v1Controllers {
				dirs = append(dirs, filepath.Join(ctrl, rel))
			}
			if hostCgroups.v2 {
				limits = map[string]string{
					rel + "/pids.max":   "100",
					rel + "/memory.max": strconv.Itoa(256 << 20),
					rel + "/cpu.max":    "50000 100000",
				}
				procs, dirs = filepath.Join(rel, "cgroup.procs"), []string{rel}
			}
			for file, want := range limits {
				b, err := os.ReadFile(filepath.Join(hostCgroups.root, file))
				if got := strings.TrimSpace(string(b)); err != nil || got != want {
					t.Errorf("%s: %q %v, want %q", file, got, err, want)
				}
			}
			b, err := os.ReadFile(filepath.Join(hostCgroups.root, procs))
			if !slices.Contains(strings.Fields(string(b)), strconv.Itoa(j.Pid)) {
				t.Errorf("init %d is not in %s: %q %v", j.Pid, procs, b, err)
			}
			if err := j.Stop(time.Second); err != nil {
				t.Fatal(err)
			}
			for _, d := range dirs {
				if _, err := os.Stat(filepath.Join(hostCgroups.root, d)); err == nil {
					t.Errorf("cgroup %s left after Stop", d)
				}
			}
		})
	}
}

// TestSeccompDeniesAndInitSurvives runs the denied calls through perl's
// syscall() (numbers of x86_64) and checks init serves on afterwards.
func TestSeccompDeniesAndInitSurvives(t *testing.T) {
	requireRoot(t)
	testutil.RequireTool(t, "/usr/bin/perl") // run in the jail, which sees the host's /usr
	spec := testSpec(t, UserModeRoot)
	spec.Confine = Confinement{Caps: DefaultRootCaps, Seccomp: Seccomp{Deny: []string{"uname"}}}
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer j.Stop(time.Second)
	script := `
use POSIX; use Errno;
sub try { my ($name, $r) = @_; printf "%s %s\n", $name, ($r == -1 ? ($!{EPERM} ? "EPERM" : "errno" . ($!+0)) : "ok"); }
try("keyctl", syscall(250, 0, 0, 0, 0, 0));
my ($type, $desc, $val, $ch) = ("user", "k", "v", "x"); my $buf = "x" x 400;
try("add_key", syscall(248, $type, $desc, $val, 1, -4));
try("bpf", syscall(321, 0, 0, 0));
try("perf_event_open", syscall(298, 0, 0, -1, -1, 0));
try("io_uring_setup", syscall(425, 1, 0));
try("unshare_user", syscall(272, 0x10000000));
try("unshare_none", syscall(272, 0));
try("uname", syscall(63, $buf));
try("tiocsti", syscall(16, 0, 0x5412, $ch));
try("tiocsti_hi", syscall(16, 0, 0x100005412, $ch));
`
	out, serr, st := runIn(t, j, 0, 0, "perl", "-e", script)
	if st.Code != 0 {
		t.Fatalf("perl: exit %d: %s", st.Code, serr)
	}
	for _, want := range []string{"keyctl EPERM", "add_key EPERM", "bpf EPERM", "perf_event_open EPERM", "io_uring_setup EPERM",
		"unshare_user EPERM", "uname EPERM", "tiocsti EPERM", "tiocsti_hi EPERM"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "unshare_none ok\n") {
		t.Errorf("unshare(0) must pass the filter:\n%s", out)
	}
	if o, _, st := runIn(t, j, 0, 0, "true"); st.Code != 0 {
		t.Errorf("init stopped serving after the probes: %q %+v", o, st)
	}
}

// TestMissingControllerNamed asks for a limit this host may lack and
// checks the error names it, and that best_effort starts anyway.
func TestMissingControllerNamed(t *testing.T) {
	requireRoot(t)
	h := cgroupHost{root: t.TempDir()} // no hierarchy mounted there
	spec := testSpec(t, UserModeSelf)
	spec.Confine.Limits = Limits{Pids: 10}
	_, err := createCgroupFromParent(h, spec)
	if err == nil || !strings.Contains(err.Error(), "cgroup controller pids is not available") {
		t.Fatalf("err = %v, want one naming pids", err)
	}
	// With best_effort the limit is dropped with a warning, and a host
	// with no hierarchy at all runs the session without a cgroup.
	spec.Confine.Limits.BestEffort = true
	c, err := createCgroupFromParent(h, spec)
	if err != nil || len(c.dirs) != 0 {
		t.Fatalf("best_effort: %+v, %v", c, err)
	}
}

// TestCgroupV2CloneInto: init must be born in the session's v2 cgroup
// (clone3 CLONE_INTO_CGROUP) with its cgroup namespace rooted there. On a
// v2 host that is the host's own hierarchy; on a hybrid host the v2 code
// runs on the unified mount (no controllers there, so no limits), so the
// v2 path is exercised here too.
func TestCgroupV2CloneInto(t *testing.T) {
	requireRoot(t)
	if !hostCgroups.v2 {
		const unified = "/sys/fs/cgroup/unified"
		var st unix.Statfs_t
		if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			testutil.Missing(t, "a v1 host without a cgroup2 mount at %s: no v2 code to run", unified)
		}
		saved := hostCgroups
		hostCgroups = cgroupHost{v2: true, root: unified}
		defer func() { hostCgroups = saved }()
	}
	root := hostCgroups.root
	spec := testSpec(t, UserModeSelf)
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer j.Stop(time.Second)
	rel, _ := cgroupRel(spec.ID, spec.UID, false)
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", j.Pid))
	if !strings.Contains(string(b), "0::/"+rel+"\n") {
		t.Errorf("init's cgroups on the host:\n%s\nwant 0::/%s", b, rel)
	}
	b, err = os.ReadFile(filepath.Join(root, rel, "cgroup.procs"))
	if !slices.Contains(strings.Fields(string(b)), strconv.Itoa(j.Pid)) {
		t.Errorf("init %d is not in %s/cgroup.procs: %q %v", j.Pid, rel, b, err)
	}
	out, serr, code := runIn(t, j, 4242, 4242, "cat", "/proc/self/cgroup")
	if code.Code != 0 || !strings.Contains(out, "0::/\n") {
		t.Errorf("inside: %q %q: want 0::/", out, serr)
	}
	j.Stop(time.Second)
	if _, err := os.Stat(filepath.Join(root, rel)); err == nil {
		t.Errorf("%s left after Stop", rel)
	}
}

// lateTestDriver is the cgroupfs driver on a unified mount that places
// init the systemd driver's way: cloned without a cgroup namespace,
// moved in by a cgroup.procs write where systemd would move it into its
// scope, then released to make the namespace in its C prestart.
type lateTestDriver struct{ cgroupfsDriver }

func (d lateTestDriver) createFromParent(spec *Spec) (cgroupPlacement, error) {
	c, err := createCgroupFromParent(d.host, spec)
	if err != nil {
		return nil, err
	}
	dir := c.dirs[0]
	return &latePlacement{place: func(pid int) error {
		return writeCgroupFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid))
	}}, nil
}

// TestLateCgroupNamespace proves the systemd driver's order on this
// host: init, moved after its clone, still has its cgroup namespace
// rooted at the session's cgroup, and serves as usual.
func TestLateCgroupNamespace(t *testing.T) {
	requireRoot(t)
	h := hostCgroups
	if !h.v2 {
		const unified = "/sys/fs/cgroup/unified"
		var st unix.Statfs_t
		if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no cgroup2 mount at " + unified)
		}
		h = cgroupHost{v2: true, root: unified}
	}
	saved := currentCgroupDriver
	currentCgroupDriver = func() cgroupDriver { return lateTestDriver{cgroupfsDriver{host: h}} }
	defer func() { currentCgroupDriver = saved }()
	spec := testSpec(t, UserModeSelf)
	j, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer j.Stop(time.Second)
	rel, _ := cgroupRel(spec.ID, spec.UID, false)
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", j.Pid))
	if !strings.Contains(string(b), "0::/"+rel+"\n") {
		t.Errorf("init's cgroups on the host:\n%s\nwant 0::/%s", b, rel)
	}
	out, serr, code := runIn(t, j, 4242, 4242, "cat", "/proc/self/cgroup")
	if code.Code != 0 || !strings.Contains(out, "0::/\n") {
		t.Errorf("inside: %q %q: want 0::/", out, serr)
	}
	// Init made its own namespace: not the host's.
	host, _ := os.Readlink("/proc/self/ns/cgroup")
	jail, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", j.Pid))
	if host == "" || host == jail {
		t.Errorf("jail cgroup ns %q, host %q: want a new one", jail, host)
	}
	j.Stop(time.Second)
	if _, err := os.Stat(filepath.Join(h.root, rel)); err == nil {
		t.Errorf("%s left after Stop", rel)
	}
}
