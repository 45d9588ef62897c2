// Package metrics serves loginjail's Prometheus metrics: the login
// counters and histograms the SSH listener keeps ([server]
// metrics_listen), and the per-session series read at each scrape from
// the registry of live sessions and their cgroups, which `loginjail
// exporter` also serves for PAM-mode hosts.
//
// Only the listener and the exporter import this package: the
// per-connection process and the jail init report to the listener over
// its status pipe and never touch a metric.
package metrics
