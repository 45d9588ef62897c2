package jail

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// initCmd is the jail init's command with the host groups it is born
// holding. A user namespace whose setgroups file says "deny" (every jail
// but a root one with allow_setgroups) refuses setgroups even to its
// root, so the only way for init, and every process it starts, to have
// the user's groups is to inherit them at clone.
type initCmd struct {
	*exec.Cmd
	groups []uint32
}

// Start clones the init from this OS thread while the thread, and only
// it, holds the user's groups. Credentials are per thread in Linux and
// the child copies its parent thread's; a raw setgroups changes just the
// calling thread (the libc and Go wrappers would change every thread of
// the process). The thread gets its own groups back after the clone; if
// that fails it stays locked, so the runtime ends it with its goroutine
// instead of reusing it.
func (c *initCmd) Start() error {
	runtime.LockOSThread()
	own, err := threadGroups()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	if err := setThreadGroups(c.groups); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("take the user's groups for the clone: %w", err)
	}
	startErr := c.Cmd.Start()
	if err := setThreadGroups(own); err != nil {
		return fmt.Errorf("restore the thread's groups after the clone: %w", err)
	}
	runtime.UnlockOSThread()
	return startErr
}

// threadGroups are the calling thread's supplementary groups.
func threadGroups() ([]uint32, error) {
	n, _, errno := syscall.RawSyscall(unix.SYS_GETGROUPS, 0, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("getgroups: %w", errno)
	}
	gs := make([]uint32, n+1) // +1: never a nil pointer
	n, _, errno = syscall.RawSyscall(unix.SYS_GETGROUPS, n, uintptr(unsafe.Pointer(&gs[0])), 0)
	if errno != 0 {
		return nil, fmt.Errorf("getgroups: %w", errno)
	}
	return gs[:n], nil
}

// setThreadGroups sets the calling thread's supplementary groups only.
func setThreadGroups(gs []uint32) error {
	var p unsafe.Pointer
	if len(gs) > 0 {
		p = unsafe.Pointer(&gs[0])
	}
	_, _, errno := syscall.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gs)), uintptr(p), 0)
	if errno != 0 {
		return fmt.Errorf("setgroups: %w", errno)
	}
	return nil
}
