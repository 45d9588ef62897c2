package jail

// initRuntimeEnv tunes the Go runtime of the jail init, which lives as
// long as the session and mostly sleeps: one P, so that the runtime
// starts no threads to run goroutines in parallel that init has no use
// for (each costs a kernel stack and page tables, per session; issue 17).
// It is read by the runtime before main, which is why it travels in the
// environment; runInit clears that before anything of the jail's runs.
//
// Init's heap is left alone: it stays under the runtime's 4 MiB minimum
// goal, so it never collects, and a lower GOGC or a FreeOSMemory after
// setup measured 0.2-0.3 MiB more per init (a collection touches the
// collector's own structures), not less.
var initRuntimeEnv = []string{"GOMAXPROCS=1"}
