package jail

// cgroupfs removal: a plain rmdir of the session's directory in every
// hierarchy and layout, killing what is left first, so that gc can run it
// knowing only the session id and uid.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func removeCgroup(h cgroupHost, id string, uid uint32) error {
	var roots []string
	if h.v2 {
		roots = []string{h.root}
	} else {
		for _, ctrl := range v1Controllers {
			roots = append(roots, filepath.Join(h.root, ctrl))
		}
	}
	var errs []error
	for _, root := range roots {
		for _, perUser := range []bool{false, true} {
			sess, user := cgroupRel(id, uid, perUser)
			if err := rmdirCgroup(filepath.Join(root, sess)); err != nil {
				errs = append(errs, err)
			}
			if user != "" {
				// Only once no session of the user is left.
				if err := unix.Rmdir(filepath.Join(root, user)); err != nil && err != unix.ENOENT && err != unix.EBUSY && err != unix.ENOTEMPTY {
					errs = append(errs, &os.PathError{Op: "rmdir", Path: filepath.Join(root, user), Err: err})
				}
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirCgroup kills what is left in dir and removes it, retrying while
// the kernel finishes the exits.
func rmdirCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		killCgroup(dir)
		time.Sleep(10 * time.Millisecond)
	}
}

// killCgroup SIGKILLs every process in dir: cgroup.kill on v2, one by one
// from cgroup.procs on v1.
func killCgroup(dir string) {
	if err := writeCgroupFile(filepath.Join(dir, "cgroup.kill"), "1"); err == nil {
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range bytes.Fields(b) {
		// A v1 cgroup.procs names a process when any one thread of it is
		// inside: never our own (a thread on its way back from startV1).
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 && pid != os.Getpid() {
			unix.Kill(pid, syscall.SIGKILL)
		}
	}
}
