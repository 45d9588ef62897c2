package metrics

// The Prometheus text exposition format, version 0.0.4, written by hand.
// Four counters and gauges and two histograms need no client library,
// and client_golang's package init (a default registry with process and
// Go collectors, protobuf descriptors, procfs) ran in every process that
// linked it: each per-connection process and jail init of every login.
// The output is what client_golang's text encoder wrote: families sorted
// by name, labels by name, series by label values, floats as %g.

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// contentType is the text format's media type, as promhttp sent it.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// label is one label of a series.
type label struct{ name, value string }

// series is one sample line without its family's name.
type series struct {
	labels []label // sorted by name
	value  float64
}

// family is a metric family as scraped: HELP, TYPE, then its lines,
// suffixed (histograms) or not.
type family struct {
	name, help, typ string
	lines           []line
}

// line is one sample line of a family.
type line struct {
	suffix string // "", "_bucket", "_sum", "_count"
	series
}

// labelled returns labels named names with values values, sorted by
// name (names and values in the caller's order).
func labelled(names, values []string) []label {
	out := make([]label, len(names))
	for i := range names {
		out[i] = label{names[i], values[i]}
	}
	slices.SortFunc(out, func(a, b label) int { return cmp.Compare(a.name, b.name) })
	return out
}

// compareLabels orders series by their label values, as client_golang does.
func compareLabels(a, b []label) int {
	for i := range min(len(a), len(b)) {
		if c := cmp.Compare(a[i].value, b[i].value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// writeFamilies writes fams, sorted by name, leaving out the empty ones
// (a vector with no series yet says nothing, not even its HELP).
func writeFamilies(b *strings.Builder, fams []family) {
	sort.SliceStable(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	for _, f := range fams {
		if len(f.lines) == 0 {
			continue
		}
		b.WriteString("# HELP " + f.name + " ")
		helpEscaper.WriteString(b, f.help)
		b.WriteString("\n# TYPE " + f.name + " " + f.typ + "\n")
		for _, l := range f.lines {
			b.WriteString(f.name + l.suffix)
			for i, lb := range l.labels {
				if i == 0 {
					b.WriteByte('{')
				} else {
					b.WriteByte(',')
				}
				b.WriteString(lb.name + `="`)
				valueEscaper.WriteString(b, lb.value)
				b.WriteByte('"')
			}
			if len(l.labels) > 0 {
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatFloat(l.value))
			b.WriteByte('\n')
		}
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatFloat writes a value as the text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// counterVec is a counter with labels; series appear at their first Inc.
type counterVec struct {
	name, help string
	labels     []string // in WithLabelValues order

	mu     sync.Mutex
	values map[string]*series // key: the label values joined by \xff
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{name: name, help: help, labels: labels, values: map[string]*series{}}
}

// inc adds one to the series of values (in c.labels' order).
func (c *counterVec) inc(values ...string) {
	key := strings.Join(values, "\xff")
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.values[key]
	if !ok {
		s = &series{labels: labelled(c.labels, values)}
		c.values[key] = s
	}
	s.value++
}

func (c *counterVec) family() family {
	f := family{name: c.name, help: c.help, typ: "counter"}
	c.mu.Lock()
	for _, s := range c.values {
		f.lines = append(f.lines, line{series: *s})
	}
	c.mu.Unlock()
	slices.SortFunc(f.lines, func(a, b line) int { return compareLabels(a.labels, b.labels) })
	return f
}

// histogram is a histogram without labels.
type histogram struct {
	name, help string
	bounds     []float64 // upper bounds, ascending; +Inf is implied

	mu     sync.Mutex
	counts []uint64 // per bound, not cumulative; the last is +Inf's
	sum    float64
	count  uint64
}

func newHistogram(name, help string, bounds []float64) *histogram {
	return &histogram{name: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

// observe counts v in the first bucket whose bound is at least v.
func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[i]++
	h.sum += v
	h.count++
}

func (h *histogram) family() family {
	f := family{name: h.name, help: h.help, typ: "histogram"}
	h.mu.Lock()
	defer h.mu.Unlock()
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		f.lines = append(f.lines, line{"_bucket", series{[]label{{"le", formatFloat(b)}}, float64(cum)}})
	}
	f.lines = append(f.lines,
		line{"_bucket", series{[]label{{"le", "+Inf"}}, float64(h.count)}},
		line{"_sum", series{value: h.sum}},
		line{"_count", series{value: float64(h.count)}})
	return f
}
