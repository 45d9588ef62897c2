package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/record"
)

// RecordingFiles resolves `loginjail play`'s SESSION[/N] to the cast
// files to replay: channel N's, or every cast of the session in order.
func RecordingFiles(cfg *config.Config, target string) ([]string, error) {
	id, n, hasN := strings.Cut(target, "/")
	if err := checkRecordingID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.Server.RecordDir, id)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no recording of session %q in %s", id, cfg.Server.RecordDir)
	}
	if hasN {
		if _, err := strconv.Atoi(n); err != nil {
			return nil, fmt.Errorf("%q: channel %q is not a number", target, n)
		}
		p := filepath.Join(dir, n+".cast")
		if _, err := os.Stat(p); err != nil {
			if _, err := os.Stat(filepath.Join(dir, n+".sftp.jsonl")); err == nil {
				return nil, fmt.Errorf("%s: channel %s is an SFTP log, not a terminal: read %s", target, n, filepath.Join(dir, n+".sftp.jsonl"))
			}
			return nil, fmt.Errorf("%s: no channel %s", target, n)
		}
		return []string{p}, nil
	}
	casts, err := record.Casts(dir)
	if err != nil {
		return nil, err
	}
	if len(casts) == 0 {
		return nil, fmt.Errorf("session %s recorded no terminal or command", id)
	}
	return casts, nil
}

func checkRecordingID(id string) error {
	if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") {
		return fmt.Errorf("%q is not a session id", id)
	}
	return nil
}

// WatchTarget is the recording `loginjail watch` follows: the live
// session's latest terminal channel still open.
type WatchTarget struct {
	Record *Record // the live session
	Dir    string  // its recording directory
	Cast   string  // the channel's cast
	N      int
}

// FindWatch resolves SESSION|USER (one live session) to the terminal
// channel to watch. Watching reads the session's recording, so the
// session's policy must record terminals.
func (g *Registry) FindWatch(cfg *config.Config, target string) (*WatchTarget, error) {
	recs, err := g.Find(target)
	if err != nil {
		return nil, err
	}
	if len(recs) > 1 {
		return nil, fmt.Errorf("%w: %q has %d sessions; name one by id (loginjail ps)", ErrAmbiguous, target, len(recs))
	}
	r := recs[0]
	dir := filepath.Join(cfg.Server.RecordDir, r.ID)
	m, err := record.ReadMeta(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("session %s is not recorded (its policy's record is \"none\"); watch follows the recording", r.ID)
	}
	if err != nil {
		return nil, err
	}
	for i := len(m.Channels) - 1; i >= 0; i-- {
		ch := m.Channels[i]
		if ch.Pty && ch.End.IsZero() && strings.HasSuffix(ch.File, ".cast") {
			return &WatchTarget{Record: r, Dir: dir, Cast: filepath.Join(dir, ch.File), N: ch.N}, nil
		}
	}
	return nil, fmt.Errorf("session %s has no terminal open now", r.ID)
}

// Over reports whether the watched channel (or its session) has ended.
func (w *WatchTarget) Over() bool {
	if !Live(w.Record) {
		return true
	}
	m, err := record.ReadMeta(w.Dir)
	if err != nil {
		return true
	}
	if !m.End.IsZero() {
		return true
	}
	for _, ch := range m.Channels {
		if ch.N == w.N {
			return !ch.End.IsZero()
		}
	}
	return false
}
