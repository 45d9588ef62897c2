package metrics

import (
	"time"
)

// Login results, the values of loginjail_logins_total's result label.
const (
	ResultSuccess = "success" // authenticated
	ResultFailure = "failure" // wrong credentials, unknown user, bad key
	ResultRefused = "refused" // valid or not, not allowed in: root, PAM account, access rules
)

// Logins are the counters and histograms only the SSH listener can keep:
// it sees every connection and hears from each per-connection process.
type Logins struct {
	logins    *counterVec
	loginTime *histogram
	jailTime  *histogram
	dropped   *counterVec
}

func newLogins() *Logins {
	return &Logins{
		logins: newCounterVec("loginjail_logins_total",
			"Authentication attempts, by result (success, failure, refused) and method.",
			"result", "method"),
		loginTime: newHistogram("loginjail_login_duration_seconds",
			"From accepting the connection to the first process running in the jail.",
			[]float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
		jailTime: newHistogram("loginjail_jail_start_duration_seconds",
			"Building one jail: namespaces, rootfs, network, cgroup, until its init is ready.",
			[]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}),
		dropped: newCounterVec("loginjail_connections_dropped_total",
			"Connections closed before authentication by the listener, by reason.",
			"reason"),
	}
}

// families are the login metrics as scraped now.
func (l *Logins) families() []family {
	return []family{l.logins.family(), l.loginTime.family(), l.jailTime.family(), l.dropped.family()}
}

// Login counts one authentication attempt.
func (l *Logins) Login(result, method string) {
	if l == nil {
		return
	}
	l.logins.inc(result, method)
}

// Started observes a login whose first process runs: d since accept, and
// the jail's build time (jail < 0: the login joined a live jail).
func (l *Logins) Started(d, jail time.Duration) {
	if l == nil {
		return
	}
	l.loginTime.observe(d.Seconds())
	if jail >= 0 {
		l.jailTime.observe(jail.Seconds())
	}
}

// Dropped counts a connection the listener closed, for reason.
func (l *Logins) Dropped(reason string) {
	if l == nil {
		return
	}
	l.dropped.inc(reason)
}
