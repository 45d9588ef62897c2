package sshd

import (
	"os"
	"runtime"
)

// lockedThread runs functions one at a time on one locked OS thread. PAM
// modules keep per-thread state (pam_loginuid sets the calling thread's
// audit loginuid, which only children forked from that thread inherit),
// so every PAM call of a connection, and the clone of its jail init, run
// here.
//
// In the per-connection process it is the process's main thread: the
// kernel lets a task write /proc/self/loginuid only when it is the thread
// group leader (proc_loginuid_write checks current against the pid of
// the /proc entry), so pam_loginuid (session required in Debian's sshd
// stack) fails with "Cannot make/remove an entry for the specified
// session" on any other thread.
type lockedThread struct {
	work chan func()
	main bool // the process's main thread: ServeConnection's own process
}

func init() {
	// An init function's LockOSThread keeps the main goroutine on the
	// main thread; ServeConnection runs the PAM thread's loop there.
	if len(os.Args) > 1 && os.Args[1] == "sshd-conn" {
		runtime.LockOSThread()
	}
}

// newLockedThread starts a locked thread of its own (not the main one).
func newLockedThread() *lockedThread {
	t := &lockedThread{work: make(chan func())}
	go func() {
		// Never unlocked: the thread carries the login's PAM state and
		// dies with the process.
		runtime.LockOSThread()
		t.loop()
	}()
	return t
}

// loop runs the thread's work until it is closed.
func (t *lockedThread) loop() {
	for f := range t.work {
		f()
	}
}

// do runs f on the thread and returns when it has.
func (t *lockedThread) do(f func()) {
	done := make(chan struct{})
	t.work <- func() {
		defer close(done)
		f()
	}
	<-done
}
