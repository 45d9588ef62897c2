package jail

// Session cgroups. The parent makes them before the jail init exists and
// the init is born inside (v2: clone3 CLONE_INTO_CGROUP; v1: cloned from a
// thread that was moved in first), so the cgroup namespace the clone
// creates is rooted at the session's cgroup and nothing of the jail ever
// runs outside it. Layout, the same under every hierarchy:
//
//	<root>/loginjail/<id>              one session
//	<root>/loginjail/u<uid>/<id>       per_user: the limits sit on u<uid>
//
// Creation and the limit files go through containerd/cgroups (v1 and v2);
// removal is a plain rmdir that gc can run without knowing the limits.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupBase is loginjail's subtree in every hierarchy.
const cgroupBase = "loginjail"

// cpuPeriod is the CFS period the cpu quota is expressed in (100 ms).
const cpuPeriod = 100000

// v1Controllers are the v1 hierarchies a session gets a cgroup in.
var v1Controllers = []string{"memory", "pids", "cpu", "blkio"}

// cgroupHost says where the host's hierarchies are. Tests point it at a
// hybrid host's unified mount to run the v2 code.
type cgroupHost struct {
	v2   bool
	root string // v2: the unified mount; v1: the dir holding one mount per controller
}

// detectCgroupHost reads the host's cgroup mode.
func detectCgroupHost() cgroupHost {
	if cgroups.Mode() == cgroups.Unified {
		return cgroupHost{v2: true, root: "/sys/fs/cgroup"}
	}
	return cgroupHost{root: "/sys/fs/cgroup"}
}

var hostCgroups = detectCgroupHost()

// cgroupRel returns the session's cgroup path under a hierarchy root and,
// with per_user, the user's.
func cgroupRel(id string, uid uint32, perUser bool) (session, user string) {
	if perUser {
		user = filepath.Join(cgroupBase, "u"+strconv.FormatUint(uint64(uid), 10))
		return filepath.Join(user, id), user
	}
	return filepath.Join(cgroupBase, id), ""
}

// sessionCgroup is a session's cgroup as the parent made it.
type sessionCgroup struct {
	host cgroupHost
	dirs []string // absolute: the v2 dir, or one per v1 controller
}

// procsFiles are the cgroup.procs files a process writes itself into to
// join the session (enter).
func (c *sessionCgroup) procsFiles() []string {
	var out []string
	for _, d := range c.dirs {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

// missingController is a limit the host cannot enforce.
type missingController struct{ controller, why string }

func (m missingController) Error() string {
	return fmt.Sprintf("cgroup controller %s is not available: %s", m.controller, m.why)
}

// createCgroupFromParent makes the session's cgroup with its limits. A
// limit whose controller is missing is an error naming it, or with
// best_effort a warning and the limit is dropped.
func createCgroupFromParent(h cgroupHost, spec *Spec) (*sessionCgroup, error) {
	l := spec.Confine.Limits
	if !h.v2 && !l.HasCgroupLimits() && !l.PerUser {
		// Nothing to enforce: skip v1, where putting init in a cgroup
		// means moving a thread into each hierarchy and back, each move
		// waiting out an RCU grace period (about 3 ms a login here). The
		// jail still gets its own cgroup namespace, rooted where it was
		// born; its processes end with its pid namespace.
		return &sessionCgroup{host: h}, nil
	}
	sess, user := cgroupRel(spec.ID, spec.UID, l.PerUser)
	var missing []missingController
	if h.v2 {
		missing = missingV2(h, &l)
	} else {
		missing = missingV1(h, &l)
	}
	for _, m := range missing {
		if !l.BestEffort {
			return nil, fmt.Errorf("limits: %w (set [jail.limits] best_effort = true to start without it)", m)
		}
		slog.Warn("limit not enforced (best_effort)", "session", spec.ID, "controller", m.controller, "why", m.why)
	}
	limited, plain := sess, ""
	if user != "" {
		limited, plain = user, sess
	}
	c := &sessionCgroup{host: h}
	var err error
	if h.v2 {
		err = c.createV2(limited, plain, l)
	} else {
		err = c.createV1(limited, plain, l)
	}
	if err != nil {
		removeCgroup(h, spec.ID, spec.UID)
		return nil, fmt.Errorf("cgroup %s: %w", sess, err)
	}
	return c, nil
}

// missingV2 clears the limits whose controller the v2 root does not offer.
func missingV2(h cgroupHost, l *Limits) []missingController {
	b, _ := os.ReadFile(filepath.Join(h.root, "cgroup.controllers"))
	have := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		have[c] = true
	}
	var out []missingController
	need := func(ctrl string, set bool, clear func()) {
		if set && !have[ctrl] {
			out = append(out, missingController{ctrl, "not in " + filepath.Join(h.root, "cgroup.controllers")})
			clear()
		}
	}
	need("memory", l.Memory > 0 || l.Swap > 0, func() { l.Memory, l.Swap = 0, 0 })
	need("pids", l.Pids > 0, func() { l.Pids = 0 })
	need("cpu", l.CPU > 0, func() { l.CPU = 0 })
	need("io", l.IOWeight > 0, func() { l.IOWeight = 0 })
	return out
}

// v1Mounted reports whether dir is a mounted cgroup v1 hierarchy.
func v1Mounted(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP_SUPER_MAGIC
}

// missingV1 clears the limits the v1 hierarchies cannot hold: the
// controller is not mounted, or the file that holds the limit is absent
// (swap accounting off, no blkio weight without CFQ/BFQ).
func missingV1(h cgroupHost, l *Limits) []missingController {
	var out []missingController
	need := func(ctrl string, set bool, files []string, clear func()) {
		if !set {
			return
		}
		dir := filepath.Join(h.root, ctrl)
		if !v1Mounted(dir) {
			out = append(out, missingController{ctrl, dir + " is not a mounted cgroup v1 hierarchy"})
			clear()
			return
		}
		if len(files) == 0 {
			return
		}
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return
			}
		}
		out = append(out, missingController{ctrl, fmt.Sprintf("%s has no %s", dir, strings.Join(files, " or "))})
		clear()
	}
	need("memory", l.Memory > 0, []string{"memory.limit_in_bytes"}, func() { l.Memory, l.Swap = 0, 0 })
	need("memory", l.Swap > 0, []string{"memory.memsw.limit_in_bytes"}, func() { l.Swap = 0 })
	if l.Swap > 0 && l.Memory == 0 {
		out = append(out, missingController{"memory", "v1 limits swap only together with memory (memory.memsw.limit_in_bytes)"})
		l.Swap = 0
	}
	need("pids", l.Pids > 0, nil, func() { l.Pids = 0 })
	need("cpu", l.CPU > 0, []string{"cpu.cfs_quota_us"}, func() { l.CPU = 0 })
	need("blkio", l.IOWeight > 0, []string{"blkio.weight", "blkio.bfq.weight"}, func() { l.IOWeight = 0 })
	return out
}

// cpuQuota is the CFS quota in µs per cpuPeriod for cores.
func cpuQuota(cores float64) int64 {
	q := int64(math.Round(cores * cpuPeriod))
	return max(q, 1000) // the kernel's minimum is 1 ms
}

// blkioWeight maps io.weight (1..10000) onto blkio's 10..1000, as runc does.
func blkioWeight(w uint64) uint16 {
	return uint16(10 + (w-1)*990/9999)
}

func (c *sessionCgroup) createV1(limited, plain string, l Limits) error {
	var subs []cgroup1.Subsystem
	for _, ctrl := range v1Controllers {
		if !v1Mounted(filepath.Join(c.host.root, ctrl)) {
			continue
		}
		switch ctrl {
		case "memory":
			subs = append(subs, cgroup1.NewMemory(c.host.root))
		case "pids":
			subs = append(subs, cgroup1.NewPids(c.host.root))
		case "cpu":
			subs = append(subs, cgroup1.NewCpu(c.host.root))
		case "blkio":
			subs = append(subs, cgroup1.NewBlkio(c.host.root))
		}
	}
	if len(subs) == 0 {
		if l.HasCgroupLimits() {
			return errors.New("no cgroup v1 hierarchy of memory, pids, cpu or blkio is mounted")
		}
		// Nothing to enforce and nowhere to account (a mount namespace
		// without cgroupfs, as `ip netns exec` makes): go without.
		slog.Warn("no cgroup hierarchy mounted: the session runs without a cgroup", "root", c.host.root)
		return nil
	}
	hier := cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subs, nil })
	res := &specs.LinuxResources{}
	if l.Memory > 0 {
		res.Memory = &specs.LinuxMemory{Limit: &l.Memory}
		if l.Swap > 0 {
			sw := l.Memory + l.Swap // memsw is memory and swap together
			res.Memory.Swap = &sw
		}
	}
	if l.Pids > 0 {
		res.Pids = &specs.LinuxPids{Limit: &l.Pids}
	}
	if l.CPU > 0 {
		q, p := cpuQuota(l.CPU), uint64(cpuPeriod)
		res.CPU = &specs.LinuxCPU{Quota: &q, Period: &p}
	}
	var bfq bool
	if l.IOWeight > 0 {
		if _, err := os.Stat(filepath.Join(c.host.root, "blkio", "blkio.weight")); err == nil {
			w := blkioWeight(l.IOWeight)
			res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
		} else {
			bfq = true
		}
	}
	if _, err := cgroup1.New(cgroup1.StaticPath("/"+limited), res, hier); err != nil {
		return err
	}
	if bfq {
		f := filepath.Join(c.host.root, "blkio", limited, "blkio.bfq.weight")
		if err := writeCgroupFile(f, strconv.Itoa(int(blkioWeight(l.IOWeight)))); err != nil {
			return err
		}
	}
	leaf := limited
	if plain != "" {
		if _, err := cgroup1.New(cgroup1.StaticPath("/"+plain), &specs.LinuxResources{}, hier); err != nil {
			return err
		}
		leaf = plain
	}
	for _, s := range subs {
		c.dirs = append(c.dirs, filepath.Join(c.host.root, string(s.Name()), leaf))
	}
	return nil
}

func (c *sessionCgroup) createV2(limited, plain string, l Limits) error {
	res := &cgroup2.Resources{}
	if l.Memory > 0 || l.Swap > 0 {
		res.Memory = &cgroup2.Memory{}
		if l.Memory > 0 {
			res.Memory.Max = &l.Memory
		}
		if l.Swap > 0 {
			res.Memory.Swap = &l.Swap
		}
	}
	if l.Pids > 0 {
		res.Pids = &cgroup2.Pids{Max: l.Pids}
	}
	if l.CPU > 0 {
		q, p := cpuQuota(l.CPU), uint64(cpuPeriod)
		res.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(&q, &p)}
	}
	if _, err := cgroup2.NewManager(c.host.root, "/"+limited, res); err != nil {
		return err
	}
	if l.IOWeight > 0 {
		// The library writes io.bfq.weight only; io.weight is the
		// controller's own knob.
		if err := enableV2(c.host.root, limited, "io"); err != nil {
			return err
		}
		f := filepath.Join(c.host.root, limited, "io.weight")
		if err := writeCgroupFile(f, "default "+strconv.FormatUint(l.IOWeight, 10)); err != nil {
			return err
		}
	}
	leaf := limited
	if plain != "" {
		// The user's cgroup hands its controllers down to the sessions.
		if _, err := cgroup2.NewManager(c.host.root, "/"+plain, &cgroup2.Resources{}); err != nil {
			return err
		}
		leaf = plain
	}
	c.dirs = []string{filepath.Join(c.host.root, leaf)}
	return nil
}

// enableV2 turns ctrl on in every subtree_control above rel.
func enableV2(root, rel, ctrl string) error {
	parts := strings.Split(rel, "/")
	for i := range parts {
		f := filepath.Join(append([]string{root}, append(parts[:i], "cgroup.subtree_control")...)...)
		if err := writeCgroupFile(f, "+"+ctrl); err != nil {
			return fmt.Errorf("enable %s in %s: %w", ctrl, f, err)
		}
	}
	return nil
}

// startInCgroup starts cmd so that the child is born in the session's
// cgroup, which also roots the cgroup namespace it creates there.
func (c *sessionCgroup) startInCgroup(cmd *exec.Cmd) error {
	if len(c.dirs) == 0 {
		return cmd.Start()
	}
	if c.host.v2 {
		fd, err := unix.Open(c.dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: c.dirs[0], Err: err}
		}
		defer unix.Close(fd)
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = fd
		return cmd.Start()
	}
	// v1 has no CLONE_INTO_CGROUP, but a v1 cgroup holds threads: move a
	// locked thread in, clone from it, and move it back. Should the way
	// back fail, the goroutine stays locked and the runtime ends the
	// thread with it: nothing else of ours may run in the jail's cgroup.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		tid := strconv.Itoa(unix.Gettid())
		back, err := threadCgroupsV1(c.host.root)
		if err != nil {
			errc <- err
			return
		}
		defer func() {
			for _, d := range back {
				if err := writeCgroupFile(filepath.Join(d, "tasks"), tid); err != nil {
					slog.Warn("leave jail cgroup", "dir", d, "err", err)
					return
				}
			}
			runtime.UnlockOSThread()
		}()
		for _, d := range c.dirs {
			if err := writeCgroupFile(filepath.Join(d, "tasks"), tid); err != nil {
				errc <- fmt.Errorf("join cgroup %s: %w", d, err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// threadCgroupsV1 returns the dirs of the calling thread's cgroups in the
// v1 hierarchies a session uses.
func threadCgroupsV1(root string) ([]string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(f[1], ",") {
			for _, want := range v1Controllers {
				if ctrl == want && v1Mounted(filepath.Join(root, want)) {
					out = append(out, filepath.Join(root, want, f[2]))
				}
			}
		}
	}
	return out, nil
}

// ReclaimCgroup removes the cgroup of session id (of host uid), in either
// layout, and the user's parent cgroup once it holds no session. Whatever
// still runs in it (an `enter` process outside the jail's pid namespace)
// is killed first. Safe to call again and when nothing exists.
func ReclaimCgroup(id string, uid uint32) error {
	return removeCgroup(hostCgroups, id, uid)
}

func removeCgroup(h cgroupHost, id string, uid uint32) error {
	var roots []string
	if h.v2 {
		roots = []string{h.root}
	} else {
		for _, ctrl := range v1Controllers {
			roots = append(roots, filepath.Join(h.root, ctrl))
		}
	}
	var errs []error
	for _, root := range roots {
		for _, perUser := range []bool{false, true} {
			sess, user := cgroupRel(id, uid, perUser)
			if err := rmdirCgroup(filepath.Join(root, sess)); err != nil {
				errs = append(errs, err)
			}
			if user != "" {
				// Only once no session of the user is left.
				if err := unix.Rmdir(filepath.Join(root, user)); err != nil && err != unix.ENOENT && err != unix.EBUSY && err != unix.ENOTEMPTY {
					errs = append(errs, &os.PathError{Op: "rmdir", Path: filepath.Join(root, user), Err: err})
				}
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirCgroup kills what is left in dir and removes it, retrying while
// the kernel finishes the exits.
func rmdirCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		killCgroup(dir)
		time.Sleep(10 * time.Millisecond)
	}
}

// killCgroup SIGKILLs every process in dir: cgroup.kill on v2, one by one
// from cgroup.procs on v1.
func killCgroup(dir string) {
	if err := writeCgroupFile(filepath.Join(dir, "cgroup.kill"), "1"); err == nil {
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range bytes.Fields(b) {
		// A v1 cgroup.procs names a process when any one thread of it is
		// inside: never our own (a thread on its way back from startInCgroup).
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 && pid != os.Getpid() {
			unix.Kill(pid, syscall.SIGKILL)
		}
	}
}

// writeCgroupFile writes one value to an existing control file (never
// creating one).
func writeCgroupFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
