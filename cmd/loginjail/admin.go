package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/loginjail/loginjail/config"
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
	recs, err := reg.LiveSessions()
	if err != nil {
		return fail("ps", err)
	}
	if *asJSON {
		out := make([]session.PSEntry, 0, len(recs))
		for _, r := range recs {
			out = append(out, r.PS())
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail("ps", err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tPID\tHOSTNAME\tNET\tIP\tREMOTE\tFRONTDOOR\tSTARTED\tPOLICY")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, r.Pid, r.Hostname,
			r.Net, dash(r.IP), dash(r.Remote), r.Frontdoor, r.Started.Local().Format(time.DateTime), dash(r.Policy))
	}
	tw.Flush()
	return 0
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
	code, err := reg.Enter(session.EnterOptions{
		Target: a.pos[0], Root: *root, Privileged: *privileged, Argv: a.cmd,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return fail("enter", err)
	}
	return code
}
