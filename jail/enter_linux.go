package jail

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/loginjail/loginjail/jail/nsenter"
)

// EnterSpec is a process to start in a live jail by joining its init's
// namespaces with setns: no request goes to init, so it works while init
// is stopped or busy.
type EnterSpec struct {
	UID, GID   uint32 // inside the jail
	Dir        string // inside the jail; "/" if it cannot be entered
	Argv       []string
	Env        []string
	Tty        bool // give the process a terminal of the jail's own devpts
	Rows, Cols uint16

	// Confine holds the process to the session's confinement: its
	// cgroup, rlimits, bounding set, no_new_privs and seccomp filter, as
	// every process init starts. Nil (`enter --privileged`) skips all of
	// it: the process keeps every capability of the jail's root.
	Confine *Confinement
	// SessionID and HostUID name the session's cgroup.
	SessionID string
	HostUID   uint32
}

// enterConfine turns a session's confinement into what the C half of
// enter applies.
func enterConfine(es EnterSpec) (*nsenter.Confine, error) {
	if es.Confine == nil {
		return nil, nil
	}
	c := es.Confine
	bset, err := CapMask(c.Caps)
	if err != nil {
		return nil, err
	}
	nc := &nsenter.Confine{Bset: bset, Nofile: c.Limits.Nofile, Nproc: c.Limits.Nproc}
	if !c.Seccomp.Off {
		f, err := BuildSeccompFilter(c.Seccomp)
		if err != nil {
			return nil, err
		}
		nc.Seccomp = SeccompBytes(f)
	}
	nc.CgroupProcs, err = currentCgroupDriver().procsFiles(es.SessionID, es.HostUID, c.Limits.PerUser)
	if err != nil {
		return nil, err
	}
	return nc, nil
}

// Enter starts es in the jail of h. Without Tty the process uses stdin,
// stdout and stderr as they are; with Tty it gets a fresh terminal of the
// jail's devpts (a host terminal inside the jail could be typed into with
// TIOCSTI) and the master is returned for the caller to relay.
func Enter(h *InitHandle, es EnterSpec, stdin, stdout, stderr *os.File) (*exec.Cmd, *os.File, error) {
	confine, err := enterConfine(es)
	if err != nil {
		return nil, nil, err
	}
	cmd, err := nsenter.Command(nsenter.Config{
		PidFD: h.FD(), UID: es.UID, GID: es.GID, Cwd: es.Dir,
		Argv: es.Argv, Env: es.Env, Setsid: es.Tty, Confine: confine,
	})
	if err != nil {
		return nil, nil, err
	}
	var master *os.File
	if es.Tty {
		var slave *os.File
		master, slave, err = openJailPty(h.Pid, es.UID, es.Rows, es.Cols)
		if err != nil {
			return nil, nil, err
		}
		defer slave.Close()
		stdin, stdout, stderr = slave, slave, slave
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		if master != nil {
			master.Close()
		}
		return nil, nil, fmt.Errorf("enter jail of pid %d: %w", h.Pid, err)
	}
	return cmd, master, nil
}

// openJailPty opens a terminal from the devpts instance of the jail whose
// init is pid, through its root as init sees it. The path is resolved
// inside that root so nothing in the jail can point it elsewhere.
func openJailPty(pid int, insideUID uint32, rows, cols uint16) (master, slave *os.File, err error) {
	root := fmt.Sprintf("/proc/%d/root", pid)
	mfd, err := openInRoot(root, "/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY)
	if err != nil {
		return nil, nil, fmt.Errorf("open jail terminal: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "ptmx")
	fail := func(e error) (*os.File, *os.File, error) {
		master.Close()
		if slave != nil {
			slave.Close()
		}
		return nil, nil, e
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(os.NewSyscallError("unlockpt", err))
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return fail(os.NewSyscallError("TIOCGPTPEER", errno))
	}
	slave = os.NewFile(r, "pts")
	hostUID, err := mapToHost(pid, "uid_map", insideUID)
	if err != nil {
		return fail(err)
	}
	if err := unix.Fchown(int(r), int(hostUID), -1); err != nil {
		return fail(os.NewSyscallError("fchown pts", err))
	}
	if rows > 0 && cols > 0 {
		unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
	return master, slave, nil
}

// mapToHost translates an id inside pid's user namespace to the host's.
func mapToHost(pid int, file string, inside uint32) (uint32, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		in, _ := strconv.ParseUint(fs[0], 10, 32)
		out, _ := strconv.ParseUint(fs[1], 10, 32)
		n, _ := strconv.ParseUint(fs[2], 10, 32)
		if uint64(inside) >= in && uint64(inside) < in+n {
			return uint32(out + uint64(inside) - in), nil
		}
	}
	return 0, fmt.Errorf("id %d is not mapped in the jail of pid %d", inside, pid)
}
