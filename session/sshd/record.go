package sshd

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/loginjail/loginjail/internal/record"
	"github.com/loginjail/loginjail/session"
)

// Session recording ([jail] record) happens here, in the per-connection
// process that relays every byte between the client and the jail: the
// relay taps the streams it copies, so nothing inside the jail can see
// or stop the recording.

// errRecordRequired refuses a login whose recording cannot be written
// while record_required is on.
var errRecordRequired = errors.New("session recording is required but cannot be written")

// openRecorder starts the login's recording once its jail is known; c.mu
// is held. A failure refuses the login only with record_required.
func (c *conn) openRecorder(id string) error {
	p, err := c.policy()
	if err != nil || p.Record == "" || p.Record == "none" {
		return err
	}
	rec, err := record.Open(record.Options{Dir: c.cfg.Server.RecordDir, Session: id,
		Input: p.RecordInput, MaxSize: int64(p.RecordMaxSize)})
	if err != nil {
		if p.RecordRequired {
			c.lg().Error("login refused: the recording cannot be written", "event", evSessionFail, "err", err)
			return errRecordRequired
		}
		c.lg().Warn("session not recorded", "event", evRecord, "err", err)
		return nil
	}
	if s := c.sess; s != nil {
		m := record.Meta{Session: id, User: s.Who.Name, UID: s.Who.UID, Remote: c.remote.String(),
			Policy: s.Policy.Policy, Frontdoor: string(session.FrontdoorSSHD), Hostname: s.Spec.Hostname,
			Start: c.start, Channels: []record.Channel{}}
		if err := rec.SetMeta(m); err != nil {
			c.lg().Warn("session.json", "event", evRecord, "err", err)
		}
	}
	c.rec = rec
	c.lg().Info("recording", "event", evRecord, "dir", rec.Dir(), "record", p.Record)
	return nil
}

// chanRec is what one session channel records: a cast, or an SFTP log.
type chanRec struct {
	rec  *record.Recorder
	cast *record.Cast
	sftp *record.SFTP
	n    int
}

// startRecording opens the channel's recording, if the policy records
// this kind of channel: "pty" terminals only, "all" everything.
func (s *sessionChannel) startRecording(r spawnReq) *chanRec {
	c := s.c
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	p, err := c.policy()
	if rec == nil || err != nil || !(p.Record == "all" || p.Record == "pty" && r.Pty) {
		return nil
	}
	ch := record.Channel{Kind: "shell", Pty: r.Pty, Command: r.Cmd, Start: time.Now()}
	cr := &chanRec{rec: rec}
	switch {
	case r.SFTP:
		ch.Kind = "sftp"
		cr.sftp, err = rec.SFTP()
		if err == nil {
			cr.n, ch.File = cr.sftp.N, strconv.Itoa(cr.sftp.N)+".sftp.jsonl"
		}
	default:
		if r.Cmd != "" {
			ch.Kind = "exec"
		}
		h := record.CastHeader{Command: r.Cmd}
		if s.pty != nil {
			h.Width, h.Height = int(s.pty.Cols), int(s.pty.Rows)
			h.Env = map[string]string{"TERM": s.pty.Term}
		}
		cr.cast, err = rec.Cast(h)
		if err == nil {
			cr.n, ch.File = cr.cast.N, strconv.Itoa(cr.cast.N)+".cast"
		}
	}
	if err != nil {
		c.lg().Warn("channel not recorded", "event", evRecord, "err", err)
		return nil
	}
	ch.N = cr.n
	if err := rec.AddChannel(ch); err != nil {
		c.lg().Warn("session.json", "event", evRecord, "err", err)
	}
	return cr
}

// input taps bytes from the client; output, bytes to it.
func (cr *chanRec) input(p []byte) {
	switch {
	case cr == nil:
	case cr.sftp != nil:
		cr.sftp.ClientBytes(p)
	case cr.cast != nil:
		cr.cast.Input(p)
	}
}

func (cr *chanRec) output(p []byte) {
	switch {
	case cr == nil:
	case cr.sftp != nil:
		cr.sftp.ServerBytes(p)
	case cr.cast != nil:
		cr.cast.Output(p)
	}
}

func (cr *chanRec) resize(cols, rows uint32) {
	if cr != nil && cr.cast != nil {
		cr.cast.Resize(int(cols), int(rows))
	}
}

// end closes the channel's file and notes its exit in session.json.
func (cr *chanRec) end(exit string) {
	if cr == nil {
		return
	}
	if cr.cast != nil {
		cr.cast.Close()
	}
	if cr.sftp != nil {
		cr.sftp.Close()
	}
	cr.rec.EndChannel(cr.n, exit)
}

// tap is a Reader that hands each read's bytes to f as well.
type tap struct {
	r io.Reader
	f func([]byte)
}

func (t tap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.f(p[:n])
	}
	return n, err
}

// clientInput wraps what the client sends on a channel: every read is
// activity (idle_timeout, ps IDLE) and, when recorded, input.
func (c *conn) clientInput(r io.Reader, cr *chanRec) io.Reader {
	return tap{r, func(p []byte) {
		c.activity.Touch()
		cr.input(p)
	}}
}

// serverOutput wraps what the jail sends to the client; unrecorded, it
// is r itself, so the copy keeps its fast path.
func serverOutput(r io.Reader, cr *chanRec) io.Reader {
	if cr == nil {
		return r
	}
	return tap{r, cr.output}
}
