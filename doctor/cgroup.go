package doctor

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point, fstype, source, superOpts string
}

func readMountinfo(h Host) []mountEntry {
	s, _ := h.read("/proc/self/mountinfo")
	var out []mountEntry
	for _, line := range strings.Split(s, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, mountEntry{point: unescapeMount(f[4]), fstype: g[0], source: g[1], superOpts: g[2]})
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountAt returns the last (top) mount at point.
func mountAt(mounts []mountEntry, point string) (mountEntry, bool) {
	var m mountEntry
	found := false
	for _, e := range mounts {
		if e.point == point {
			m, found = e, true
		}
	}
	return m, found
}

// need is a cgroup controller some limit needs, and for which jails.
type need struct {
	ctrl      string   // v2 name; v1 "blkio" for io
	files     []string // v1: one of these files must exist in the hierarchy
	by        []string // jails that set the limit (live ones)
	bestEff   bool     // every jail needing it has best_effort
	anyLive   bool
	byIdle    []string // jails nobody gets yet that set the limit
	limitName string
}

// controllerNeeds lists, per controller, the jails whose limits need it.
func controllerNeeds(s *scope, v2 bool) []*need {
	order := []string{"memory", "memsw", "pids", "cpu", "io"}
	m := map[string]*need{}
	for _, u := range s.jails {
		l := u.jail.Limits
		uses := map[string]bool{
			"memory": l.Memory > 0 || (v2 && l.Swap > 0),
			"memsw":  !v2 && l.Swap > 0,
			"pids":   l.Pids > 0,
			"cpu":    l.CPU > 0,
			"io":     l.IOWeight > 0,
		}
		for k, used := range uses {
			if !used {
				continue
			}
			n := m[k]
			if n == nil {
				n = &need{ctrl: k, bestEff: true}
				switch k {
				case "memory":
					n.files, n.limitName = []string{"memory.limit_in_bytes"}, "memory"
				case "memsw":
					n.ctrl, n.files, n.limitName = "memory", []string{"memory.memsw.limit_in_bytes"}, "swap"
				case "pids":
					n.limitName = "pids"
				case "cpu":
					n.files, n.limitName = []string{"cpu.cfs_quota_us"}, "cpu"
				case "io":
					n.limitName = "io_weight"
					if !v2 {
						n.ctrl, n.files = "blkio", []string{"blkio.weight", "blkio.bfq.weight"}
					}
				}
				m[k] = n
			}
			if u.live() {
				n.by = append(n.by, u.name)
				n.anyLive = true
				n.bestEff = n.bestEff && l.BestEffort
			} else {
				n.byIdle = append(n.byIdle, u.name)
			}
		}
	}
	var out []*need
	for _, k := range order {
		if n := m[k]; n != nil {
			out = append(out, n)
		}
	}
	return out
}

func checkCgroups(h Host, s *scope) []Result {
	mounts := readMountinfo(h)
	root, ok := mountAt(mounts, "/sys/fs/cgroup")
	if !ok {
		return []Result{{"cgroups", Fail, "nothing is mounted on /sys/fs/cgroup", "mount cgroup2 on /sys/fs/cgroup (systemd does this at boot)"}}
	}
	v2 := root.fstype == "cgroup2"
	var have map[string]bool
	var missingWhy map[string]string
	var mode string
	if v2 {
		mode = "v2 (unified)"
		text, _ := h.readTrim("/sys/fs/cgroup/cgroup.controllers")
		have = map[string]bool{}
		for _, c := range strings.Fields(text) {
			have[c] = true
		}
		missingWhy = map[string]string{}
		for _, c := range []string{"memory", "pids", "cpu", "io"} {
			if !have[c] {
				missingWhy[c] = "not in /sys/fs/cgroup/cgroup.controllers"
			}
		}
	} else {
		mode = "v1"
		if _, ok := mountAt(mounts, "/sys/fs/cgroup/unified"); ok {
			mode = "v1 (hybrid: loginjail uses the v1 controllers)"
		}
		have, missingWhy = v1Controllers(h, mounts)
	}
	var out []Result
	var avail []string
	for c := range have {
		if have[c] {
			avail = append(avail, c)
		}
	}
	sort.Strings(avail)
	out = append(out, Result{"cgroups", OK, mode + ", controllers: " + strings.Join(avail, " "), ""})
	out = append(out, cgroupDriver(h, v2))
	for _, n := range controllerNeeds(s, v2) {
		name := "cgroup " + n.limitName
		var why string
		if v2 {
			why = missingWhy[n.ctrl]
		} else {
			why = v1Missing(h, mounts, n)
		}
		fix := "enable the " + n.ctrl + " controller (v2: it must be listed in /sys/fs/cgroup/cgroup.controllers; v1: mounted at /sys/fs/cgroup/" + n.ctrl + ")"
		if n.limitName == "swap" {
			fix = "boot with swapaccount=1, or drop the swap limit"
		}
		if n.limitName == "io_weight" && !v2 {
			fix = "use the BFQ I/O scheduler (blkio.bfq.weight) or drop io_weight"
		}
		switch {
		case why == "":
			who := n.by
			if !n.anyLive {
				who = n.byIdle
			}
			out = append(out, Result{name, OK, fmt.Sprintf("%s limits of %s can be enforced", n.ctrl, strings.Join(who, ", ")), ""})
		case !n.anyLive:
			out = append(out, Result{name, Warn, fmt.Sprintf("%s: %s limits of %s (no account gets it yet) cannot be enforced", why, n.limitName, strings.Join(n.byIdle, ", ")), fix})
		case n.bestEff:
			out = append(out, Result{name, Warn, fmt.Sprintf("%s: %s limits of %s are skipped (best_effort)", why, n.limitName, strings.Join(n.by, ", ")), fix})
		default:
			out = append(out, Result{name, Fail, fmt.Sprintf("%s: logins with %s limits (%s) will be refused", why, n.limitName, strings.Join(n.by, ", ")),
				fix + ", or set [jail.limits] best_effort = true"})
		}
	}
	return out
}

// v1Controllers reports which v1 controllers are mounted where loginjail
// looks for them (/sys/fs/cgroup/NAME, possibly a symlink to a joint
// mount such as cpu,cpuacct).
func v1Controllers(h Host, mounts []mountEntry) (map[string]bool, map[string]string) {
	have, why := map[string]bool{}, map[string]string{}
	for _, c := range []string{"memory", "pids", "cpu", "blkio"} {
		if _, ok := v1Mount(h, mounts, c); ok {
			have[c] = true
		} else {
			why[c] = "/sys/fs/cgroup/" + c + " is not a mounted cgroup v1 hierarchy"
		}
	}
	return have, why
}

// v1Mount finds the v1 hierarchy of ctrl at /sys/fs/cgroup/ctrl.
func v1Mount(h Host, mounts []mountEntry, ctrl string) (string, bool) {
	dir := "/sys/fs/cgroup/" + ctrl
	if target, err := os.Readlink(h.path(dir)); err == nil {
		if !path.IsAbs(target) {
			target = path.Join("/sys/fs/cgroup", target)
		}
		dir = target
	}
	m, ok := mountAt(mounts, dir)
	if !ok || m.fstype != "cgroup" {
		return dir, false
	}
	for _, o := range strings.Split(m.superOpts, ",") {
		if o == ctrl {
			return dir, true
		}
	}
	return dir, false
}

// v1Missing is why a v1 limit cannot be set ("" when it can).
func v1Missing(h Host, mounts []mountEntry, n *need) string {
	dir, ok := v1Mount(h, mounts, n.ctrl)
	if !ok {
		return "/sys/fs/cgroup/" + n.ctrl + " is not a mounted cgroup v1 hierarchy"
	}
	if len(n.files) == 0 {
		return ""
	}
	for _, f := range n.files {
		if h.exists(path.Join(dir, f)) {
			return ""
		}
	}
	return fmt.Sprintf("%s has no %s", dir, strings.Join(n.files, " or "))
}

// cgroupDriver says which cgroup driver loginjail uses here and why: the
// same test as jail's (systemd is PID 1 when /run/systemd/system exists,
// as sd_booted(3) checks; unified when /sys/fs/cgroup is cgroup2).
func cgroupDriver(h Host, v2 bool) Result {
	const name = "cgroup driver"
	booted := h.exists("/run/systemd/system")
	switch {
	case booted && v2:
		if !h.exists("/run/dbus/system_bus_socket") && !h.exists("/run/systemd/private") {
			return Result{name, Fail, "systemd (PID 1 is systemd, cgroup v2) but neither /run/dbus/system_bus_socket nor /run/systemd/private exists: jails cannot get their scopes",
				"start dbus (apt install dbus) or check systemd"}
		}
		return Result{name, OK, "systemd: PID 1 is systemd (/run/systemd/system exists) and /sys/fs/cgroup is cgroup v2, so each jail is a transient scope loginjail-<id>.scope in loginjail.slice", ""}
	case booted:
		return Result{name, OK, "cgroupfs: PID 1 is systemd but /sys/fs/cgroup is not cgroup v2 (v1 or hybrid), so jails get loginjail's own cgroups under /sys/fs/cgroup/<controller>/loginjail", ""}
	case v2:
		return Result{name, OK, "cgroupfs: systemd is not PID 1 (no /run/systemd/system), so jails get loginjail's own cgroups under /sys/fs/cgroup/loginjail", ""}
	default:
		return Result{name, OK, "cgroupfs: systemd is not PID 1 (no /run/systemd/system) and /sys/fs/cgroup is not cgroup v2, so jails get loginjail's own cgroups under /sys/fs/cgroup/<controller>/loginjail", ""}
	}
}
