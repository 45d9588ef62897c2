// Command loginjail puts every login into a jail of its own. See
// DESIGN.md for the architecture and `loginjail help` for the verbs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/loginjail/loginjail/jail"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// verb is one subcommand: its usage line, summary and body. run returns
// the process's exit status.
type verb struct {
	usage   string
	summary string
	run     func(args []string) int
}

var verbs map[string]*verb

func init() {
	verbs = map[string]*verb{
		"sshd":         {"sshd [--config FILE] [--listen ADDR]", "serve SSH: every login gets a jail (default listen :2222)", cmdSSHD},
		"sshd-conn":    {"sshd-conn ...", "internal: one SSH connection (started by sshd)", cmdSSHDConn},
		"run":          {"run [--config FILE] --user NAME [--net none|nat] [--hostname H] [-- CMD...]", "start a jail for a user from the command line (root)", cmdRun},
		"ps":           {"ps [--json]", "list live sessions", cmdPS},
		"enter":        {"enter [--root] SESSION|USER [-- CMD...]", "join a live jail by setns", cmdEnter},
		"kill":         {"kill SESSION|USER", "end a session and reclaim everything it had", cmdKill},
		"gc":           {"gc", "reclaim what dead sessions left behind", cmdGC},
		"check-config": {"check-config [--config FILE] [--user NAME [--from ADDR]]", "validate the config; with --user say which policy matches and why, and print the resolved jail", cmdCheckConfig},
		"version":      {"version", "print the version", cmdVersion},
		"doctor":       {"doctor [--config FILE]", "check the host for what jails need: ok / warn / fail and the fix", cmdDoctor},
		"pam-hook":     {"pam-hook [--config FILE]", "for pam_exec in sshd's session stack: build (open_session) or end (close_session) the login's jail", cmdPAMHook},
		"shell":        {"shell [--config FILE] [-c CMD]", "sshd ForceCommand in PAM mode: run the login's shell or command in its jail", cmdShell},
		"pam-holder":   {"pam-holder ...", "internal: keeps a PAM-mode login's jail (started by pam-hook)", cmdPAMHolder},
		"sftp-server":  {"sftp-server", "internal: the SFTP server run inside a jail", cmdSFTPServer},
	}
}

func main() {
	// The jail init is this binary re-executed inside the new namespaces:
	// dispatch it before flags, config or logging exist.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		jail.Init()
	}
	// The SSH server's per-connection process logs its own audit trail.
	if len(os.Args) > 1 && os.Args[1] == "sshd-conn" {
		os.Exit(cmdSSHDConn(os.Args[2:]))
	}
	setupLogging()
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 0 {
			if v, ok := verbs[args[0]]; ok {
				fmt.Printf("usage: loginjail %s\n\n%s\n", v.usage, v.summary)
				return
			}
		}
		usage(os.Stdout)
		return
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "loginjail: unknown command %q (try loginjail help)\n", name)
		os.Exit(2)
	}
	os.Exit(v.run(args))
}

func usage(w *os.File) {
	fmt.Fprintln(w, "usage: loginjail COMMAND [ARGS]")
	fmt.Fprintln(w)
	for _, n := range []string{"sshd", "run", "ps", "enter", "kill", "gc", "check-config", "doctor", "pam-hook", "shell", "version"} {
		fmt.Fprintf(w, "  %-14s %s\n", n, verbs[n].summary)
	}
}

// setupLogging sends warnings to stderr; LOGINJAIL_DEBUG=1 shows all.
// Admin commands keep quiet by default because their stdout and stderr
// may be a jailed command's.
func setupLogging() {
	level := slog.LevelWarn
	if os.Getenv("LOGINJAIL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

// newFlags makes a verb's flag set; -h prints its usage line.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loginjail %s\n", verbs[name].usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; it returns an exit status when the verb should stop.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	return 0, false
}

// fail prints one line naming the command and the problem; exit status 1.
func fail(verb string, err error) int {
	fmt.Fprintf(os.Stderr, "loginjail %s: %v\n", verb, err)
	return 1
}

func requireRoot(verb string) bool {
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "loginjail %s: must be run as root\n", verb)
		return false
	}
	return true
}

func cmdVersion(args []string) int {
	fs := newFlags("version")
	if code, stop := parse(fs, args); stop {
		return code
	}
	fmt.Println("loginjail", version)
	return 0
}
