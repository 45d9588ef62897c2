package session

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loginjail/loginjail/jail"
	"github.com/loginjail/loginjail/netpolicy"
)

// killTimeout is how long `kill` waits for init to end its processes
// (init gives them 3 s between SIGTERM and SIGKILL) before killing it.
const killTimeout = 5 * time.Second

// startWait bounds how long `kill` waits for a session being built.
const startWait = 30 * time.Second

// Live reports whether r's session is running: its init is alive, or it
// is still being built by a live owner.
func Live(r *Record) bool {
	if r.Pid > 0 {
		return jail.Alive(r.Pid, r.StartTime)
	}
	return jail.Alive(r.Owner, r.OwnerStart)
}

// LiveSessions lists the records whose session is running.
func (g *Registry) LiveSessions() ([]*Record, error) {
	all, err := g.List()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, r := range all {
		if Live(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ErrAmbiguous is returned when a user has several sessions and the verb
// needs one.
var ErrAmbiguous = errors.New("several sessions match")

// Find resolves SESSION|USER to live records: an exact session id first,
// else every live session of that user.
func (g *Registry) Find(target string) ([]*Record, error) {
	live, err := g.LiveSessions()
	if err != nil {
		return nil, err
	}
	for _, r := range live {
		if r.ID == target {
			return []*Record{r}, nil
		}
	}
	var out []*Record
	for _, r := range live {
		if r.User == target {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no live session or user named %q", target)
	}
	return out, nil
}

// Kill ends every session target names and reclaims what each had.
func (g *Registry) Kill(target string) ([]string, error) {
	recs, err := g.Find(target)
	if err != nil {
		return nil, err
	}
	var ids []string
	var errs []error
	for _, r := range recs {
		if err := g.killOne(r); err != nil {
			errs = append(errs, fmt.Errorf("session %s: %w", r.ID, err))
			continue
		}
		ids = append(ids, r.ID)
	}
	return ids, errors.Join(errs...)
}

func (g *Registry) killOne(r *Record) error {
	// A session still being built has no init to signal yet, and its
	// builder is still using its dir: wait until it is up.
	for deadline := time.Now().Add(startWait); r.Pid == 0 && Live(r); {
		if time.Now().After(deadline) {
			return fmt.Errorf("still starting after %v", startWait)
		}
		time.Sleep(20 * time.Millisecond)
		fresh, err := g.Get(r.ID)
		if err != nil {
			return nil // gone meanwhile
		}
		r = fresh
	}
	if r.Pid > 0 {
		h, err := jail.OpenInit(r.Pid, r.StartTime)
		if err == nil {
			err = h.Kill(killTimeout)
			h.Close()
			if err != nil {
				return err
			}
		} else if !errors.Is(err, jail.ErrNotRunning) {
			return err
		}
	}
	slog.Info("session killed", "session", r.ID, "user", r.User)
	return g.Reclaim(r)
}

// Reclaim removes what a session whose init is gone left behind: its
// session dir (and any mount still under it), its cgroup (and its user's,
// once empty), its network (veth, firewall elements, IP lease), then its
// record. It is
// idempotent: the builder, `kill` and `gc` may all run it.
func (g *Registry) Reclaim(r *Record) error {
	dir := r.SessionDir
	if dir == "" {
		dir = filepath.Join(g.Dir, r.ID)
	}
	if err := jail.ReclaimSessionDir(dir); err != nil {
		return err
	}
	if err := jail.ReclaimCgroup(r.ID, r.UID); err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	if r.Network != nil {
		if err := netpolicy.Reclaim(*r.Network); err != nil {
			return fmt.Errorf("network: %w", err)
		}
	}
	return g.Remove(r.ID)
}

// GC reclaims every session whose init (or builder) is gone, and session
// dirs no record names. It is safe to run at any time: a session being
// built has a record, written before its dir, naming a live owner.
func (g *Registry) GC() (reclaimed []string, err error) {
	all, err := g.List()
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	var errs []error
	for _, r := range all {
		known[r.ID] = true
		if Live(r) {
			continue
		}
		if err := g.Reclaim(r); err != nil {
			errs = append(errs, fmt.Errorf("session %s: %w", r.ID, err))
			continue
		}
		reclaimed = append(reclaimed, r.ID)
	}
	ents, err := os.ReadDir(g.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				os.Remove(filepath.Join(g.Dir, name))
			}
			continue
		}
		if !e.IsDir() || known[name] {
			continue
		}
		// A record is written before its dir and removed after it, so a
		// dir without a record is left from a crash; recheck to be sure.
		if _, err := os.Stat(g.path(name)); err == nil {
			continue
		}
		if err := jail.ReclaimSessionDir(filepath.Join(g.Dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("session dir %s: %w", name, err))
			continue
		}
		reclaimed = append(reclaimed, name)
	}
	return reclaimed, errors.Join(errs...)
}
