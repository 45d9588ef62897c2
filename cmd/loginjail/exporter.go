package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/sessionmain"
	"github.com/loginjail/loginjail/session"
	"github.com/loginjail/loginjail/session/metrics"
)

// cmdExporter is `loginjail exporter --listen ADDR`: the per-session
// series for hosts whose logins come through OpenSSH and PAM, where no
// loginjail listener runs to serve them. Logins are OpenSSH's to count.
func cmdExporter(args []string) int {
	fs := newFlags("exporter")
	cfgPath := configFlag(fs)
	listen := fs.String("listen", "", "address to serve /metrics on, host:port (required; e.g. 127.0.0.1:9322)")
	a, code, stop := parse(fs, args, noCommand)
	if stop {
		return code
	}
	if code, stop := noArgs("exporter", a); stop {
		return code
	}
	if *listen == "" {
		return fail("exporter", fmt.Errorf("--listen ADDR is required (e.g. --listen 127.0.0.1:9322)"))
	}
	if err := config.CheckListen(*listen); err != nil {
		return fail("exporter", fmt.Errorf("--listen: %w", err))
	}
	cfg, err := config.LoadDefaultOrFile(*cfgPath)
	if err != nil {
		return fail("exporter", err)
	}
	if !requireRoot("exporter") {
		return 1
	}
	sessionmain.AuditLogging()
	srv, err := metrics.Listen(*listen, session.NewRegistry(cfg.Server.StateDir), false)
	if err != nil {
		return fail("exporter", err)
	}
	defer srv.Close()
	if err := session.NotifyReady(); err != nil {
		slog.Warn("notify systemd", "err", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	return 0
}
