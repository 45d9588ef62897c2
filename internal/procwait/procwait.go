// Package procwait waits for child processes without holding an OS
// thread for each: the listener's per-connection processes and each
// session's jail init are waited for as long as they live.
package procwait

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reap waits for the exit of the child pid and reaps it, without
// holding an OS thread while it waits: exec.Cmd.Wait blocks one in
// waitid for as long as the child lives, and when hundreds of sessions
// end together (clients dropped, a bench) the runtime starts a thread
// for each, which it never gives back: the listener grew by ~32 KiB per
// session it had ever held at once, and every per-connection process
// kept a thread for its jail init (issue 17). Here the wait is a pidfd
// in the netpoller, and the reaping a WNOHANG wait4 once it is readable.
//
// The process must not be waited for by anyone else (no cmd.Wait).
func Reap(pid int) (syscall.WaitStatus, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return 0, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("pidfd %d: %w", pid, err)
	}
	var ws syscall.WaitStatus
	var werr error
	err = rc.Read(func(uintptr) bool {
		got, e := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(e, syscall.EINTR):
			return false
		case e != nil:
			werr = e
			return true
		}
		return got == pid
	})
	if err != nil {
		return 0, fmt.Errorf("wait for %d: %w", pid, err)
	}
	if werr != nil {
		return 0, fmt.Errorf("wait4 %d: %w", pid, werr)
	}
	return ws, nil
}

// Describe says how a child ended, as os.ProcessState.String does.
func Describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Signaled():
		s := "signal: " + ws.Signal().String()
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	default:
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
}
