package main

import (
	"fmt"
	"os"
	"time"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/auditlog"
	"github.com/loginjail/loginjail/internal/record"
	"github.com/loginjail/loginjail/session"
)

// cmdPlay replays a session's recording: SESSION[/N].
func cmdPlay(args []string) int {
	fs := newFlags("play")
	cfgPath := configFlag(fs)
	speed := fs.Float64("speed", 1, "playback speed; 2 = twice as fast")
	idle := fs.Duration("idle-limit", 0, "longest pause played, e.g. 2s; 0 = as recorded")
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if len(a.pos) != 1 {
		fs.Usage()
		return 2
	}
	if *speed <= 0 {
		return fail("play", fmt.Errorf("--speed %v: must be more than 0", *speed))
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		return fail("play", err)
	}
	if !requireRoot("play") {
		return 1
	}
	files, err := session.RecordingFiles(cfg, a.pos[0])
	if err != nil {
		return fail("play", err)
	}
	for _, f := range files {
		if err := record.Play(f, record.PlayOptions{Speed: *speed, IdleLimit: *idle, Out: os.Stdout}); err != nil {
			return fail("play", err)
		}
	}
	return 0
}

// cmdWatch follows a live session's terminal, read-only: it reads the
// recording and never the admin's keyboard.
func cmdWatch(args []string) int {
	fs := newFlags("watch")
	cfgPath := configFlag(fs)
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if len(a.pos) != 1 {
		fs.Usage()
		return 2
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		return fail("watch", err)
	}
	if !requireRoot("watch") {
		return 1
	}
	reg := session.NewRegistry(cfg.Server.StateDir)
	w, err := reg.FindWatch(cfg, a.pos[0])
	if err != nil {
		return fail("watch", err)
	}
	// The audit trail: who watched whom, to syslog authpriv as enter and
	// kill are.
	auditlog.Admin("watch", "target", w.Record.ID, "user", w.Record.User, "channel", w.N)
	fmt.Fprintf(os.Stderr, "loginjail watch: session %s of %s, channel %d, read-only; Ctrl-C ends the watch\r\n",
		w.Record.ID, w.Record.User, w.N)
	if err := record.Follow(w.Cast, os.Stdout, 100*time.Millisecond, w.Over); err != nil {
		return fail("watch", err)
	}
	fmt.Fprintf(os.Stderr, "\r\nloginjail watch: the channel has ended\r\n")
	return 0
}
