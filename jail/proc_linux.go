package jail

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRunning means the jail's init is gone (or its pid now belongs to
// another process).
var ErrNotRunning = errors.New("jail init is not running")

// ProcStartTime returns field 22 of /proc/PID/stat: the process's start
// time in clock ticks since boot. With the pid it names one process for
// good, even after the pid is reused.
func ProcStartTime(pid int) (uint64, error) {
	_, start, err := ProcStat(pid)
	return start, err
}

// ProcStat returns a process's parent pid (field 4 of /proc/PID/stat)
// and start time (field 22).
func ProcStat(pid int) (ppid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// comm (field 2) may hold spaces and parentheses: fields resume after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: no comm field", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state).
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	if ppid, err = strconv.Atoi(string(fields[1])); err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	return ppid, start, err
}

// InitHandle is a pidfd on a jail's init, checked to be the same process
// its record names.
type InitHandle struct {
	Pid int
	fd  int
}

// OpenInit opens the init named by pid and start time. It returns
// ErrNotRunning if that process has exited.
func OpenInit(pid int, startTime uint64) (*InitHandle, error) {
	if pid <= 0 {
		return nil, ErrNotRunning
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	// Check after opening: once we hold the pidfd the pid cannot be
	// reused, so a matching start time proves it is the same process.
	st, err := ProcStartTime(pid)
	if err != nil || st != startTime {
		unix.Close(fd)
		return nil, ErrNotRunning
	}
	return &InitHandle{Pid: pid, fd: fd}, nil
}

// Alive reports whether the init named by pid and start time still runs.
func Alive(pid int, startTime uint64) bool {
	h, err := OpenInit(pid, startTime)
	if err != nil {
		return false
	}
	h.Close()
	return true
}

// FD returns the pidfd, for joining the init's namespaces.
func (h *InitHandle) FD() int { return h.fd }

// Signal sends sig to init through the pidfd.
func (h *InitHandle) Signal(sig syscall.Signal) error {
	if err := unix.PidfdSendSignal(h.fd, sig, nil, 0); err != nil {
		if err == unix.ESRCH {
			return ErrNotRunning
		}
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return nil
}

// WaitExit waits up to timeout for init to exit and reports whether it did.
func (h *InitHandle) WaitExit(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			return true
		}
		if err != nil || left == 0 {
			return false
		}
	}
}

// Kill ends the jail from outside: SIGTERM lets init end its processes
// within its grace period; SIGKILL follows if it has not exited by timeout.
func (h *InitHandle) Kill(timeout time.Duration) error {
	if err := h.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, ErrNotRunning) {
			return nil
		}
		return err
	}
	if h.WaitExit(timeout) {
		return nil
	}
	if err := h.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	if !h.WaitExit(5 * time.Second) {
		return fmt.Errorf("jail init %d did not exit after SIGKILL", h.Pid)
	}
	return nil
}

// Close releases the pidfd.
func (h *InitHandle) Close() error { return unix.Close(h.fd) }
