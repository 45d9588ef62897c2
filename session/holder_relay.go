package session

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/loginjail/loginjail/internal/record"
	"github.com/loginjail/loginjail/jail"
)

// holderRelay records and times out a PAM-mode login from the holder
// (root, outside the jail): the JailServer relays every byte of the
// login's `loginjail shell` clients through it (jailrelay.go), as the SSH
// server's per-connection process does its channels.
type holderRelay struct {
	s        *Session
	rec      *record.Recorder // nil: not recorded
	Activity *Activity        // the client's last input, on any of the login's processes

	mu    sync.Mutex
	terms map[io.Writer]struct{} // clients' terminals, for notices
}

// newHolderRelay opens the login's recording, if its policy records; an
// error only with record_required.
func newHolderRelay(o HolderOptions, s *Session, start time.Time) (*holderRelay, error) {
	r := &holderRelay{s: s, Activity: s.Activity, terms: map[io.Writer]struct{}{}}
	j := s.Policy.Jail
	if j.Record == "" || j.Record == "none" {
		return r, nil
	}
	rec, err := record.Open(record.Options{Dir: o.Config.Server.RecordDir, Session: s.ID,
		Input: j.RecordInput, MaxSize: int64(j.RecordMaxSize)})
	if err != nil {
		if j.RecordRequired {
			return nil, fmt.Errorf("session recording is required but cannot be written: %w", err)
		}
		slog.Warn("session not recorded", "event", "session.record", "session", s.ID, "err", err)
		return r, nil
	}
	rec.SetMeta(record.Meta{Session: s.ID, User: s.Who.Name, UID: s.Who.UID, Remote: o.RHost,
		Policy: s.Policy.Policy, Frontdoor: string(FrontdoorPAM), Hostname: s.Spec.Hostname,
		Start: start, Channels: []record.Channel{}})
	r.rec = rec
	return r, nil
}

// needed reports whether the login needs the relay at all: without
// recording or timeouts the client's stdio goes straight into the jail.
func (r *holderRelay) needed() bool {
	j := r.s.Policy.Jail
	return r.rec != nil || j.IdleTimeout.Duration > 0 || j.MaxSessionTime.Duration > 0
}

// Start opens one process's recording.
func (r *holderRelay) Start(req SpawnReq, term io.Writer) RelayTap {
	t := &holderTap{r: r, term: term}
	if term != nil {
		r.mu.Lock()
		r.terms[term] = struct{}{}
		r.mu.Unlock()
	}
	j := r.s.Policy.Jail
	if r.rec == nil || !(j.Record == "all" || j.Record == "pty" && req.Pty) {
		return t
	}
	ch := record.Channel{Kind: "shell", Pty: req.Pty, Command: req.Cmd, Start: time.Now()}
	var err error
	if req.SFTP {
		ch.Kind = "sftp"
		if t.sftp, err = r.rec.SFTP(); err == nil {
			ch.N, ch.File = t.sftp.N, strconv.Itoa(t.sftp.N)+".sftp.jsonl"
		}
	} else {
		if req.Cmd != "" {
			ch.Kind = "exec"
		}
		h := record.CastHeader{Command: req.Cmd, Width: int(req.Cols), Height: int(req.Rows)}
		if req.Pty {
			h.Env = map[string]string{"TERM": req.Term}
		}
		if t.cast, err = r.rec.Cast(h); err == nil {
			ch.N, ch.File = t.cast.N, strconv.Itoa(t.cast.N)+".cast"
		}
	}
	if err != nil {
		slog.Warn("channel not recorded", "event", "session.record", "session", r.s.ID, "err", err)
		return t
	}
	t.n = ch.N
	r.rec.AddChannel(ch)
	return t
}

// notice writes a line on every client terminal, and into its recording.
func (r *holderRelay) notice(line string) {
	msg := []byte("\r\n" + line + "\r\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	for w := range r.terms {
		w.Write(msg)
	}
}

// holderTap is one relayed process.
type holderTap struct {
	r    *holderRelay
	term io.Writer
	cast *record.Cast
	sftp *record.SFTP
	n    int
}

func (t *holderTap) Input(p []byte) {
	t.r.Activity.Touch()
	switch {
	case t.sftp != nil:
		t.sftp.ClientBytes(p)
	case t.cast != nil:
		t.cast.Input(p)
	}
}

func (t *holderTap) Output(p []byte) {
	switch {
	case t.sftp != nil:
		t.sftp.ServerBytes(p)
	case t.cast != nil:
		t.cast.Output(p)
	}
}

func (t *holderTap) Resize(cols, rows uint16) {
	if t.cast != nil {
		t.cast.Resize(int(cols), int(rows))
	}
}

func (t *holderTap) End(st jail.ExitStatus) {
	if t.term != nil {
		t.r.mu.Lock()
		delete(t.r.terms, t.term)
		t.r.mu.Unlock()
	}
	exit := strconv.Itoa(st.Code)
	if st.Signal != 0 {
		exit = "signal " + strconv.Itoa(int(st.Signal))
	}
	if t.cast != nil {
		t.cast.Close()
	}
	if t.sftp != nil {
		t.sftp.Close()
	}
	if t.n > 0 {
		t.r.rec.EndChannel(t.n, exit)
	}
}
