package main

import (
	"io"
	"log/slog"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/sessionmain"
	"github.com/loginjail/loginjail/session"
	"github.com/loginjail/loginjail/session/metrics"
	"github.com/loginjail/loginjail/session/sshd"
)

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
	sessionmain.AuditLogging()
	if err := sshd.Serve(sshd.Options{ConfigPath: *cfgPath, Listen: *listen, ServeMetrics: serveMetrics}); err != nil {
		slog.Error("sshd", "err", err)
		return fail("sshd", err)
	}
	return 0
}

// serveMetrics serves [server] metrics_listen for the listener: the
// metrics library lives in this binary only, never in loginjail-session.
func serveMetrics(addr, stateDir string) (sshd.Metrics, io.Closer, error) {
	srv, err := metrics.Listen(addr, session.NewRegistry(stateDir), true)
	if err != nil {
		return nil, nil, err
	}
	return srv.Logins, srv, nil
}
