package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The client's last input crosses processes through the modification
// time of a file next to the session's record, <id>.input: the process
// that relays the client's bytes (Session.Activity) sets it, `ps` and the
// metrics endpoints read it. A file's mtime costs no parse and no
// rewrite of the record.

// inputFlush is how often a session's last input reaches its file, at
// most: IDLE is a column for humans, and a busy session must not pay a
// syscall per keystroke.
const inputFlush = 5 * time.Second

func (g *Registry) inputPath(id string) string { return filepath.Join(g.Dir, id+".input") }

// persistInput writes a's latest input to id's input file now and then
// every inputFlush while it changes, until stop is closed.
func (g *Registry) persistInput(id string, a *Activity, stop <-chan struct{}) {
	var written time.Time
	flush := func() {
		last := a.Last()
		if last.Equal(written) {
			return
		}
		if err := g.touchInput(id, last); err == nil {
			written = last
		}
	}
	flush()
	t := time.NewTicker(inputFlush)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			flush()
		}
	}
}

// touchInput sets id's input file's mtime to last, creating the file.
func (g *Registry) touchInput(id string, last time.Time) error {
	p := g.inputPath(id)
	if err := os.Chtimes(p, last, last); err == nil {
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("registry: input time of %s: %w", id, err)
	}
	f.Close()
	return os.Chtimes(p, last, last)
}

// LastInput is when session r's client last sent input, as its front door
// recorded it; a session whose front door records none (`loginjail run`)
// counts from its start.
func (g *Registry) LastInput(r *Record) time.Time {
	st, err := os.Stat(g.inputPath(r.ID))
	if err != nil {
		return r.Started
	}
	return st.ModTime()
}

// removeInput deletes id's input file; a missing one is not an error.
func (g *Registry) removeInput(id string) error {
	if err := os.Remove(g.inputPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// advanceTo records input at t, if that is later than the latest input
// known: a terminal's access time comes late and coarse (holder_idle.go),
// so it must never move the clock back.
func (a *Activity) advanceTo(t time.Time) {
	n := t.UnixNano()
	for {
		old := a.last.Load()
		if n <= old || a.last.CompareAndSwap(old, n) {
			return
		}
	}
}
