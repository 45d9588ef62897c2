package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/auditlog"
	"github.com/loginjail/loginjail/session"
)

// registry opens the registry of the config's state dir: admin verbs act
// on the sessions started with that config (see configFlag). It runs
// before the root check, so that a bad config is named first.
func registry(verb, cfgPath string) (*session.Registry, int) {
	cfg, err := config.LoadDefaultOrFile(cfgPath)
	if err != nil {
		return nil, fail(verb, err)
	}
	return session.NewRegistry(cfg.Server.StateDir), 0
}

func cmdPS(args []string) int {
	fs := newFlags("ps")
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print a JSON array")
	watch := fs.Bool("watch", false, "refresh every 2 seconds, as top does, until interrupted")
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("ps", a); stop {
		return code
	}
	reg, code := registry("ps", *cfgPath)
	if reg == nil {
		return code
	}
	if !requireRoot("ps") {
		return 1
	}
	if *watch {
		return watchPS(reg, *asJSON)
	}
	if err := printPS(os.Stdout, reg, *asJSON); err != nil {
		return fail("ps", err)
	}
	return 0
}

// printPS prints the live sessions, with their usage, once.
func printPS(w io.Writer, reg *session.Registry, asJSON bool) error {
	recs, err := reg.LiveSessions()
	if err != nil {
		return err
	}
	ents := reg.PSEntries(recs)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ents)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tPID\tHOSTNAME\tNET\tIP\tREMOTE\tFRONTDOOR\tSTARTED\tPOLICY\tCPU\tMEM\tPIDS\tIDLE")
	for i, r := range recs {
		e := ents[i]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%d\t%s\n", r.ID, r.User, r.Pid, r.Hostname,
			r.Net, dash(r.IP), dash(r.Remote), r.Frontdoor, r.Started.Local().Format(time.DateTime), dash(r.Policy),
			e.CPUSeconds, humanBytes(e.MemoryBytes), e.Pids, humanIdle(e.IdleSeconds))
	}
	return tw.Flush()
}

// psRefresh is how often `ps --watch` redraws.
const psRefresh = 2 * time.Second

// watchPS redraws the list every psRefresh until SIGINT or SIGTERM.
func watchPS(reg *session.Registry, asJSON bool) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	t := time.NewTicker(psRefresh)
	defer t.Stop()
	for {
		var buf bytes.Buffer
		if !asJSON {
			// Home and clear screen, as top redraws.
			fmt.Fprintf(&buf, "\x1b[H\x1b[2J%s  loginjail ps --watch (every %s; Ctrl-C ends)\n\n",
				time.Now().Format(time.TimeOnly), psRefresh)
		}
		if err := printPS(&buf, reg, asJSON); err != nil {
			return fail("ps", err)
		}
		os.Stdout.Write(buf.Bytes())
		select {
		case <-sigs:
			return 0
		case <-t.C:
		}
	}
}

// humanBytes prints a size as ps and top do: K, M, G with one decimal.
func humanBytes(n int64) string {
	const k = 1024
	switch {
	case n >= k*k*k:
		return fmt.Sprintf("%.1fG", float64(n)/(k*k*k))
	case n >= k*k:
		return fmt.Sprintf("%.1fM", float64(n)/(k*k))
	case n >= k:
		return fmt.Sprintf("%.1fK", float64(n)/k)
	}
	return fmt.Sprintf("%dB", n)
}

// humanIdle prints an idle time as w(1) does: seconds, then m:ss, then
// hours.
func humanIdle(s float64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// errText is err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdKill(args []string) int {
	fs := newFlags("kill")
	cfgPath := configFlag(fs)
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if len(a.pos) != 1 {
		fs.Usage()
		return 2
	}
	reg, code := registry("kill", *cfgPath)
	if reg == nil {
		return code
	}
	if !requireRoot("kill") {
		return 1
	}
	ids, err := reg.Kill(a.pos[0])
	auditlog.Admin("kill", "target", a.pos[0], "sessions", strings.Join(ids, ","), "err", errText(err))
	for _, id := range ids {
		fmt.Printf("killed session %s\n", id)
	}
	if err != nil {
		return fail("kill", err)
	}
	return 0
}

func cmdGC(args []string) int {
	fs := newFlags("gc")
	cfgPath := configFlag(fs)
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("gc", a); stop {
		return code
	}
	reg, code := registry("gc", *cfgPath)
	if reg == nil {
		return code
	}
	if !requireRoot("gc") {
		return 1
	}
	ids, err := reg.GC()
	for _, id := range ids {
		fmt.Printf("reclaimed session %s\n", id)
	}
	if err != nil {
		return fail("gc", err)
	}
	return 0
}

func cmdEnter(args []string) int {
	fs := newFlags("enter")
	cfgPath := configFlag(fs)
	root := fs.Bool("root", false, "enter as the jail's root instead of the session user")
	privileged := fs.Bool("privileged", false, "skip the session's cgroup, rlimits, bounding set, no_new_privs and seccomp filter (logged)")
	// One positional argument, the session; the command starts after it.
	a, code, stop := parse(fs, args, 1)
	if stop {
		return code
	}
	if len(a.pos) != 1 {
		fs.Usage()
		return 2
	}
	reg, code := registry("enter", *cfgPath)
	if reg == nil {
		return code
	}
	if !requireRoot("enter") {
		return 1
	}
	// Logged before the admin gets a shell in someone's jail; the
	// session it resolved to and the outcome follow in the command's
	// exit status.
	auditlog.Admin("enter", "target", a.pos[0], "root", *root, "privileged", *privileged,
		"command", strings.Join(a.cmd, " "))
	code, err := reg.Enter(session.EnterOptions{
		Target: a.pos[0], Root: *root, Privileged: *privileged, Argv: a.cmd,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return fail("enter", err)
	}
	return code
}
