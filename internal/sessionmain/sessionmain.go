// Package sessionmain is the body of loginjail-session, the small binary
// each login execs (cmd/loginjail-session): the SSH server's
// per-connection process, the jail init, the PAM mode's holder and the
// in-jail SFTP server. cmd/loginjail keeps these verbs as aliases of the
// same functions, so that either binary runs them alike.
//
// Keep its imports to what those processes need: every package linked
// here is paid for (page faults and package init) at every login, twice.
package sessionmain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"log/syslog"
	"os"
	"strconv"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/auditlog"
	"github.com/loginjail/loginjail/internal/sessionbin"
	"github.com/loginjail/loginjail/jail"
	"github.com/loginjail/loginjail/session"
	"github.com/loginjail/loginjail/session/sshd"
)

// Verbs are the verbs of loginjail-session, each returning the exit
// status. "init" is not one: Main hands it to jail.Init before anything.
var Verbs = map[string]func(args []string) int{
	"sshd-conn":   SSHDConn,
	"pam-holder":  PAMHolder,
	"sftp-server": SFTPServer,
}

// Main is loginjail-session's main: it never returns.
func Main() {
	// The jail init (and its Go dial helpers): dispatched before flags,
	// config or logging exist, as in loginjail.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		jail.Init()
	}
	if len(os.Args) > 1 {
		if run, ok := Verbs[os.Args[1]]; ok {
			os.Exit(run(os.Args[2:]))
		}
	}
	fmt.Fprintf(os.Stderr, "%s: internal to loginjail (runs sshd-conn, init, pam-holder, sftp-server); see loginjail(8)\n", sessionbin.Name)
	os.Exit(2)
}

// AuditLogging makes slog JSON lines on stderr at Info: the SSH server's
// audit trail (LOGINJAIL_DEBUG=1 adds debug lines).
func AuditLogging() {
	level := slog.LevelInfo
	if os.Getenv("LOGINJAIL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	// JSON on stderr (with journal priorities when stderr is the
	// journal); auth events also to syslog authpriv, for auth.log and
	// fail2ban.
	slog.SetDefault(slog.New(auditlog.NewHandler(os.Stderr, level, auditlog.StderrIsJournal(), true)))
}

// flags makes an internal verb's flag set: its callers are loginjail's
// own listener and pam-hook, so a bad flag is a bug, reported in one line.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintf(fs.Output(), "usage: %s %s ... (internal to loginjail)\n", sessionbin.Name, name) }
	return fs
}

// SSHDConn is the per-connection process the listener starts, with the
// connection, a status pipe and the config on fds 3, 4 and 5.
func SSHDConn(args []string) int {
	AuditLogging()
	fs := flags("sshd-conn")
	name := fs.String("config-name", "", "file the config on fd 5 came from (\"\" = embedded defaults)")
	remote := fs.String("remote", "", "the client's address as the listener saw it, or as a balancer's PROXY header named it (\"\" = ask the socket)")
	if err := fs.Parse(args); err != nil {
		return exitFlags(err)
	}
	if err := sshd.ServeConnection(*name, *remote); err != nil {
		slog.Error("connection", "err", err)
		return 1
	}
	return 0
}

// PAMHolder is the per-login process pam-hook starts, detached from
// every pipe of pam_exec's. Its logs are the PAM front door's audit trail:
// JSON lines to syslog (authpriv) when the host has a syslog socket.
func PAMHolder(args []string) int {
	if w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "loginjail"); err == nil {
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, nil)))
	}
	fs := flags("pam-holder")
	cfgPath := fs.String("config", "", "config file")
	user := fs.String("user", "", "PAM_USER")
	rhost := fs.String("rhost", "", "PAM_RHOST")
	sshdPid := fs.Int("sshd-pid", 0, "pid of the login's privileged sshd process")
	sshdStart := fs.String("sshd-start", "", "its start time")
	if err := fs.Parse(args); err != nil {
		return exitFlags(err)
	}
	ready := os.NewFile(3, "ready")
	start, err := strconv.ParseUint(*sshdStart, 10, 64)
	if err != nil || *user == "" || *sshdPid <= 0 {
		fmt.Fprintln(ready, "pam-holder: bad arguments")
		return 2
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		fmt.Fprintln(ready, err)
		return 1
	}
	err = session.RunHolder(context.Background(), session.HolderOptions{
		Config: cfg, User: *user, RHost: *rhost, SSHDPid: *sshdPid, SSHDStart: start, Ready: ready,
	})
	if err != nil {
		slog.Error("pam session", "user", *user, "err", err)
		return 1
	}
	return 0
}

// SFTPServer is the SFTP server a jail runs of its own binary (the
// jail init's executable) for an image without sftp-server.
func SFTPServer(args []string) int {
	if err := session.ServeSFTP(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func exitFlags(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
