package sshd

import (
	"time"

	"github.com/loginjail/loginjail/session"
)

// enforceTimeouts runs the login's idle_timeout and max_session_time
// clock (session.Timeouts.Watch) from login on: notices go to every
// terminal of the connection, and the end is a disconnect, after which
// the jail is torn down as at logout. With share = "user" the clock is
// this connection's: the shared jail lives on with its other logins.
// The returned func stops the clock.
func (c *conn) enforceTimeouts() func() {
	p, err := c.policy()
	if err != nil {
		return func() {}
	}
	t := session.Timeouts{Idle: p.IdleTimeout.Duration, Max: p.MaxSessionTime.Duration, Warning: p.TimeoutWarning.Duration}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.Watch(c.start, c.activity, stop, c.noticeTerminals, func(reason string) {
			c.lg().Info("session timed out", "event", evTimeout, "reason", reason,
				"idle", c.activity.Idle().Round(time.Second).String(),
				"duration", time.Since(c.start).Round(time.Second).String())
			c.mu.Lock()
			c.endReason = reason
			c.mu.Unlock()
			c.noticeTerminals(session.EndNotice(reason))
			c.sc.Close()
		})
	}()
	return func() {
		close(stop)
		<-done
	}
}

// noticeTerminals writes a line to every terminal channel: to the client,
// not to the jail (no process inside reads or can suppress it), and into
// the channel's recording.
func (c *conn) noticeTerminals(line string) {
	msg := []byte("\r\n" + line + "\r\n")
	c.mu.Lock()
	var chans []*sessionChannel
	for s := range c.ptys {
		chans = append(chans, s)
	}
	c.mu.Unlock()
	for _, s := range chans {
		s.mu.Lock()
		rec := s.rec
		s.mu.Unlock()
		s.ch.Write(msg)
		rec.output(msg)
	}
}
