package metrics

import (
	"log/slog"
	"slices"

	"github.com/loginjail/loginjail/session"
)

// sessionFamilies reads the live sessions of reg at each scrape: the
// loginjail_sessions gauge and each session's usage. A session that has
// ended is simply not listed again, so its series disappear with it.
func sessionFamilies(reg *session.Registry) []family {
	sessions := family{name: "loginjail_sessions", typ: "gauge",
		help: "Live sessions (jails), by policy and front door."}
	cpu := family{name: "loginjail_session_cpu_seconds_total", typ: "counter",
		help: "CPU time (user + system) used by the session's processes, ended ones included."}
	mem := family{name: "loginjail_session_memory_bytes", typ: "gauge",
		help: "Memory charged to the session's cgroup, or its processes' resident set when it has none."}
	pids := family{name: "loginjail_session_pids", typ: "gauge",
		help: "Processes alive in the session's jail."}
	out := func() []family { return []family{sessions, cpu, mem, pids} }

	recs, err := reg.LiveSessions()
	if err != nil {
		slog.Warn("metrics: list sessions", "err", err)
		return out()
	}
	type key struct{ policy, frontdoor string }
	count := map[key]int{}
	for _, r := range recs {
		count[key{r.Policy, r.Frontdoor}]++
	}
	for k, n := range count {
		sessions.lines = append(sessions.lines, line{series: series{
			labels: []label{{"frontdoor", k.frontdoor}, {"policy", k.policy}}, value: float64(n)}})
	}
	use := session.ReadUsage(recs)
	for _, r := range recs {
		u, ok := use[r.ID]
		if !ok {
			continue // ended while we read
		}
		per := []label{{"policy", r.Policy}, {"session", r.ID}, {"user", r.User}}
		cpu.lines = append(cpu.lines, line{series: series{per, u.CPUSeconds}})
		mem.lines = append(mem.lines, line{series: series{per, float64(u.MemoryBytes)}})
		pids.lines = append(pids.lines, line{series: series{per, float64(u.Pids)}})
	}
	fams := out()
	for i := range fams {
		slices.SortFunc(fams[i].lines, func(a, b line) int { return compareLabels(a.labels, b.labels) })
	}
	return fams
}
