package jail

// Session cgroups: which driver makes them, and what every driver shares.
//
// A jail's init must run in its session's cgroup before it runs any code
// of its own, with its cgroup namespace rooted there, so that nothing of
// the jail ever runs outside it. Two drivers do that:
//
//   - systemd (cgroup_systemd_linux.go): on a host whose PID 1 is systemd
//     and whose /sys/fs/cgroup is the unified (v2) hierarchy, the cgroup
//     tree belongs to systemd, so each jail is a transient scope
//     loginjail-<id>.scope in loginjail.slice, created over D-Bus with
//     Delegate=yes and the limits as the scope's properties, as the
//     systemd cgroup drivers of runc, crun and podman do.
//   - cgroupfs (cgroup_fs_linux.go, cgroup_v1_linux.go,
//     cgroup_v2_linux.go, cgroup_remove_linux.go): everywhere else (no
//     systemd as PID 1, or a v1/hybrid host), loginjail makes and removes
//     its own directories under <hierarchy>/loginjail.
//
// The choice is made once per process from two file reads, the same test
// runc and podman use; doctor repeats it to tell the admin which applies.

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// cgroupDriver makes, finds and removes the cgroups of sessions.
type cgroupDriver interface {
	// createFromParent prepares the session's cgroup and its limits
	// before the init exists.
	createFromParent(spec *Spec) (cgroupPlacement, error)
	// remove ends what is left in the session's cgroup and removes it
	// (and the user's shared cgroup once no session is in it). Safe to
	// call again and when nothing exists.
	remove(id string, uid uint32) error
	// procsFiles are the cgroup.procs files a process writes itself
	// into to join a live session (enter).
	procsFiles(id string, uid uint32, perUser bool) ([]string, error)
}

// cgroupPlacement puts one session's init into its cgroup.
type cgroupPlacement interface {
	// startInit starts cmd, the clone of the jail init, so that init is
	// in the session's cgroup with its cgroup namespace rooted there
	// before it runs any code of its own. ctl is the parent's end of the
	// control socket. On error no init is left running.
	startInit(cmd *initCmd, ctl *os.File) error
}

// Cgroup driver names, as logs and doctor print them.
const (
	driverSystemd  = "systemd"
	driverCgroupfs = "cgroupfs"
)

// chooseCgroupDriver picks the driver from what the host is: systemd
// scopes only when systemd is PID 1 (it has booted the host: /run/systemd/system
// exists) and /sys/fs/cgroup is cgroup2fs. On a v1 or hybrid host
// systemd's v1 trees are left to cgroupfs, as before.
func chooseCgroupDriver(systemdBooted, unified bool) (driver, why string) {
	switch {
	case systemdBooted && unified:
		return driverSystemd, "systemd is PID 1 (/run/systemd/system exists) and /sys/fs/cgroup is cgroup v2: each jail is a transient scope in loginjail.slice"
	case systemdBooted:
		return driverCgroupfs, "systemd is PID 1 but /sys/fs/cgroup is not cgroup v2 (v1 or hybrid): loginjail's own cgroups under /sys/fs/cgroup/<controller>/loginjail"
	case unified:
		return driverCgroupfs, "systemd is not PID 1 (no /run/systemd/system): loginjail's own cgroups under /sys/fs/cgroup/loginjail"
	default:
		return driverCgroupfs, "systemd is not PID 1 (no /run/systemd/system) and /sys/fs/cgroup is not cgroup v2: loginjail's own cgroups under /sys/fs/cgroup/<controller>/loginjail"
	}
}

// detectCgroupDriver reads the two facts chooseCgroupDriver needs.
func detectCgroupDriver() (driver, why string) {
	st, err := os.Lstat("/run/systemd/system")
	booted := err == nil && st.IsDir()
	var fs unix.Statfs_t
	unified := unix.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
	return chooseCgroupDriver(booted, unified)
}

// hostCgroupDriver is the driver this host uses (doctor tells why).
var hostCgroupDriver, _ = detectCgroupDriver()

// currentCgroupDriver returns the driver for this host. The cgroupfs
// driver reads hostCgroups at each call, so tests can point it at a
// hybrid host's unified mount; tests may also swap the function.
var currentCgroupDriver = func() cgroupDriver {
	if hostCgroupDriver == driverSystemd {
		return systemdDriver{}
	}
	return cgroupfsDriver{host: hostCgroups}
}

// ReclaimCgroup removes the cgroup (or systemd scope) of session id (of
// host uid), and the user's shared one once it holds no session.
// Whatever still runs in it (an `enter` process outside the jail's pid
// namespace) is killed first. Safe to call again and when nothing exists.
func ReclaimCgroup(id string, uid uint32) error {
	return currentCgroupDriver().remove(id, uid)
}

// cpuPeriod is the CFS period the cpu quota is expressed in (100 ms).
const cpuPeriod = 100000

// cpuQuota is the CFS quota in µs per cpuPeriod for cores.
func cpuQuota(cores float64) int64 {
	q := int64(math.Round(cores * cpuPeriod))
	return max(q, 1000) // the kernel's minimum is 1 ms
}

// missingController is a limit the host cannot enforce.
type missingController struct{ controller, why string }

func (m missingController) Error() string {
	return fmt.Sprintf("cgroup controller %s is not available: %s", m.controller, m.why)
}

// cgroupWrite is one value for one control file of a cgroup.
type cgroupWrite struct{ file, value string }

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
