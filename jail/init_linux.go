package jail

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/netpolicy"
)

// Init is the Go entry point of a process forked by the jail's C init
// (cinit.h); cmd/loginjail calls it before anything else when it runs as
// "loginjail init", and it never returns. The jail init itself, PID 1,
// stays C for the whole session and never starts a Go runtime: before it
// serves, it forks this process to do the setup in Go (runSetup), and for
// a dial by name it forks one to resolve and connect (runDialHelper).
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
	r := currentInitRole()
	switch r.kind {
	case roleSetup:
		os.Exit(runSetup(r))
	case roleDial:
		os.Exit(runDialHelper(r))
	}
	slog.Error("init started without a control socket")
	os.Exit(1)
}

var initName = []byte("loginjail-init\x00")

// runSetup reads the setup message, builds the jail, and hands the C init
// what it must carry itself (handoff_linux.go); the C init then reports
// ready. A failure is reported here, as the error message.
func runSetup(r initRole) int {
	unix.CloseOnExec(r.ctl)
	c := &conn{f: os.NewFile(uintptr(r.ctl), "control")}
	m, files, err := c.recv()
	if err != nil || m.Type != msgSetup || m.Spec == nil || m.Etc == nil {
		slog.Error("init: no setup message", "err", err)
		return 1
	}
	spec := m.Spec
	var lower *os.File
	if len(files) > 0 {
		lower = files[0]
	}
	filter, err := seccompFilterOf(spec.Confine.Seccomp)
	if err == nil {
		err = setupInChild(spec, m.Etc, lower, filter)
	}
	closeAll(files)
	if err == nil {
		err = writeHandoff(os.NewFile(uintptr(r.handoff), "handoff"), spec, filter)
	}
	if err != nil {
		c.send(&message{Type: msgError, Error: err.Error()})
		return 1
	}
	return 0
}

// setupInChild is the jail, top to bottom, after the prestart and the
// caller's network attach. The order matters and each constraint is noted
// where it binds; doc.go lists the same steps.
func setupInChild(spec *Spec, etc *EtcFiles, lower *os.File, filter []unix.SockFilter) error {
	steps := []struct {
		name string
		fn   func() error
	}{
		{"loopback up", netpolicy.LoopbackUp},
		// ping without CAP_NET_RAW: ICMP datagram sockets for every group
		// of the jail (a per-netns sysctl, so the host's is untouched).
		{"ping sockets", func() error { return allowPingInChild(spec) }},
		{"hostname", func() error { return setHostnameInChild(spec.Hostname) }},
		// Mounts last: after pivot_root the host's files are out of reach,
		// and nothing above needs them.
		{"root filesystem", func() error { return prepareRootfsInChild(spec, etc, lower) }},
		// Rlimits and the filter last: setup needs neither. Here they
		// bind only this short-lived setup process (and prove they load);
		// the C init takes the same ones over (writeHandoff), so every
		// process it forks inherits both.
		{"rlimits", func() error { return setRlimitsInChild(spec.Confine.Limits) }},
		{"seccomp", func() error { return installSeccompInChild(filter) }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// allowPingInChild opens ICMP datagram sockets to every group of the
// jail. The kernel keeps the range as host gids, so its ends are the
// inside gids with the lowest and highest host gid: the user's own gid
// (mapped to itself, usually below the subordinate range) and 65535.
func allowPingInChild(spec *Spec) error {
	const path = "/proc/sys/net/ipv4/ping_group_range"
	low, high := uint32(0), uint32(IDRange-1)
	if spec.GID < spec.SubGID {
		low = spec.InsideGID()
	} else if spec.GID > spec.SubGID+IDRange-1 {
		high = spec.InsideGID()
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d %d", low, high)), 0); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func setHostnameInChild(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return os.NewSyscallError("sethostname", err)
	}
	return nil
}
