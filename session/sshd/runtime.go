package sshd

import "runtime"

// connProcs is the per-connection process's GOMAXPROCS. A per-connection
// process lives as long as its session, and idle sessions are most of
// them; its work is one connection's crypto and relay, goroutine after
// goroutine. With a P per core the runtime keeps per-P caches and starts
// threads (kernel stacks, page tables) an idle session holds for its
// whole life: one P measured 1.2 MiB less PSS per session here (issue 17).
//
// Its heap is left to the runtime: an idle session's stays under the
// collector's 4 MiB minimum goal, so it never collects, and a
// debug.FreeOSMemory once the jail is built measured 0.25 MiB more PSS
// per session, not less (the collection touches the collector's own
// structures; bench/scale.sh, issue 17). What kept it large was the
// control protocol's MiB per received message (internal/fdmsg).
const connProcs = 1

// tuneConnRuntime sets the per-connection process's runtime up, before
// it serves anything.
func tuneConnRuntime() { runtime.GOMAXPROCS(connProcs) }
