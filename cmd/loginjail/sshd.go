package main

import (
	"log/slog"
	"os"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/auditlog"
	"github.com/loginjail/loginjail/session/sshd"
)

// auditLogging makes slog JSON lines on stderr at Info: the SSH server's
// audit trail (LOGINJAIL_DEBUG=1 adds debug lines).
func auditLogging() {
	level := slog.LevelInfo
	if os.Getenv("LOGINJAIL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	// JSON on stderr (with journal priorities when stderr is the
	// journal); auth events also to syslog authpriv, for auth.log and
	// fail2ban.
	slog.SetDefault(slog.New(auditlog.NewHandler(os.Stderr, level, auditlog.StderrIsJournal(), true)))
}

func cmdSSHD(args []string) int {
	fs := newFlags("sshd")
	cfgPath := configFlag(fs)
	listen := fs.String("listen", "", "address to listen on, host:port (default: [server] listen)")
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("sshd", a); stop {
		return code
	}
	// Serve loads the config itself (and again at each SIGHUP); loading it
	// here first names a bad one before anything else, as every verb does.
	if _, err := config.LoadDefaultOrFile(*cfgPath); err != nil {
		return fail("sshd", err)
	}
	if !requireRoot("sshd") {
		return 1
	}
	auditLogging()
	if err := sshd.Serve(sshd.Options{ConfigPath: *cfgPath, Listen: *listen}); err != nil {
		slog.Error("sshd", "err", err)
		return fail("sshd", err)
	}
	return 0
}

// cmdSSHDConn is the per-connection process the listener starts, with
// the connection, a status pipe and the config on fds 3, 4 and 5.
func cmdSSHDConn(args []string) int {
	auditLogging()
	fs := newFlags("sshd-conn")
	name := fs.String("config-name", "", "file the config on fd 5 came from (\"\" = embedded defaults)")
	remote := fs.String("remote", "", "the client's address as the listener saw it, or as a balancer's PROXY header named it (\"\" = ask the socket)")
	if _, code, stop := parse(fs, args, noCommand); stop {
		return code
	}
	if err := sshd.ServeConnection(*name, *remote); err != nil {
		slog.Error("connection", "err", err)
		return 1
	}
	return 0
}
