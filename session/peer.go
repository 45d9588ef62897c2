package session

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Peer is who may send a jail server a request: the uid the kernel
// reports for the connecting process (SO_PEERCRED) and, when Ancestor is
// set, a process (pid and start time, so a reused pid does not count)
// that the connecting process must descend from.
type Peer struct {
	UID           uint32
	Ancestor      int // 0: any ancestry
	AncestorStart uint64
}

// peerCred returns the connecting process's pid and uid (SO_PEERCRED),
// as the kernel recorded them at connect.
func peerCred(c *net.UnixConn) (pid int, uid uint32, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, cerr
	}
	return int(cred.Pid), cred.Uid, nil
}

// admits is the one peer check of every jail server: the peer (pid, uid
// from SO_PEERCRED) has want's uid and, if want names an ancestor,
// descends from it.
func (want Peer) admits(pid int, uid uint32) error {
	if uid != want.UID {
		return fmt.Errorf("peer uid %d, want %d", uid, want.UID)
	}
	if want.Ancestor != 0 && !descendsFrom(pid, want.Ancestor, want.AncestorStart) {
		return fmt.Errorf("peer pid %d does not descend from process %d", pid, want.Ancestor)
	}
	return nil
}
