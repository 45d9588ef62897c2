package sshd

import (
	"runtime"
	"runtime/debug"
	"time"
)

// A per-connection process lives as long as its session, and an idle
// session is most of them: its Go runtime is tuned for a small resident
// size rather than for throughput it never needs (issue 17).

// connProcs is the per-connection process's GOMAXPROCS. Its work is one
// connection's crypto and relay, which runs goroutine after goroutine;
// a P per core only lets the runtime start threads (kernel stacks, page
// tables, per session) that an idle session keeps for its whole life.
const connProcs = 1

// releaseDelay is how long after its jail is built the process returns
// the heap the handshake, PAM and the jail's start left behind: long
// enough for the first shell or command to be spawned too.
const releaseDelay = 2 * time.Second

// tuneConnRuntime sets the per-connection process's runtime up, before
// it serves anything.
func tuneConnRuntime() { runtime.GOMAXPROCS(connProcs) }

// releaseLoginMemory returns the login's garbage to the kernel once, a
// little after the jail is built: the runtime would otherwise keep its
// 4 MiB minimum heap goal resident for the whole session.
func releaseLoginMemory() { time.AfterFunc(releaseDelay, debug.FreeOSMemory) }
