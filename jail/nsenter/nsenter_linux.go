// Package nsenter runs a process inside a live jail for `loginjail enter`:
// it joins all seven namespaces of the jail's init through a pidfd, forks
// into the jail's pid namespace, takes the target ids and execs.
//
// A Go process is multithreaded, and setns(2) into a user or mount namespace
// refuses a multithreaded caller. So the work is done in C by a constructor
// (nsexec_linux.c) that runs before the Go runtime starts, in a re-executed
// copy of the binary, as runc's libcontainer/nsenter does. The constructor
// acts only when the environment variable _LOGINJAIL_NSENTER is set and never
// returns into Go then; in every other run it returns at once. Linking this
// package is what installs the constructor, so import it only from the enter
// path.
//
// The join needs nothing from the jail's init (it works while the init is
// stopped): the kernel reads the namespaces off the init's task.
package nsenter

/*
#cgo CFLAGS: -Wall -Werror
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// envName names the fd of the config pipe in the re-executed process. It is
// the only variable that process gets, so nothing of the caller's
// environment reaches the jail except Config.Env.
const envName = "_LOGINJAIL_NSENTER"

// Exit statuses of the enter process besides the target's own.
const (
	// ExitEnter means entering failed before the target ran; stderr says why.
	ExitEnter = 125
	// ExitCannotExec means the target was found but could not be executed.
	ExitCannotExec = 126
	// ExitNotFound means the target was not found.
	ExitNotFound = 127
)

// Config says which jail to join and what to run there.
type Config struct {
	// PidFD is a pidfd (pidfd_open) of the jail's init, opened and verified
	// by the caller. Command duplicates it, so the caller keeps and closes
	// its own.
	PidFD int
	// UID and GID are ids inside the jail.
	UID, GID uint32
	// Groups are the supplementary groups inside the jail; empty means none.
	// Where the jail's user namespace denies setgroups they cannot be set
	// there: the target keeps HostGroups, and Groups must be how the jail
	// sees them, which the C side checks.
	Groups []uint32
	// HostGroups are the host gids the enter process holds before it joins
	// the jail (replacing host root's own); empty means none.
	HostGroups []uint32
	// Cwd is the working directory inside the jail; "/" if chdir fails.
	Cwd string
	// Argv is the command; argv[0] without a slash is looked up in the PATH
	// of Env.
	Argv []string
	// Env is the whole environment of the target.
	Env []string
	// Setsid makes the target a session leader with stdin (a terminal) as
	// its controlling terminal.
	Setsid bool

	// Confine, unless nil, holds the target to a session's confinement
	// (see Confine). Nil is `enter --privileged`: the target keeps every
	// capability of the jail's root and meets no filter or limit.
	Confine *Confine

	// viaProc makes the C side join through /proc/PID/ns/* as it does on
	// kernels before 5.8, so tests can cover that path on a new kernel.
	viaProc bool
}

// Confine is what the target is held to, the same as every process the
// jail's init starts: the enter process joins the session's cgroup (as
// host root, before it joins any namespace), sets the rlimits, and the
// target, after taking its ids, drops every capability outside Bset from
// its bounding set, sets no_new_privs and installs the seccomp filter
// last before execve.
type Confine struct {
	// CgroupProcs are the cgroup.procs files of the session's cgroup
	// (one per v1 hierarchy, one on v2).
	CgroupProcs []string
	// Bset is the bounding set kept: bit N is capability N.
	Bset uint64
	// Nofile and Nproc are RLIMIT_NOFILE and RLIMIT_NPROC; 0 keeps ours.
	Nofile, Nproc uint64
	// Seccomp is the filter as the kernel's struct sock_filter array
	// (8 bytes per instruction, native endian); empty = no filter.
	Seccomp []byte
}

// Command returns a command that runs cfg.Argv inside the jail of
// cfg.PidFD. It re-executes /proc/self/exe with the config on an inherited
// pipe, named by _LOGINJAIL_NSENTER, the only variable in its environment.
// The caller sets Stdin, Stdout, Stderr (and, to put the target in the
// jail's cgroup, SysProcAttr.UseCgroupFD/CgroupFD) and runs it.
//
// The command's exit status is the target's: its exit code, or 128+N when
// signal N killed it. ExitEnter (125) means entering failed, with a one-line
// "loginjail enter: ..." on stderr; ExitCannotExec and ExitNotFound mean
// execve of the target failed. SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to
// the command are passed on to the target; if the command is SIGKILLed the
// target is killed too.
//
// The command holds duplicates of the pipe's read end and of the pidfd in
// ExtraFiles; they are closed when garbage collected, or by the caller.
func Command(cfg Config) (*exec.Cmd, error) {
	// In the child, ExtraFiles[i] is fd 3+i.
	const pipeFD, pidFD = 3, 4
	if cfg.PidFD < 0 {
		return nil, fmt.Errorf("nsenter: bad pidfd %d", cfg.PidFD)
	}
	msg, err := encode(cfg, pidFD)
	if err != nil {
		return nil, err
	}
	// A duplicate, because an *os.File closes its fd when collected and
	// the caller's fd is not ours to close.
	dup, err := unix.FcntlInt(uintptr(cfg.PidFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("nsenter: dup pidfd: %w", os.NewSyscallError("fcntl", err))
	}
	pidfd := os.NewFile(uintptr(dup), "pidfd")
	r, err := configPipe(msg)
	if err != nil {
		pidfd.Close()
		return nil, err
	}
	return &exec.Cmd{
		// Args[0] only names the process in ps: the constructor takes
		// over before anything reads argv.
		Path:       "/proc/self/exe",
		Args:       []string{"loginjail-enter"},
		Env:        []string{fmt.Sprintf("%s=%d", envName, pipeFD)},
		ExtraFiles: []*os.File{r, pidfd},
	}, nil
}

// Supported reports whether the kernel can enter a jail the way Command
// does: pidfd_open (Linux 5.3) and setns on a pidfd (5.8). The probe joins
// the caller's own UTS namespace, which changes nothing.
func Supported() error {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("nsenter: pidfd_open: %w", os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(fd)
	// setns changes only the calling thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = unix.Setns(fd, unix.CLONE_NEWUTS)
	// EPERM comes from the capability check, after the kernel accepted
	// the pidfd; before 5.8 a pidfd is not a namespace fd: EINVAL.
	if err == nil || errors.Is(err, unix.EPERM) {
		return nil
	}
	return fmt.Errorf("nsenter: setns with a pidfd: %w", os.NewSyscallError("setns", err))
}
