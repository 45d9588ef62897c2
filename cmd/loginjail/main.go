// Command loginjail puts every login into a jail of its own. See
// DESIGN.md for the architecture and `loginjail help` for the verbs.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/sessionmain"
	"github.com/loginjail/loginjail/jail"
)

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
		"sshd-conn":    {"sshd-conn ...", "internal: one SSH connection (started by sshd; loginjail-session runs it)", sessionmain.SSHDConn},
		"run":          {"run [--config FILE] --user NAME [--net none|nat] [--hostname H] [-- CMD...]", "start a jail for a user from the command line (root)", cmdRun},
		"ps":           {"ps [--config FILE] [--json] [--watch]", "list live sessions with their CPU, memory, processes and idle time", cmdPS},
		"enter":        {"enter [--config FILE] [--root] [--privileged] SESSION|USER [-- CMD...]", "join a live jail by setns", cmdEnter},
		"kill":         {"kill [--config FILE] SESSION|USER", "end a session and reclaim everything it had", cmdKill},
		"play":         {"play [--config FILE] [--speed X] [--idle-limit D] SESSION[/N]", "replay a session's recording in the terminal (all its terminals and commands, or channel N)", cmdPlay},
		"watch":        {"watch [--config FILE] SESSION|USER", "follow a live session's terminal, read-only (the session must be recorded; audited)", cmdWatch},
		"gc":           {"gc [--config FILE]", "reclaim what dead sessions left behind", cmdGC},
		"check-config": {"check-config [--config FILE] [--user NAME [--from ADDR]] [--dump]", "validate the config and look for mistakes; with --user say which policy matches and why; --dump prints every effective setting", cmdCheckConfig},
		"version":      {"version", "print the version and the source revision (also --version)", cmdVersion},
		"doctor":       {"doctor [--config FILE]", "check the host for what jails need: ok / warn / fail and the fix", cmdDoctor},
		"pam-hook":     {"pam-hook [--config FILE]", "for pam_exec in sshd's session stack: build (open_session) or end (close_session) the login's jail", cmdPAMHook},
		"shell":        {"shell [--config FILE] [-c CMD]", "sshd ForceCommand in PAM mode: run the login's shell or command in its jail", cmdShell},
		"pam-holder":   {"pam-holder ...", "internal: keeps a PAM-mode login's jail (started by pam-hook; loginjail-session runs it)", sessionmain.PAMHolder},
		"exporter":     {"exporter [--config FILE] --listen ADDR", "serve the sessions' Prometheus metrics (for PAM-mode hosts; loginjail sshd has [server] metrics_listen)", cmdExporter},
		"sftp-server":  {"sftp-server", "internal: the SFTP server run inside a jail", sessionmain.SFTPServer},
	}
}

func main() {
	// The jail init is this binary re-executed inside the new namespaces:
	// dispatch it before flags, config or logging exist.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		jail.Init()
	}
	// The SSH server's per-connection process logs its own audit trail.
	// loginjail-session runs it for the listener; the alias stays.
	if len(os.Args) > 1 && os.Args[1] == "sshd-conn" {
		os.Exit(sessionmain.SSHDConn(os.Args[2:]))
	}
	setupLogging()
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the verb argv[0] with the rest of argv and returns the
// exit status.
func dispatch(argv []string) int {
	if len(argv) < 1 {
		usage(os.Stderr)
		return 2
	}
	name, args := argv[0], argv[1:]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 0 {
			if v, ok := verbs[args[0]]; ok {
				fmt.Printf("usage: loginjail %s\n\n%s\n", v.usage, v.summary)
				return 0
			}
		}
		usage(os.Stdout)
		return 0
	case "--version", "-version":
		name = "version"
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "loginjail: unknown command %q (try loginjail help)\n", name)
		return 2
	}
	return v.run(args)
}

func usage(w *os.File) {
	fmt.Fprintln(w, "usage: loginjail COMMAND [ARGS]")
	fmt.Fprintln(w)
	for _, n := range []string{"sshd", "run", "ps", "enter", "kill", "play", "watch", "gc", "check-config", "doctor", "pam-hook", "shell", "exporter", "version"} {
		fmt.Fprintf(w, "  %-14s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags may come before or after a command's arguments; \"--\" ends them.")
	fmt.Fprintln(w, "Every command reads --config FILE, else $LOGINJAIL_CONFIG, else "+config.DefaultPath+".")
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

// configFlag adds --config to a verb. Its default is $LOGINJAIL_CONFIG, so
// that every verb finds the config (and with it the state dir of the
// sessions it acts on) the same way: --config, else LOGINJAIL_CONFIG, else
// config.DefaultPath, else the embedded defaults.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv("LOGINJAIL_CONFIG"),
		"config file (default: $LOGINJAIL_CONFIG, else "+config.DefaultPath+" if it exists, else the embedded defaults)")
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

func cmdVersion(argv []string) int {
	fs := newFlags("version")
	a, code, stop := parse(fs, argv, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("version", a); stop {
		return code
	}
	fmt.Println(versionLine())
	return 0
}
