package jail

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rlimit is one resource limit of a jail (soft = hard).
type rlimit struct {
	name     string
	resource int
	value    uint64
}

// rlimitsOf lists the limits l sets; a zero value leaves one alone.
func rlimitsOf(l Limits) []rlimit {
	var out []rlimit
	for _, r := range []rlimit{{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, l.Nofile}, {"RLIMIT_NPROC", unix.RLIMIT_NPROC, l.Nproc}} {
		if r.value != 0 {
			out = append(out, r)
		}
	}
	return out
}

// setRlimitsInChild sets the session's rlimits on the setup process, which
// proves them valid; the C init sets the same (writeHandoff), and every
// process it forks inherits them. syscall.Setrlimit (not x/sys) also stops
// the runtime from putting its startup RLIMIT_NOFILE back in children.
func setRlimitsInChild(l Limits) error {
	for _, r := range rlimitsOf(l) {
		lim := syscall.Rlimit{Cur: r.value, Max: r.value}
		if err := syscall.Setrlimit(r.resource, &lim); err != nil {
			return fmt.Errorf("setrlimit %s %d: %w", r.name, r.value, err)
		}
	}
	return nil
}

// seccompFilterOf builds the jail's filter once for the setup process,
// which both loads it and hands it to the C init; nil when the policy
// turns seccomp off.
func seccompFilterOf(s Seccomp) ([]unix.SockFilter, error) {
	if s.Off {
		return nil, nil
	}
	filter, err := BuildSeccompFilter(s)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return filter, nil
}

// installSeccompInChild loads the filter on every thread of the setup
// process (SECCOMP_FILTER_FLAG_TSYNC), which proves it loads; the C init
// installs the same program with the same flag (writeHandoff), and every
// process it forks inherits it. no_new_privs is already set
// (prestart_linux.go). Init keeps working under it: it forks, execs,
// reaps, opens terminals and sockets, and mounts nothing after setup.
// A nil filter (seccomp off) loads nothing.
func installSeccompInChild(filter []unix.SockFilter) error {
	if filter == nil {
		return nil
	}
	return loadSeccomp(filter, unix.SECCOMP_FILTER_FLAG_TSYNC)
}

func loadSeccomp(filter []unix.SockFilter, flags uintptr) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return os.NewSyscallError("seccomp", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: thread %d could not take the filter", r)
	}
	return nil
}
