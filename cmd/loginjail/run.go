package main

import (
	"context"
	"fmt"
	"os"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session"
)

func cmdRun(args []string) int {
	fs := newFlags("run")
	cfgPath := configFlag(fs)
	user := fs.String("user", "", "user to jail")
	net := fs.String("net", "", "network: none or nat (default: the policy's)")
	hostname := fs.String("hostname", "", "hostname inside the jail (default: the policy's template)")
	// No positional argument: the first one starts the command.
	a, code, stop := parse(fs, args, 0)
	if stop {
		return code
	}
	if *user == "" {
		fmt.Fprintln(os.Stderr, "loginjail run: --user is required")
		return 2
	}
	if *net != "" && *net != "none" && *net != "nat" {
		fmt.Fprintf(os.Stderr, "loginjail run: --net %q: want none or nat\n", *net)
		return 2
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		return fail("run", err)
	}
	if !requireRoot("run") {
		return 1
	}
	code, err = session.Run(context.Background(), session.RunOptions{
		Config: cfg, User: *user, Net: *net, Hostname: *hostname, Argv: a.cmd,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return fail("run", err)
	}
	return code
}
