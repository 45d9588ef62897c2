package jail

// cgroupfs on the unified (v2) hierarchy: one directory per session
// (and per user with per_user), the limits in its files, and init born
// inside by clone3 CLONE_INTO_CGROUP. A handful of file writes: the same
// ones containerd/cgroups' cgroup2.NewManager made, whose package init
// (protobuf, ebpf) every exec of the binary paid for.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// missingV2 clears the limits whose controller the v2 root does not
// offer. The systemd driver asks the same question of the same root.
func missingV2(root string, l *Limits) []missingController {
	b, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	have := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		have[c] = true
	}
	var out []missingController
	need := func(ctrl string, set bool, clear func()) {
		if set && !have[ctrl] {
			out = append(out, missingController{ctrl, "not in " + filepath.Join(root, "cgroup.controllers")})
			clear()
		}
	}
	need("memory", l.Memory > 0 || l.Swap > 0, func() { l.Memory, l.Swap = 0, 0 })
	need("pids", l.Pids > 0, func() { l.Pids = 0 })
	need("cpu", l.CPU > 0, func() { l.CPU = 0 })
	need("io", l.IOWeight > 0, func() { l.IOWeight = 0 })
	return out
}

// v2LimitWrites are the control files that hold l in a v2 cgroup, in
// the order they are written, and the controllers they need enabled in
// every subtree_control above it.
func v2LimitWrites(l Limits) (ctrls []string, writes []cgroupWrite) {
	if l.CPU > 0 {
		ctrls = append(ctrls, "cpu")
		writes = append(writes, cgroupWrite{"cpu.max", strconv.FormatInt(cpuQuota(l.CPU), 10) + " " + strconv.Itoa(cpuPeriod)})
	}
	if l.Memory > 0 || l.Swap > 0 {
		ctrls = append(ctrls, "memory")
		if l.Swap > 0 {
			writes = append(writes, cgroupWrite{"memory.swap.max", strconv.FormatInt(l.Swap, 10)})
		}
		if l.Memory > 0 {
			writes = append(writes, cgroupWrite{"memory.max", strconv.FormatInt(l.Memory, 10)})
		}
	}
	if l.Pids > 0 {
		ctrls = append(ctrls, "pids")
		writes = append(writes, cgroupWrite{"pids.max", strconv.FormatInt(l.Pids, 10)})
	}
	if l.IOWeight > 0 {
		ctrls = append(ctrls, "io")
		writes = append(writes, cgroupWrite{"io.weight", "default " + strconv.FormatUint(l.IOWeight, 10)})
	}
	return ctrls, writes
}

func (c *sessionCgroup) createV2(limited, plain string, l Limits) error {
	dir := filepath.Join(c.host.root, limited)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctrls, writes := v2LimitWrites(l)
	if len(ctrls) > 0 {
		if err := enableV2(c.host.root, limited, ctrls); err != nil {
			return err
		}
	}
	for _, w := range writes {
		if err := writeCgroupFile(filepath.Join(dir, w.file), w.value); err != nil {
			return err
		}
	}
	leaf := limited
	if plain != "" {
		// The session's own cgroup under the user's, which holds the
		// limits: nothing to enable or write in it.
		if err := os.Mkdir(filepath.Join(c.host.root, plain), 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		leaf = plain
	}
	c.dirs = []string{filepath.Join(c.host.root, leaf)}
	return nil
}

// enableV2 turns ctrls on in every subtree_control above rel, from the
// root down. A write above may fail where the controllers are already
// on (a delegated subtree): as in runc and containerd, only the last
// one, the parent's, decides.
func enableV2(root, rel string, ctrls []string) error {
	val := "+" + strings.Join(ctrls, " +")
	parts := strings.Split(rel, "/")
	var err error
	for i := range parts {
		f := filepath.Join(append([]string{root}, append(parts[:i], "cgroup.subtree_control")...)...)
		if werr := writeCgroupFile(f, val); werr != nil {
			err = fmt.Errorf("enable %s in %s: %w", strings.Join(ctrls, ", "), f, werr)
		} else {
			err = nil
		}
	}
	return err
}

// startV2 clones init straight into the session's cgroup
// (CLONE_INTO_CGROUP), so the cgroup namespace the same clone creates is
// rooted there.
func (c *sessionCgroup) startV2(cmd *initCmd) error {
	fd, err := unix.Open(c.dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: c.dirs[0], Err: err}
	}
	defer unix.Close(fd)
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return cmd.Start()
}
