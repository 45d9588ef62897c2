package jail

// cgroupfs on v1 hierarchies: one directory per session (and per user
// with per_user) in each of the memory, pids, cpu and blkio hierarchies
// that is mounted, and init cloned from a thread moved into them first
// (v1 has no CLONE_INTO_CGROUP). The limits are plain file writes, the
// ones containerd/cgroups' cgroup1.New made.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// v1Controllers are the v1 hierarchies a session gets a cgroup in.
var v1Controllers = []string{"memory", "pids", "cpu", "blkio"}

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

// blkioWeight maps io.weight (1..10000) onto blkio's 10..1000, as runc does.
func blkioWeight(w uint64) uint16 {
	return uint16(10 + (w-1)*990/9999)
}

// v1LimitWrites are the control files that hold l in controller ctrl's
// v1 cgroup, in the order they are written (memsw after the memory
// limit it must not be below). blkioWeight says the blkio hierarchy has
// blkio.weight (CFQ); without it the weight goes to blkio.bfq.weight.
func v1LimitWrites(ctrl string, l Limits, blkioWeightFile bool) []cgroupWrite {
	var out []cgroupWrite
	switch ctrl {
	case "memory":
		if l.Memory > 0 {
			out = append(out, cgroupWrite{"memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10)})
			if l.Swap > 0 { // memsw is memory and swap together
				out = append(out, cgroupWrite{"memory.memsw.limit_in_bytes", strconv.FormatInt(l.Memory+l.Swap, 10)})
			}
		}
	case "pids":
		if l.Pids > 0 {
			out = append(out, cgroupWrite{"pids.max", strconv.FormatInt(l.Pids, 10)})
		}
	case "cpu":
		if l.CPU > 0 {
			out = append(out,
				cgroupWrite{"cpu.cfs_period_us", strconv.Itoa(cpuPeriod)},
				cgroupWrite{"cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(l.CPU), 10)})
		}
	case "blkio":
		if l.IOWeight > 0 {
			f := "blkio.bfq.weight"
			if blkioWeightFile {
				f = "blkio.weight"
			}
			out = append(out, cgroupWrite{f, strconv.Itoa(int(blkioWeight(l.IOWeight)))})
		}
	}
	return out
}

func (c *sessionCgroup) createV1(limited, plain string, l Limits) error {
	var ctrls []string
	for _, ctrl := range v1Controllers {
		if v1Mounted(filepath.Join(c.host.root, ctrl)) {
			ctrls = append(ctrls, ctrl)
		}
	}
	if len(ctrls) == 0 {
		if l.HasCgroupLimits() {
			return errors.New("no cgroup v1 hierarchy of memory, pids, cpu or blkio is mounted")
		}
		// Nothing to enforce and nowhere to account (a mount namespace
		// without cgroupfs, as `ip netns exec` makes): go without.
		slog.Warn("no cgroup hierarchy mounted: the session runs without a cgroup", "root", c.host.root)
		return nil
	}
	_, err := os.Stat(filepath.Join(c.host.root, "blkio", "blkio.weight"))
	cfq := err == nil
	for _, ctrl := range ctrls {
		dir := filepath.Join(c.host.root, ctrl, limited)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, w := range v1LimitWrites(ctrl, l, cfq) {
			if err := writeCgroupFile(filepath.Join(dir, w.file), w.value); err != nil {
				return err
			}
		}
		leaf := dir
		if plain != "" {
			leaf = filepath.Join(c.host.root, ctrl, plain)
			if err := os.Mkdir(leaf, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
		}
		c.dirs = append(c.dirs, leaf)
	}
	return nil
}

// startV1 clones init from a thread that sits in the session's cgroups:
// v1 has no CLONE_INTO_CGROUP, but a v1 cgroup holds threads. Move a
// locked thread in, clone from it, and move it back. Should the way back
// fail, the goroutine stays locked and the runtime ends the thread with
// it: nothing else of ours may run in the jail's cgroup.
func (c *sessionCgroup) startV1(cmd *initCmd) error {
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
