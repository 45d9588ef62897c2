package session

import (
	"strings"
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		to     Timeouts
		last   time.Time
		end    time.Time
		reason string
		ok     bool
	}{
		{Timeouts{}, t0, time.Time{}, "", false},
		{Timeouts{Max: time.Hour}, t0.Add(time.Minute), t0.Add(time.Hour), ReasonMax, true},
		{Timeouts{Idle: time.Minute}, t0.Add(time.Minute), t0.Add(2 * time.Minute), ReasonIdle, true},
		{Timeouts{Idle: time.Minute, Max: time.Hour}, t0.Add(time.Minute), t0.Add(2 * time.Minute), ReasonIdle, true},
		{Timeouts{Idle: time.Minute, Max: time.Hour}, t0.Add(time.Hour), t0.Add(time.Hour), ReasonMax, true},
	} {
		end, reason, ok := c.to.Deadline(t0, c.last)
		if !end.Equal(c.end) || reason != c.reason || ok != c.ok {
			t.Errorf("%+v last %v: %v %q %v, want %v %q %v", c.to, c.last, end, reason, ok, c.end, c.reason, c.ok)
		}
	}
}

func TestLeads(t *testing.T) {
	for _, c := range []struct {
		to    Timeouts
		total time.Duration
		want  []time.Duration
	}{
		{Timeouts{Warning: 5 * time.Minute}, time.Hour, []time.Duration{5 * time.Minute, time.Minute}},
		{Timeouts{Warning: 5 * time.Minute}, 3 * time.Minute, []time.Duration{time.Minute}},
		{Timeouts{Warning: 30 * time.Second}, time.Hour, []time.Duration{30 * time.Second}},
		{Timeouts{Warning: 2 * time.Second}, 4 * time.Second, []time.Duration{2 * time.Second}},
		{Timeouts{}, time.Hour, []time.Duration{time.Minute}},
	} {
		got := c.to.leads(c.total)
		if len(got) != len(c.want) || len(got) > 0 && (got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1]) {
			t.Errorf("leads(%+v, %v) = %v, want %v", c.to, c.total, got, c.want)
		}
	}
}

func TestNotice(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute:                     "5 minutes",
		5*time.Minute - 20*time.Millisecond: "5 minutes",
		time.Minute:                         "1 minute",
		30 * time.Second:                    "30 seconds",
		time.Second:                         "1 second",
		2 * time.Hour:                       "2 hours",
	} {
		if got := Notice(d, ReasonMax); got != "loginjail: this session ends in "+want+" (maximum session time)" {
			t.Errorf("Notice(%v) = %q", d, got)
		}
	}
}

// TestWatch runs the clock on short durations: an idle session gets its
// notice, then ends; no timing is asserted beyond the order of events.
func TestWatch(t *testing.T) {
	act := NewActivity()
	var events []string
	done := make(chan struct{})
	go func() {
		Timeouts{Idle: 300 * time.Millisecond, Warning: 200 * time.Millisecond}.Watch(time.Now(), act, nil,
			func(s string) { events = append(events, "notice: "+s) },
			func(r string) { events = append(events, "end: "+r) })
		close(done)
	}()
	<-done
	if len(events) != 2 || !strings.Contains(events[0], "(idle timeout)") || events[1] != "end: idle timeout" {
		t.Errorf("events %q", events)
	}
	// Stop ends the clock without an end.
	stop := make(chan struct{})
	close(stop)
	ended := false
	Timeouts{Max: time.Hour}.Watch(time.Now(), act, stop, func(string) {}, func(string) { ended = true })
	if ended {
		t.Error("a stopped clock ended the session")
	}
}
