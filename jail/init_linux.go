package jail

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Init is the Go entry point of a process forked by the jail's C init
// (cinit.h); cmd/loginjail calls it before anything else when it runs as
// "loginjail init", and it never returns. The jail init itself, PID 1,
// is C for the whole session and never starts a Go runtime: it builds
// the jail from the caller's setup plan (setupplan_linux.go) and serves;
// only for a dial by name does it fork a process that returns here, to
// resolve and connect (runDialHelper).
//
// The C prestart (prestart_linux.go) ran before the fork: inherited fds are
// closed, the bounding set dropped, no_new_privs set and the process
// non-dumpable. Stdout and stdin are /dev/null and stderr is a pipe to the
// caller's log: the user's terminal is never init's to write on.
func Init() {
	// A vanished caller must not kill us through SIGPIPE on the log.
	signal.Ignore(syscall.SIGPIPE)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initName[0])), 0, 0, 0)
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	// Nothing of the caller's environment belongs in the jail.
	os.Clearenv()
	if r := currentInitRole(); r.kind == roleDial {
		os.Exit(runDialHelper(r))
	}
	slog.Error("init started without a control socket")
	os.Exit(1)
}

var initName = []byte("loginjail-init\x00")

// planSetup is the jail, top to bottom, after the prestart and the
// caller's network attach, as the steps init runs (setupplan_linux.go).
// The order matters and each constraint is noted where it binds; doc.go
// lists the same steps. The rlimits and the seccomp filter follow the
// steps, in the handoff: init sets them on itself last, so every process
// it forks inherits both.
func planSetup(spec *Spec, etc *EtcFiles) (*setupPlan, error) {
	p := &setupPlan{root: filepath.Join(spec.SessionDir, "root")}
	p.label = "loopback up"
	p.add(planStep{code: opLoopbackUp})
	// ping without CAP_NET_RAW: ICMP datagram sockets for every group
	// of the jail (a per-netns sysctl, so the host's is untouched).
	p.label = "ping sockets"
	p.add(planStep{code: opWriteFile, a: "/proc/sys/net/ipv4/ping_group_range", b: pingGroupRange(spec)})
	p.label = "hostname"
	p.add(planStep{code: opHostname, a: spec.Hostname})
	// Mounts last: after pivot_root the host's files are out of reach,
	// and nothing above needs them.
	r := &rootfs{spec: spec, etc: etc, scratch: spec.SessionDir, root: p.root, plan: p}
	if r.hostMode() {
		var err error
		if r.hostTop, err = os.ReadDir("/"); err != nil {
			return nil, fmt.Errorf("root filesystem: read /: %w", err)
		}
	}
	if err := r.planRootfs(); err != nil {
		return nil, err
	}
	return p, nil
}

// pingGroupRange opens ICMP datagram sockets to every group of the jail.
// The kernel keeps the range as host gids, so its ends are the inside
// gids with the lowest and highest host gid: the user's own gid (mapped
// to itself, usually below the subordinate range) and 65535.
func pingGroupRange(spec *Spec) string {
	low, high := uint32(0), uint32(IDRange-1)
	if spec.GID < spec.SubGID {
		low = spec.InsideGID()
	} else if spec.GID > spec.SubGID+IDRange-1 {
		high = spec.InsideGID()
	}
	return fmt.Sprintf("%d %d", low, high)
}
