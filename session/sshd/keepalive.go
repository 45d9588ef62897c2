package sshd

import (
	"sync/atomic"
	"time"
)

// keepalive sends keepalive@openssh.com every client_alive_interval and
// drops the connection when client_alive_count_max of them in a row go
// unanswered: a client that vanished (cable cut, suspended laptop) ends
// its jail within interval × (count_max+1). Any reply counts, a failure
// reply included (that is what OpenSSH's client sends).
func (c *conn) keepalive() (stop func()) {
	iv := c.cfg.Server.ClientAliveInterval.Duration
	if iv <= 0 {
		return func() {}
	}
	max := int64(c.cfg.Server.ClientAliveCountMax)
	done := make(chan struct{})
	var missed atomic.Int64
	go func() {
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if n := missed.Add(1); n > max {
				c.lg().Warn("client stopped answering keepalives", "event", evAliveTimeout,
					"interval", iv.String(), "count_max", max)
				c.sc.Close()
				return
			}
			go func() {
				// Blocks until the reply, or forever if none comes.
				if _, _, err := c.sc.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					missed.Store(0)
				}
			}()
		}
	}()
	return func() { close(done) }
}
