package sshd

import (
	"fmt"
	"os/user"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// readAsUser runs read with the filesystem uid and gid of the account
// uid (its passwd primary gid), as OpenSSH's temporarily_use_uid does
// before it opens authorized_keys: a home on root-squashed NFS, or any
// home root may not read, is read with the user's own rights, and root's
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH leave the thread's effective
// set while the fsuid is not 0 (the kernel drops them), so root reads
// nothing there the user could not.
//
// fsuid and fsgid are per thread: read runs on a locked thread of its
// own. If the ids cannot be put back, the thread is left locked and so
// dies with its goroutine instead of serving another with the user's ids.
// Supplementary groups are not taken (setgroups would need a per-thread
// raw call and a restore); the primary group is what StrictModes-clean
// files need.
func readAsUser(uid uint32, read func() ([]byte, error)) ([]byte, error) {
	if uid == 0 || unix.Geteuid() != 0 {
		return read()
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return nil, fmt.Errorf("read as uid %d: %w", uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("read as uid %d: primary gid %q: %w", uid, u.Gid, err)
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := setFSIDs(uid, uint32(gid)); err != nil {
			// Whatever half was set, the thread dies locked.
			done <- result{nil, err}
			return
		}
		data, err := read()
		if rerr := setFSIDs(0, 0); rerr != nil {
			done <- result{nil, fmt.Errorf("restore root's filesystem ids: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{data, err}
	}()
	r := <-done
	return r.data, r.err
}

// setFSIDs sets the calling thread's fsgid, then fsuid, and checks both
// took (setfsuid reports no error; a second call returns the current
// value).
func setFSIDs(uid, gid uint32) error {
	// The first call of each sets the id and returns the previous one.
	_, _ = unix.SetfsgidRetGid(int(gid))
	_, _ = unix.SetfsuidRetUid(int(uid))
	if cur, _ := unix.SetfsgidRetGid(int(gid)); cur != int(gid) {
		return fmt.Errorf("setfsgid(%d): fsgid is %d", gid, cur)
	}
	if cur, _ := unix.SetfsuidRetUid(int(uid)); cur != int(uid) {
		return fmt.Errorf("setfsuid(%d): fsuid is %d", uid, cur)
	}
	return nil
}
