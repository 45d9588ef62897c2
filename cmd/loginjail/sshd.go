package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/session/sshd"
)

// auditLogging makes slog JSON lines on stderr at Info: the SSH server's
// audit trail (LOGINJAIL_DEBUG=1 adds debug lines).
func auditLogging() {
	level := slog.LevelInfo
	if os.Getenv("LOGINJAIL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

func cmdSSHD(args []string) int {
	fs := newFlags("sshd")
	cfgPath := fs.String("config", "", "config file (default "+config.DefaultPath+" or the embedded defaults)")
	listen := fs.String("listen", "", "address to listen on, host:port (default: [server] listen)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loginjail sshd: unexpected argument %q\n", fs.Arg(0))
		return 2
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
	if code, stop := parse(fs, args); stop {
		return code
	}
	if err := sshd.ServeConnection(*name); err != nil {
		slog.Error("connection", "err", err)
		return 1
	}
	return 0
}
