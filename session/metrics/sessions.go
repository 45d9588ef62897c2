package metrics

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loginjail/loginjail/session"
)

// sessionCollector reads the live sessions at each scrape: the
// loginjail_sessions gauge and each session's usage. A session that has
// ended is simply not listed again, so its series disappear with it.
type sessionCollector struct {
	reg *session.Registry

	sessions, cpu, mem, pids *prometheus.Desc
}

func newSessionCollector(reg *session.Registry) *sessionCollector {
	per := []string{"session", "user", "policy"}
	return &sessionCollector{
		reg: reg,
		sessions: prometheus.NewDesc("loginjail_sessions",
			"Live sessions (jails), by policy and front door.", []string{"policy", "frontdoor"}, nil),
		cpu: prometheus.NewDesc("loginjail_session_cpu_seconds_total",
			"CPU time (user + system) used by the session's processes, ended ones included.", per, nil),
		mem: prometheus.NewDesc("loginjail_session_memory_bytes",
			"Memory charged to the session's cgroup, or its processes' resident set when it has none.", per, nil),
		pids: prometheus.NewDesc("loginjail_session_pids",
			"Processes alive in the session's jail.", per, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.cpu
	ch <- c.mem
	ch <- c.pids
}

// Collect implements prometheus.Collector.
func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	recs, err := c.reg.LiveSessions()
	if err != nil {
		slog.Warn("metrics: list sessions", "err", err)
		return
	}
	type key struct{ policy, frontdoor string }
	count := map[key]int{}
	for _, r := range recs {
		count[key{r.Policy, r.Frontdoor}]++
	}
	for k, n := range count {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(n), k.policy, k.frontdoor)
	}
	use := session.ReadUsage(recs)
	for _, r := range recs {
		u, ok := use[r.ID]
		if !ok {
			continue // ended while we read
		}
		ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, u.CPUSeconds, r.ID, r.User, r.Policy)
		ch <- prometheus.MustNewConstMetric(c.mem, prometheus.GaugeValue, float64(u.MemoryBytes), r.ID, r.User, r.Policy)
		ch <- prometheus.MustNewConstMetric(c.pids, prometheus.GaugeValue, float64(u.Pids), r.ID, r.User, r.Policy)
	}
}
