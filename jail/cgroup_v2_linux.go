package jail

// cgroupfs on the unified (v2) hierarchy: one directory per session
// (and per user with per_user), the limits in its files, and init born
// inside by clone3 CLONE_INTO_CGROUP.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2"
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

// startV2 clones init straight into the session's cgroup
// (CLONE_INTO_CGROUP), so the cgroup namespace the same clone creates is
// rooted there.
func (c *sessionCgroup) startV2(cmd *exec.Cmd) error {
	fd, err := unix.Open(c.dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: c.dirs[0], Err: err}
	}
	defer unix.Close(fd)
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return cmd.Start()
}
