package jail

// initRuntimeEnv tunes the Go runtime of the short-lived Go processes the
// C jail init forks (the setup, a dial helper; PID 1 itself runs no Go):
// one P, so that the runtime starts no threads to run goroutines in
// parallel that they have no use for. It is read by the runtime before
// main, which is why it travels in the environment; Init and the C init
// clear that before anything of the jail's runs.
var initRuntimeEnv = []string{"GOMAXPROCS=1"}
