package jail

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Confinement is what holds a jail's processes beyond their namespaces:
// cgroup limits and rlimits, the capability bounding set, and the seccomp
// filter. It is part of the Spec, and `enter` applies the same one to the
// process it starts (from the session's record).
type Confinement struct {
	Limits  Limits   `json:"limits"`
	Caps    []string `json:"caps"` // bounding set kept, "CAP_*" names; empty = none
	Seccomp Seccomp  `json:"seccomp"`
}

// Limits are the resource limits of one session (or, with PerUser, of all
// sessions of its user together). Zero means unlimited / not set.
type Limits struct {
	Memory   int64   `json:"memory,omitempty"`    // bytes: memory.max (v2), memory.limit_in_bytes (v1)
	Swap     int64   `json:"swap,omitempty"`      // bytes of swap on top of Memory
	Pids     int64   `json:"pids,omitempty"`      // pids.max
	CPU      float64 `json:"cpu,omitempty"`       // cores, as a CFS quota per 100 ms period
	IOWeight uint64  `json:"io_weight,omitempty"` // 1..10000 (io.weight; mapped to blkio's 10..1000 on v1)
	Nofile   uint64  `json:"nofile,omitempty"`    // RLIMIT_NOFILE, soft and hard
	Nproc    uint64  `json:"nproc,omitempty"`     // RLIMIT_NPROC, soft and hard
	// BestEffort turns a limit the host cannot enforce (its controller is
	// missing) into a logged warning instead of an error.
	BestEffort bool `json:"best_effort,omitempty"`
	// PerUser puts the limits on a parent cgroup shared by all sessions of
	// the user; each session's cgroup nests under it.
	PerUser bool `json:"per_user,omitempty"`
}

// HasCgroupLimits reports whether any limit needs a cgroup controller.
func (l Limits) HasCgroupLimits() bool {
	return l.Memory > 0 || l.Swap > 0 || l.Pids > 0 || l.CPU > 0 || l.IOWeight > 0
}

// Seccomp chooses the jail's seccomp filter.
type Seccomp struct {
	// Off disables the filter (a trusted group's policy); Start logs it.
	Off bool `json:"off,omitempty"`
	// Deny lists syscalls refused with EPERM beyond the default list.
	Deny []string `json:"deny,omitempty"`
	// NestedUserns lets jailed processes create user namespaces of their
	// own (rootless containers, sandboxes of browsers); off by default.
	NestedUserns bool `json:"nested_userns,omitempty"`
}

// capNames are the capabilities by number, as <linux/capability.h> has them.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// DefaultRootCaps is the bounding set of a user_mode "root" jail: Docker's
// default set less CAP_NET_RAW. Every one of them is a capability over the
// jail's own user namespace only; none reaches the host. NET_RAW is left
// out because a raw socket on the shared NAT bridge could forge a
// neighbour jail's source address and so borrow its egress policy; ping
// works without it (init opens ICMP datagram sockets to every group).
var DefaultRootCaps = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// CapNumber returns the number of a capability named "CAP_X", "cap_x" or
// "x".
func CapNumber(name string) (int, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// CapMask turns names into a bit mask (bit N = capability N).
func CapMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		i, ok := CapNumber(n)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << i
	}
	return m, nil
}

// ResolveCaps returns the bounding set of a jail: nothing in user mode
// "self"; in mode "root" DefaultRootCaps plus add minus drop, where "ALL"
// in add or drop stands for every capability.
func ResolveCaps(userMode string, add, drop []string) ([]string, error) {
	if userMode != UserModeRoot {
		return nil, nil
	}
	set := map[string]bool{}
	for _, c := range DefaultRootCaps {
		set[c] = true
	}
	apply := func(names []string, on bool) error {
		for _, n := range names {
			if strings.EqualFold(n, "ALL") {
				for _, c := range capNames {
					set[c] = on
				}
				continue
			}
			i, ok := CapNumber(n)
			if !ok {
				return fmt.Errorf("unknown capability %q", n)
			}
			set[capNames[i]] = on
		}
		return nil
	}
	if err := apply(add, true); err != nil {
		return nil, err
	}
	if err := apply(drop, false); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range capNames {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Validate checks the confinement for values the kernel would refuse.
func (c *Confinement) Validate() error {
	var errs []error
	if _, err := CapMask(c.Caps); err != nil {
		errs = append(errs, fmt.Errorf("caps: %w", err))
	}
	l := c.Limits
	if l.Memory < 0 || l.Swap < 0 || l.Pids < 0 {
		errs = append(errs, errors.New("limits: memory, swap and pids must not be negative"))
	}
	if math.IsNaN(l.CPU) || l.CPU < 0 || l.CPU > 1024 {
		errs = append(errs, fmt.Errorf("limits: cpu %v is not a number of cores from 0 to 1024", l.CPU))
	}
	if l.IOWeight > 10000 {
		errs = append(errs, fmt.Errorf("limits: io_weight %d is over 10000", l.IOWeight))
	}
	if !c.Seccomp.Off {
		if _, err := BuildSeccompFilter(c.Seccomp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
