package session

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginjail/loginjail/jail"
)

func TestRegistryLifecycle(t *testing.T) {
	g := NewRegistry(filepath.Join(t.TempDir(), "state"))
	self, err := jail.ProcStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	live := &Record{ID: "aaaa0001", User: "alice", Pid: os.Getpid(), StartTime: self, Started: time.Now()}
	dead := &Record{ID: "aaaa0002", User: "alice", Pid: os.Getpid(), StartTime: self + 1, Started: time.Now().Add(time.Second),
		SessionDir: filepath.Join(g.Dir, "aaaa0002")}
	starting := &Record{ID: "aaaa0003", User: "bob", Owner: os.Getpid(), OwnerStart: self, Started: time.Now()}
	for _, r := range []*Record{live, dead, starting} {
		if err := g.Create(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Create(live); err == nil {
		t.Error("Create of a taken id succeeded")
	}
	os.Mkdir(dead.SessionDir, 0o700)
	os.Mkdir(filepath.Join(g.Dir, "orphan01"), 0o700)

	recs, err := g.LiveSessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != live.ID || recs[1].ID != starting.ID {
		t.Errorf("live sessions %v", ids(recs))
	}
	if got, err := g.Find("alice"); err != nil || len(got) != 1 || got[0].ID != live.ID {
		t.Errorf("Find(alice) = %v, %v", ids(got), err)
	}
	if got, err := g.Find(starting.ID); err != nil || len(got) != 1 {
		t.Errorf("Find(id) = %v, %v", ids(got), err)
	}
	if _, err := g.Find("carol"); err == nil {
		t.Error("Find(carol) found something")
	}

	reclaimed, err := g.GC()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(reclaimed, " ") != "aaaa0002 orphan01" {
		t.Errorf("gc reclaimed %v", reclaimed)
	}
	for _, p := range []string{dead.SessionDir, g.path(dead.ID), filepath.Join(g.Dir, "orphan01")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	if _, err := g.Get(live.ID); err != nil {
		t.Errorf("gc took a live session: %v", err)
	}
	if again, err := g.GC(); err != nil || len(again) != 0 {
		t.Errorf("second gc: %v, %v", again, err)
	}
	ps := live.PS()
	if ps.ID != live.ID || ps.Started == "" || ps.Frontdoor != "" {
		t.Errorf("ps entry %+v", ps)
	}
}

func ids(rs []*Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
