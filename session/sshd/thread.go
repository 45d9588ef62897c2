package sshd

import "runtime"

// lockedThread runs functions one at a time on one locked OS thread. PAM
// modules keep per-thread state (pam_loginuid sets the calling thread's
// audit loginuid, which only children forked from that thread inherit),
// so every PAM call of a connection, and the clone of its jail init, run
// here.
type lockedThread struct {
	work chan func()
}

func newLockedThread() *lockedThread {
	t := &lockedThread{work: make(chan func())}
	go func() {
		// Never unlocked: the thread carries the login's PAM state and
		// dies with the process.
		runtime.LockOSThread()
		for f := range t.work {
			f()
		}
	}()
	return t
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
