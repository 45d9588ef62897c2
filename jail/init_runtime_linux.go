package jail

import "runtime/debug"

// initRuntimeEnv tunes the Go runtime of the jail init, which lives as
// long as the session and mostly sleeps: one P (so the runtime starts
// no threads to run goroutines in parallel that init has no use for; each
// thread costs a kernel stack and page tables, per session), and a small
// heap goal (init's live heap is a few hundred KiB; GOGC's default lets
// it hold 4 MiB). They are read by the runtime before main, which is why
// they travel in the environment; runInit clears it before anything of
// the jail's runs.
var initRuntimeEnv = []string{"GOMAXPROCS=1", "GOGC=25"}

// releaseInitMemory hands what the jail's setup allocated back to the
// kernel once init is ready: from here on it only serves the control
// protocol and reaps.
func releaseInitMemory() { debug.FreeOSMemory() }
