package session

import (
	"sync/atomic"
	"time"
)

// Activity is when a session's client last sent input, on any channel.
// The process that relays the client's bytes (the SSH server's
// per-connection process, the PAM-mode holder) touches it on every read
// from the client; idle timeouts and `ps`'s IDLE column read it. It is
// a single atomic word, so the relay's hot path pays one store.
type Activity struct{ last atomic.Int64 }

// NewActivity starts an Activity at now: a session is not idle at login.
func NewActivity() *Activity {
	a := &Activity{}
	a.Touch()
	return a
}

// Touch records input now.
func (a *Activity) Touch() { a.last.Store(time.Now().UnixNano()) }

// Last is the time of the latest input.
func (a *Activity) Last() time.Time { return time.Unix(0, a.last.Load()) }

// Idle is how long ago the latest input came.
func (a *Activity) Idle() time.Duration { return time.Since(a.Last()) }
