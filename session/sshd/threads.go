package sshd

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// shedDelay is how long after the login's first process starts the
// per-connection process gives back its idle threads: long enough for
// the login's burst of cgo and blocking calls to be over.
const shedDelay = time.Second

// shedAgain is when the second pass runs, for a thread the runtime
// started just after the first.
const shedAgain = 6 * time.Second

// busyThreads are the threads a per-connection process keeps: the main
// thread, sysmon, the runtime's template thread and the one running Go.
const busyThreads = 4

// shedIdleThreads ends the OS threads the runtime keeps idle. A login
// makes the runtime start threads (PAM's cgo calls, user lookups, the
// jail's clone and blocking syscalls each hand the P on to another
// thread), and the runtime never ends an idle one: an idle session held
// ~6 threads for its whole life, each a 16 KiB kernel stack and a task
// struct (issue 17). The runtime ends a thread only when a goroutine
// exits locked to it, so: lock one goroutine to each idle thread, then
// let them all exit. What is left is the main thread (locked to the PAM
// loop), sysmon, the runtime's template thread and the one that runs Go.
//
// Exactly as many goroutines as idle threads: each one locked and
// blocked hands the P to the next idle thread, and once they are all
// taken the last one runs this function again; one more would make the
// runtime start a new thread only to end it, and each thread it starts
// leaves its m and signal stack in a heap that never collects (that
// measured more PSS than the threads it ended cost).
func shedIdleThreads() {
	n := procThreads() - busyThreads
	if n <= 0 {
		return
	}
	var locked sync.WaitGroup
	release := make(chan struct{})
	for range n {
		locked.Add(1)
		go func() {
			// Never unlocked: exiting locked ends the thread. The main
			// thread cannot be among them: the PAM loop holds it.
			runtime.LockOSThread()
			locked.Done()
			<-release
		}()
	}
	locked.Wait()
	close(release)
}

// procThreads is the process's number of threads, from /proc (0 when
// unreadable). listener_state.go has its own copy: the per-connection
// process may move to a binary of its own.
func procThreads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
