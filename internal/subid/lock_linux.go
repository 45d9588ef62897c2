package subid

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

// pwdLockFile is glibc's lckpwdf(3) lock, which shadow's commonio_lock
// takes before the lock file of any database it writes.
const pwdLockFile = "/etc/.pwd.lock"

// lockWait is how long shadow (lckpwdf) waits for the lock.
const lockWait = 15 * time.Second

// lockShadow takes the locks usermod --add-subuids/--add-subgids takes,
// in its order: lckpwdf (a write lock on /etc/.pwd.lock), then for each
// file "FILE.lock" made the commonio way (FILE.PID holding our pid,
// linked to FILE.lock, link count checked; a lock whose pid is dead is
// stale and replaced). unlock releases them in reverse order.
func lockShadow(pwdLock string, files ...string) (unlock func(), err error) {
	var undo []func()
	release := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	pf, err := os.OpenFile(pwdLock, os.O_WRONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock password files: %w", err)
	}
	undo = append(undo, func() { pf.Close() })
	// An open-file-description lock conflicts with glibc's classic
	// F_SETLKW lock, and unlike it is not dropped when another goroutine
	// of this process closes some other descriptor of the file.
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	deadline := time.Now().Add(lockWait)
	for {
		err = unix.FcntlFlock(pf.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("lock %s: %w", pwdLock, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: still held by another process after %s", pwdLock, lockWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, file := range files {
		lock := file + ".lock"
		if err := linkLock(file, lock); err != nil {
			return nil, err
		}
		undo = append(undo, func() { os.Remove(lock) })
	}
	return release, nil
}

// linkLock is shadow's do_lock_file: it fails at once when a live
// process holds the lock, as commonio does once lckpwdf is held.
func linkLock(file, lock string) error {
	tmp := file + "." + strconv.Itoa(os.Getpid())
	// shadow writes the pid with its terminating NUL.
	if err := os.WriteFile(tmp, append([]byte(strconv.Itoa(os.Getpid())), 0), 0o600); err != nil {
		return fmt.Errorf("lock %s: %w", file, err)
	}
	defer os.Remove(tmp)
	for attempt := 0; ; attempt++ {
		err := os.Link(tmp, lock)
		if err == nil {
			var st syscall.Stat_t
			if err := syscall.Stat(tmp, &st); err != nil {
				return fmt.Errorf("lock %s: %w", file, &os.PathError{Op: "stat", Path: tmp, Err: err})
			}
			if st.Nlink != 2 {
				return fmt.Errorf("lock %s: %s has %d links, want 2", file, tmp, st.Nlink)
			}
			return nil
		}
		if !errors.Is(err, os.ErrExist) || attempt > 0 {
			return fmt.Errorf("lock %s: %w", file, err)
		}
		b, err := os.ReadFile(lock)
		if err != nil {
			return fmt.Errorf("lock %s: %w", file, err)
		}
		pid, err := strconv.Atoi(string(bytes.TrimRight(bytes.TrimSpace(b), "\x00")))
		if err != nil || pid <= 0 {
			return fmt.Errorf("lock %s: %s holds no pid (%q)", file, lock, b)
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("lock %s: %s is held by pid %d", file, lock, pid)
		}
		if err := os.Remove(lock); err != nil {
			return fmt.Errorf("lock %s: remove stale %s: %w", file, lock, err)
		}
	}
}
