package sshd

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The listener runs for months and serves every connection, so what it
// holds must not grow with the connections it has served (issue 17).
// Per connection it allocates a few tens of KiB (the exec, the status
// pipe's scanner, a goroutine's stack) that are garbage once the
// per-connection process ends; left to the runtime, that garbage would
// stay resident up to the collector's 4 MiB minimum goal and its idle
// pages for minutes. After per-connection processes end, the listener
// collects and hands the freed pages back at once (memRelease), and
// SIGUSR1 logs what it holds (logState), which the e2e tests compare
// before and after serving many connections.

// releaseDelay is how long after a per-connection process ends the
// listener collects and returns freed memory: one collection covers a
// burst of sessions ending together (clients dropped, a host rebooting
// its clients), and there is at most one per releaseDelay.
const releaseDelay = 2 * time.Second

// memRelease runs free at most once per delay, after the first of a
// burst of calls to ended.
type memRelease struct {
	mu    sync.Mutex
	armed bool
	delay time.Duration
	free  func()
}

func newMemRelease() *memRelease {
	return &memRelease{delay: releaseDelay, free: debug.FreeOSMemory}
}

// ended notes that a per-connection process ended.
func (r *memRelease) ended() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed {
		return
	}
	r.armed = true
	time.AfterFunc(r.delay, func() {
		r.mu.Lock()
		r.armed = false
		r.mu.Unlock()
		r.free()
	})
}

// listenerState is what the listener holds, as SIGUSR1 logs it.
type listenerState struct {
	Children    int    // per-connection processes being watched
	Unauth      int    // of them, not yet authenticated (max_startups)
	Penalised   int    // sources in the penalty table
	Goroutines  int    //
	Threads     int    // OS threads (from /proc/self/status)
	FDs         int    // open file descriptors (a pidfd or pipe kept per connection shows here)
	HeapObjects uint64 // live heap objects after a collection
	HeapBytes   uint64 // live heap bytes after a collection
}

// state collects the listener's state; it runs two collections first
// (the second empties what sync.Pools kept through the first), so the
// heap figures are what is live, not garbage.
func (l *listener) state() listenerState {
	runtime.GC()
	runtime.GC()
	l.mu.Lock()
	s := listenerState{Children: l.children, Unauth: l.unauth}
	l.mu.Unlock()
	s.Penalised = l.pen.size()
	s.Goroutines = runtime.NumGoroutine()
	s.Threads = threadCount()
	s.FDs = fdCount()
	m := []metrics.Sample{{Name: "/gc/heap/objects:objects"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		s.HeapObjects = m[0].Value.Uint64()
	}
	if m[1].Value.Kind() == metrics.KindUint64 {
		s.HeapBytes = m[1].Value.Uint64()
	}
	return s
}

// logState is SIGUSR1: one line with the listener's state.
func (l *listener) logState() {
	s := l.state()
	slog.Info("listener state", "event", evState, "children", s.Children, "unauthenticated", s.Unauth,
		"penalised_sources", s.Penalised, "goroutines", s.Goroutines, "threads", s.Threads,
		"fds", s.FDs, "heap_objects", s.HeapObjects, "heap_live_bytes", s.HeapBytes)
}

// threadCount is the process's number of OS threads; 0 if unknown.
func threadCount() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// fdCount is the process's number of open file descriptors (the one
// reading /proc/self/fd included); 0 if unknown.
func fdCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
