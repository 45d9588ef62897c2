package jail

// The cgroupfs driver: loginjail's own cgroup directories, for hosts
// where systemd does not own the tree (no systemd as PID 1, or v1). The
// parent makes them before the jail init exists and the init is born
// inside (v2: clone3 CLONE_INTO_CGROUP; v1: cloned from a thread that was
// moved in first), so the cgroup namespace the clone creates is rooted at
// the session's cgroup. Layout, the same under every hierarchy:
//
//	<root>/loginjail/<id>              one session
//	<root>/loginjail/u<uid>/<id>       per_user: the limits sit on u<uid>
//
// Creation and the limit files are loginjail's own few writes (v1 in
// cgroup_v1_linux.go, v2 in cgroup_v2_linux.go); removal
// (cgroup_remove_linux.go) is a plain rmdir that gc can run without
// knowing the limits.

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// cgroupBase is loginjail's subtree in every hierarchy.
const cgroupBase = "loginjail"

// cgroupHost says where the host's hierarchies are. Tests point it at a
// hybrid host's unified mount to run the v2 code.
type cgroupHost struct {
	v2   bool
	root string // v2: the unified mount; v1: the dir holding one mount per controller
}

// detectCgroupHost reads the host's cgroup mode: v2 when /sys/fs/cgroup
// is cgroup2fs itself (a hybrid host's unified mount below it is not).
func detectCgroupHost() cgroupHost {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return cgroupHost{v2: true, root: "/sys/fs/cgroup"}
	}
	return cgroupHost{root: "/sys/fs/cgroup"}
}

var hostCgroups = detectCgroupHost()

// cgroupfsDriver is the cgroupDriver over host's hierarchies.
type cgroupfsDriver struct{ host cgroupHost }

func (d cgroupfsDriver) createFromParent(spec *Spec) (cgroupPlacement, error) {
	return createCgroupFromParent(d.host, spec)
}

func (d cgroupfsDriver) remove(id string, uid uint32) error {
	return removeCgroup(d.host, id, uid)
}

func (d cgroupfsDriver) procsFiles(id string, uid uint32, perUser bool) ([]string, error) {
	rel, _ := cgroupRel(id, uid, perUser)
	var dirs []string
	if d.host.v2 {
		dirs = []string{filepath.Join(d.host.root, rel)}
	} else {
		for _, ctrl := range v1Controllers {
			if v1Mounted(filepath.Join(d.host.root, ctrl)) {
				dirs = append(dirs, filepath.Join(d.host.root, ctrl, rel))
			}
		}
	}
	var out []string
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			// Started where no cgroupfs was mounted: nothing to join.
			slog.Warn("enter: the session has no cgroup here", "dir", dir)
			continue
		}
		out = append(out, filepath.Join(dir, "cgroup.procs"))
	}
	return out, nil
}

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
		missing = missingV2(h.root, &l)
	} else {
		missing = missingV1(h, &l)
	}
	if err := dropMissing(spec.ID, l.BestEffort, missing); err != nil {
		return nil, err
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

// dropMissing fails on the first limit the host cannot enforce, or with
// best_effort logs each and lets the session start without them.
func dropMissing(id string, bestEffort bool, missing []missingController) error {
	for _, m := range missing {
		if !bestEffort {
			return fmt.Errorf("limits: %w (set [jail.limits] best_effort = true to start without it)", m)
		}
		slog.Warn("limit not enforced (best_effort)", "session", id, "controller", m.controller, "why", m.why)
	}
	return nil
}

// startInit starts cmd so that the child is born in the session's
// cgroup, which also roots the cgroup namespace it creates there.
func (c *sessionCgroup) startInit(cmd *initCmd, _ *os.File) error {
	if len(c.dirs) == 0 {
		return cmd.Start()
	}
	if c.host.v2 {
		return c.startV2(cmd)
	}
	return c.startV1(cmd)
}
