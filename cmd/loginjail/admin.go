package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"text/tabwriter"
	"time"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
)

// registry opens the registry of the config's state dir. Admin verbs take
// no --config: they act on what is running, wherever --config pointed
// when it started, so they read the default config's state dir unless
// LOGINJAIL_CONFIG names another config.
func registry(verb string) (*session.Registry, int) {
	cfg, err := config.LoadDefaultOrFile(os.Getenv("LOGINJAIL_CONFIG"))
	if err != nil {
		return nil, fail(verb, err)
	}
	return session.NewRegistry(cfg.Server.StateDir), 0
}

func cmdPS(args []string) int {
	fs := newFlags("ps")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !requireRoot("ps") {
		return 1
	}
	reg, code := registry("ps")
	if reg == nil {
		return code
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
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if !requireRoot("kill") {
		return 1
	}
	reg, code := registry("kill")
	if reg == nil {
		return code
	}
	ids, err := reg.Kill(fs.Arg(0))
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
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !requireRoot("gc") {
		return 1
	}
	reg, code := registry("gc")
	if reg == nil {
		return code
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
	root := fs.Bool("root", false, "enter as the jail's root instead of the session user")
	privileged := fs.Bool("privileged", false, "skip the session's cgroup, rlimits, bounding set, no_new_privs and seccomp filter (logged)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	if !requireRoot("enter") {
		return 1
	}
	reg, code := registry("enter")
	if reg == nil {
		return code
	}
	argv := fs.Args()[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	code, err := reg.Enter(session.EnterOptions{
		Target: fs.Arg(0), Root: *root, Privileged: *privileged, Argv: argv,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return fail("enter", err)
	}
	return code
}

func cmdCheckConfig(args []string) int {
	fs := newFlags("check-config")
	cfgPath := fs.String("config", "", "config file (default "+config.DefaultPath+" or the embedded defaults)")
	user := fs.String("user", "", "print which [[policy]] this user gets, why, and the resolved jail")
	from := fs.String("from", "", "with --user: the remote address the login comes from (for match_addresses)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loginjail check-config: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *user == "" {
		if *from != "" {
			fmt.Fprintln(os.Stderr, "loginjail check-config: --from needs --user")
			return 2
		}
		fmt.Printf("%s: ok\n", cfg.Source)
		return 0
	}
	var remote netip.Addr
	if *from != "" {
		if remote, err = netip.ParseAddr(*from); err != nil {
			return fail("check-config", fmt.Errorf("--from %q: not an IP address", *from))
		}
	}
	groups, err := config.GroupsOf(*user)
	if err != nil {
		return fail("check-config", fmt.Errorf("user %q: %w", *user, err))
	}
	ex, err := cfg.Explain(*user, groups, remote)
	if err != nil {
		return fail("check-config", err)
	}
	if err := ex.Write(os.Stdout); err != nil {
		return fail("check-config", err)
	}
	return 0
}
