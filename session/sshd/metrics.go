package sshd

import (
	"io"
	"time"
)

// Results of loginjail_logins_total, as the listener reports them to its
// Metrics (the values are the metric's result label).
const (
	ResultSuccess = "success" // authenticated
	ResultFailure = "failure" // wrong credentials, unknown user, bad key
	ResultRefused = "refused" // valid or not, not allowed in: root, PAM account, access rules
)

// Metrics are the login counters only the listener can keep: it sees
// every connection and hears from each per-connection process. They are
// an interface, injected through Options.ServeMetrics, so that this
// package (linked into the small loginjail-session binary, exec'd once per
// login) does not link a metrics library or an HTTP server.
type Metrics interface {
	// Login counts one authentication attempt: result is one of the
	// Result constants, method the SSH method.
	Login(result, method string)
	// Started observes a login whose first process runs: d since accept,
	// and the jail's build time (jail < 0: the login joined a live jail).
	Started(d, jail time.Duration)
	// Dropped counts a connection the listener closed, for reason.
	Dropped(reason string)
}

// ServeMetricsFunc starts serving the metrics on addr ([server]
// metrics_listen), with the per-session series of the sessions under
// stateDir, and returns the listener's Metrics and what stops the serving.
type ServeMetricsFunc func(addr, stateDir string) (Metrics, io.Closer, error)

// noMetrics is the listener's Metrics without [server] metrics_listen.
type noMetrics struct{}

func (noMetrics) Login(string, string)                 {}
func (noMetrics) Started(time.Duration, time.Duration) {}
func (noMetrics) Dropped(string)                       {}
