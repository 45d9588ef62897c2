package record

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Meta is session.json: who, from where, under which policy, when, and
// how each recorded channel ended.
type Meta struct {
	Session   string    `json:"session"`
	User      string    `json:"user"`
	UID       uint32    `json:"uid"`
	Remote    string    `json:"remote"`
	Policy    string    `json:"policy"`
	Frontdoor string    `json:"frontdoor"`
	Hostname  string    `json:"hostname"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"`
	EndReason string    `json:"end_reason,omitempty"` // "idle timeout", "maximum session time"; "" = logout
	Channels  []Channel `json:"channels"`
}

// Channel is one recorded channel of session.json.
type Channel struct {
	N       int       `json:"n"`
	File    string    `json:"file"`              // "1.cast", "2.sftp.jsonl"
	Kind    string    `json:"kind"`              // "shell", "exec", "sftp", "subsystem"
	Pty     bool      `json:"pty"`               // on a terminal
	Command string    `json:"command,omitempty"` // exec's command
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
	Exit    string    `json:"exit,omitempty"` // "0", "1", "signal HUP"
}

// SetMeta keeps m as the session's session.json and writes it.
func (r *Recorder) SetMeta(m Meta) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta = m
	r.hasMeta = true
	return r.writeMeta()
}

// AddChannel adds a channel to session.json.
func (r *Recorder) AddChannel(ch Channel) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta.Channels = append(r.meta.Channels, ch)
	return r.writeMeta()
}

// EndChannel records how channel n ended.
func (r *Recorder) EndChannel(n int, exit string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.meta.Channels {
		if r.meta.Channels[i].N == n {
			r.meta.Channels[i].End = time.Now()
			r.meta.Channels[i].Exit = exit
		}
	}
	return r.writeMeta()
}

// End records the session's end and why ("" for a logout).
func (r *Recorder) End(reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta.End = time.Now()
	if reason != "" {
		r.meta.EndReason = reason
	}
	return r.writeMeta()
}

// writeMeta replaces session.json (written aside, then renamed, so a
// reader never sees half a file); r.mu is held. session.json is not
// counted against record_max_size: it is small and must stay complete.
func (r *Recorder) writeMeta() error {
	if !r.hasMeta {
		// A further connection to a shared jail: session.json is the
		// first connection's to write.
		return nil
	}
	b, err := json.MarshalIndent(r.meta, "", "  ")
	if err != nil {
		return fmt.Errorf("record: session.json: %w", err)
	}
	tmp := filepath.Join(r.dir, ".session.json.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(r.dir, "session.json"))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record: session.json: %w", err)
	}
	return nil
}
