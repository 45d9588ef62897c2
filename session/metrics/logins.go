package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	logins    *prometheus.CounterVec
	loginTime prometheus.Histogram
	jailTime  prometheus.Histogram
	dropped   *prometheus.CounterVec
}

func newLogins() *Logins {
	return &Logins{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loginjail_logins_total",
			Help: "Authentication attempts, by result (success, failure, refused) and method.",
		}, []string{"result", "method"}),
		loginTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loginjail_login_duration_seconds",
			Help:    "From accepting the connection to the first process running in the jail.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		jailTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loginjail_jail_start_duration_seconds",
			Help:    "Building one jail: namespaces, rootfs, network, cgroup, until its init is ready.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loginjail_connections_dropped_total",
			Help: "Connections closed before authentication by the listener, by reason.",
		}, []string{"reason"}),
	}
}

func (l *Logins) collectors() []prometheus.Collector {
	return []prometheus.Collector{l.logins, l.loginTime, l.jailTime, l.dropped}
}

// Login counts one authentication attempt.
func (l *Logins) Login(result, method string) {
	if l == nil {
		return
	}
	l.logins.WithLabelValues(result, method).Inc()
}

// Started observes a login whose first process runs: d since accept, and
// the jail's build time (jail < 0: the login joined a live jail).
func (l *Logins) Started(d, jail time.Duration) {
	if l == nil {
		return
	}
	l.loginTime.Observe(d.Seconds())
	if jail >= 0 {
		l.jailTime.Observe(jail.Seconds())
	}
}

// Dropped counts a connection the listener closed, for reason.
func (l *Logins) Dropped(reason string) {
	if l == nil {
		return
	}
	l.dropped.WithLabelValues(reason).Inc()
}
