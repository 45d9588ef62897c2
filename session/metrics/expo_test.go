package metrics

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestLoginsExposition pins the text format of the login metrics: what
// client_golang's encoder wrote for the same observations (families by
// name, labels by name, series by label values, cumulative buckets).
func TestLoginsExposition(t *testing.T) {
	l := newLogins()
	l.Login(ResultSuccess, "publickey")
	l.Login(ResultFailure, "password")
	l.Login(ResultFailure, "password")
	l.Dropped("max_startups")
	l.Started(300*time.Millisecond, 40*time.Millisecond)
	l.Started(2*time.Second, -1) // joined a live jail
	var b strings.Builder
	writeFamilies(&b, l.families())
	want := `# HELP loginjail_connections_dropped_total Connections closed before authentication by the listener, by reason.
# TYPE loginjail_connections_dropped_total counter
loginjail_connections_dropped_total{reason="max_startups"} 1
# HELP loginjail_jail_start_duration_seconds Building one jail: namespaces, rootfs, network, cgroup, until its init is ready.
# TYPE loginjail_jail_start_duration_seconds histogram
loginjail_jail_start_duration_seconds_bucket{le="0.01"} 0
loginjail_jail_start_duration_seconds_bucket{le="0.025"} 0
loginjail_jail_start_duration_seconds_bucket{le="0.05"} 1
loginjail_jail_start_duration_seconds_bucket{le="0.1"} 1
loginjail_jail_start_duration_seconds_bucket{le="0.25"} 1
loginjail_jail_start_duration_seconds_bucket{le="0.5"} 1
loginjail_jail_start_duration_seconds_bucket{le="1"} 1
loginjail_jail_start_duration_seconds_bucket{le="2.5"} 1
loginjail_jail_start_duration_seconds_bucket{le="5"} 1
loginjail_jail_start_duration_seconds_bucket{le="+Inf"} 1
loginjail_jail_start_duration_seconds_sum 0.04
loginjail_jail_start_duration_seconds_count 1
# HELP loginjail_login_duration_seconds From accepting the connection to the first process running in the jail.
# TYPE loginjail_login_duration_seconds histogram
loginjail_login_duration_seconds_bucket{le="0.05"} 0
loginjail_login_duration_seconds_bucket{le="0.1"} 0
loginjail_login_duration_seconds_bucket{le="0.25"} 0
loginjail_login_duration_seconds_bucket{le="0.5"} 1
loginjail_login_duration_seconds_bucket{le="1"} 1
loginjail_login_duration_seconds_bucket{le="2.5"} 2
loginjail_login_duration_seconds_bucket{le="5"} 2
loginjail_login_duration_seconds_bucket{le="10"} 2
loginjail_login_duration_seconds_bucket{le="30"} 2
loginjail_login_duration_seconds_bucket{le="60"} 2
loginjail_login_duration_seconds_bucket{le="+Inf"} 2
loginjail_login_duration_seconds_sum 2.3
loginjail_login_duration_seconds_count 2
# HELP loginjail_logins_total Authentication attempts, by result (success, failure, refused) and method.
# TYPE loginjail_logins_total counter
loginjail_logins_total{method="password",result="failure"} 2
loginjail_logins_total{method="publickey",result="success"} 1
`
	if got := b.String(); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
}

// TestExpositionEscapesAndEdges: label values and help are escaped, an
// empty vector writes nothing, an observation on a bound counts in it.
func TestExpositionEscapesAndEdges(t *testing.T) {
	c := newCounterVec("x_total", "a \\ help\nline", "user")
	empty := newCounterVec("y_total", "never used", "reason")
	c.inc("q\"b\\n\n")
	h := newHistogram("h", "h", []float64{1, 2})
	h.observe(1)
	h.observe(math.Inf(1))
	var b strings.Builder
	writeFamilies(&b, []family{empty.family(), c.family(), h.family()})
	want := `# HELP h h
# TYPE h histogram
h_bucket{le="1"} 1
h_bucket{le="2"} 1
h_bucket{le="+Inf"} 2
h_sum +Inf
h_count 2
# HELP x_total a \\ help\nline
# TYPE x_total counter
x_total{user="q\"b\\n\n"} 1
`
	if got := b.String(); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	if formatFloat(1e6) != "1e+06" || formatFloat(0.25) != "0.25" || formatFloat(math.NaN()) != "NaN" {
		t.Errorf("floats: %s %s %s", formatFloat(1e6), formatFloat(0.25), formatFloat(math.NaN()))
	}
}
