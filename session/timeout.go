package session

import (
	"fmt"
	"time"
)

// Timeouts are a login's idle_timeout, max_session_time and
// timeout_warning; a zero Idle or Max is off. Both front doors (the SSH
// server's per-connection process, the PAM holder) run the same clock
// with Watch.
type Timeouts struct {
	Idle, Max, Warning time.Duration
}

// Timeout reasons, as notices and the audit log name them.
const (
	ReasonIdle = "idle timeout"
	ReasonMax  = "maximum session time"
)

// Deadline is when the session ends, given its login time and its last
// input, and why; ok is false when no timeout is set.
func (t Timeouts) Deadline(start, last time.Time) (end time.Time, reason string, ok bool) {
	if t.Max > 0 {
		end, reason, ok = start.Add(t.Max), ReasonMax, true
	}
	if t.Idle > 0 {
		if e := last.Add(t.Idle); !ok || e.Before(end) {
			end, reason, ok = e, ReasonIdle, true
		}
	}
	return end, reason, ok
}

// leads are how long before the end the notices come: timeout_warning,
// then one minute, longest first; none longer than the timeout itself
// (a 2 minute idle_timeout warns at most 2 minutes ahead, i.e. at once).
func (t Timeouts) leads(total time.Duration) []time.Duration {
	var out []time.Duration
	for _, l := range []time.Duration{t.Warning, time.Minute} {
		if l <= 0 || l >= total {
			continue
		}
		if len(out) > 0 && l >= out[len(out)-1] {
			continue
		}
		out = append(out, l)
	}
	return out
}

// Notice is the line a terminal gets ahead of a timeout.
func Notice(left time.Duration, reason string) string {
	return fmt.Sprintf("loginjail: this session ends in %s (%s)", humanDuration(left), reason)
}

// EndNotice is the line a terminal gets when a timeout ends the session.
func EndNotice(reason string) string {
	return fmt.Sprintf("loginjail: this session has ended (%s)", reason)
}

// humanDuration says d the way a notice does: "5 minutes", "1 minute",
// "30 seconds", rounded to the unit.
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour < time.Minute:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64((d+30*time.Second)/time.Minute), "minute")
	}
	return plural(int64((d+500*time.Millisecond)/time.Second), "second")
}

// Watch runs the timeout clock of one login until stop is closed or the
// session times out. act is the client's last input; notify is called
// with each notice (for every terminal), end once, with the reason, when
// the session must go. It sleeps until the next instant that matters and
// re-reads the last input then, so it costs nothing per byte.
func (t Timeouts) Watch(start time.Time, act *Activity, stop <-chan struct{}, notify func(string), end func(reason string)) {
	if t.Idle <= 0 && t.Max <= 0 {
		return
	}
	var noticed time.Time // the deadline the notices given so far were for
	given := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		deadline, reason, _ := t.Deadline(start, act.Last())
		now := time.Now()
		if !now.Before(deadline) {
			end(reason)
			return
		}
		if !deadline.Equal(noticed) {
			noticed, given = deadline, 0 // input moved the idle deadline: warn afresh
		}
		total := t.Max
		if reason == ReasonIdle {
			total = t.Idle
		}
		leads := t.leads(total)
		left := deadline.Sub(now)
		k := 0 // leads already reached
		for k < len(leads) && left <= leads[k] {
			k++
		}
		if k > given {
			notify(Notice(left, reason)) // one notice, even if two leads passed at once
			given = k
		}
		next := deadline
		if given < len(leads) {
			next = deadline.Add(-leads[given])
		}
		timer.Reset(max(next.Sub(now), 10*time.Millisecond))
	}
}
