package doctor

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// minKernel is the oldest kernel the engine works on: mount_setattr
// (recursive read-only bind of the host's /) and idmapped mounts are 5.12.
var minKernel = [2]int{5, 12}

func parseKernelVersion(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorText := parts[1]
	if i := strings.IndexFunc(minorText, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorText = minorText[:i]
	}
	minor, err2 := strconv.Atoi(minorText)
	return major, minor, err1 == nil && err2 == nil
}

func checkKernel(h Host) []Result {
	rel, err := h.readTrim("/proc/sys/kernel/osrelease")
	if err != nil {
		return []Result{{"kernel", Warn, "cannot read /proc/sys/kernel/osrelease: " + err.Error(), "mount /proc"}}
	}
	maj, min, ok := parseKernelVersion(rel)
	switch {
	case !ok:
		return []Result{{"kernel", Warn, fmt.Sprintf("cannot parse kernel release %q", rel), ""}}
	case maj < minKernel[0] || maj == minKernel[0] && min < minKernel[1]:
		return []Result{{"kernel", Fail, fmt.Sprintf("Linux %s is older than %d.%d (mount_setattr, idmapped mounts)", rel, minKernel[0], minKernel[1]),
			fmt.Sprintf("boot a kernel %d.%d or newer (Debian 12's 6.1 will do)", minKernel[0], minKernel[1])}}
	}
	return []Result{{"kernel", OK, "Linux " + rel, ""}}
}

// namespaces are the kinds every jail gets, as /proc/self/ns names them.
var namespaces = []string{"user", "pid", "mnt", "uts", "ipc", "net", "cgroup"}

func checkNamespaces(h Host) []Result {
	var missing []string
	for _, ns := range namespaces {
		if _, err := os.Lstat(h.path("/proc/self/ns/" + ns)); err != nil {
			missing = append(missing, ns)
		}
	}
	if len(missing) > 0 {
		return []Result{{"namespaces", Fail, "the kernel lacks namespaces: " + strings.Join(missing, " "),
			"boot a kernel built with CONFIG_USER_NS, CONFIG_PID_NS, CONFIG_NET_NS, CONFIG_UTS_NS, CONFIG_IPC_NS and CONFIG_CGROUPS (every Debian and Ubuntu kernel is)"}}
	}
	return []Result{{"namespaces", OK, strings.Join(namespaces, " ") + " all present", ""}}
}

// checkUserns looks at the limits and switches that decide whether user
// namespaces can be made. loginjail clones its jails as root (with
// CAP_SYS_ADMIN in the initial user namespace), which the distribution
// switches for unprivileged users do not restrict; they matter only for
// processes inside a jail making namespaces of their own (nested_userns).
func checkUserns(h Host, s *scope) []Result {
	var out []Result
	max, err := h.readTrim("/proc/sys/user/max_user_namespaces")
	n, perr := strconv.Atoi(max)
	switch {
	case err != nil:
		out = append(out, Result{"user namespaces", Fail, "no /proc/sys/user/max_user_namespaces: the kernel has no user namespaces", "boot a kernel with CONFIG_USER_NS=y"})
	case perr != nil:
		out = append(out, Result{"user namespaces", Warn, fmt.Sprintf("max_user_namespaces is %q", max), ""})
	case n == 0:
		out = append(out, Result{"user namespaces", Fail, "user.max_user_namespaces = 0: no user namespace can be created, not even by root",
			"sysctl -w user.max_user_namespaces=15000 and set it in /etc/sysctl.d/ (something set it to 0 on purpose: check /etc/sysctl.d and /etc/sysctl.conf)"})
	case n < 1024:
		out = append(out, Result{"user namespaces", Warn, fmt.Sprintf("user.max_user_namespaces = %d: every jail is a user namespace of root's, so at most about %d jails at once", n, n),
			"raise it in /etc/sysctl.d/ (e.g. user.max_user_namespaces = 15000)"})
	default:
		out = append(out, Result{"user namespaces", OK, fmt.Sprintf("user.max_user_namespaces = %d (each jail uses one, counted against root)", n), ""})
	}
	for _, kind := range []string{"pid", "mnt", "net", "uts", "ipc", "cgroup"} {
		v, err := h.readTrim("/proc/sys/user/max_" + kind + "_namespaces")
		if err == nil && v == "0" {
			out = append(out, Result{kind + " namespaces", Fail, "user.max_" + kind + "_namespaces = 0",
				"sysctl -w user.max_" + kind + "_namespaces=15000 and set it in /etc/sysctl.d/"})
		}
	}
	nested := nestedUsers(s)
	// Debian's kernel patch: 0 = only CAP_SYS_ADMIN may make user namespaces.
	if v, err := h.readTrim("/proc/sys/kernel/unprivileged_userns_clone"); err == nil {
		out = append(out, restriction("kernel.unprivileged_userns_clone", v == "0", nested,
			"0: only privileged processes make user namespaces",
			"sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/) if jailed users need their own user namespaces"))
	}
	// Ubuntu 23.10+: AppArmor confines unprivileged user namespace creation.
	if v, err := h.readTrim("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil {
		out = append(out, restriction("kernel.apparmor_restrict_unprivileged_userns", v == "1", nested,
			"1: AppArmor strips capabilities from user namespaces unprivileged processes make",
			"sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (and in /etc/sysctl.d/), or an AppArmor profile allowing userns for the tools inside the jail"))
	}
	return out
}

// nestedUsers names the jails (live ones) with nested_userns on.
func nestedUsers(s *scope) []string {
	var out []string
	for _, u := range s.jails {
		if u.jail.NestedUserns && u.live() {
			out = append(out, u.name)
		}
	}
	return out
}

func restriction(key string, restricted bool, nested []string, meaning, fix string) Result {
	switch {
	case !restricted:
		return Result{key, OK, "not restricting", ""}
	case len(nested) > 0:
		return Result{key, Warn, meaning + "; loginjail clones jails as root and is not affected, but nested_userns of " +
			strings.Join(nested, ", ") + " will not work inside the jail", fix}
	default:
		return Result{key, OK, meaning + "; loginjail clones jails as root, which this does not restrict (only nested_userns would need it)", ""}
	}
}

// kernelConfig reads the kernel's build options from /proc/config.gz or
// /boot/config-RELEASE; nil when neither is there.
func kernelConfig(h Host) map[string]string {
	var sc *bufio.Scanner
	if f, err := os.Open(h.path("/proc/config.gz")); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil
		}
		sc = bufio.NewScanner(zr)
	} else if rel, err := h.readTrim("/proc/sys/kernel/osrelease"); err == nil {
		f, err := os.Open(h.path("/boot/config-" + rel))
		if err != nil {
			return nil
		}
		defer f.Close()
		sc = bufio.NewScanner(f)
	} else {
		return nil
	}
	out := map[string]string{}
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			out[k] = v
		}
	}
	return out
}
