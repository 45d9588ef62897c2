package sshd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/internal/procwait"
	"github.com/loginjail/loginjail/internal/sessionbin"
	"github.com/loginjail/loginjail/session"
)

// Reasons of loginjail_connections_dropped_total.
const (
	dropPenalty     = "penalty"          // the source is penalised after failures
	dropMaxStartups = "max_startups"     // too many unauthenticated connections
	dropProxyHeader = "proxy_header"     // a balancer's connection without a valid PROXY header
	dropGrace       = "login_grace_time" // not authenticated in time
)

// Options is a `loginjail sshd`.
type Options struct {
	ConfigPath string // "" = config.DefaultPath if it exists, else the embedded defaults
	Listen     string // overrides [server] listen
	// ServeMetrics serves [server] metrics_listen; nil refuses a config
	// that sets it.
	ServeMetrics ServeMetricsFunc
}

// listener accepts connections and starts a per-connection process for
// each. It counts connections not yet authenticated (max_startups), keeps
// per-source penalties, and reclaims what a per-connection process that
// died abnormally left behind.
type listener struct {
	opts Options

	mu      sync.Mutex
	cfg     *config.Config
	cfgName string // file the config came from; "" = embedded defaults
	cfgData []byte
	gate    startups
	unauth  int
	// children are the per-connection processes being watched.
	children int
	pen      *penalties
	mem      *memRelease
	metrics  Metrics // noMetrics without [server] metrics_listen
	// session is the loginjail-session binary, opened once at start: every
	// per-connection process is exec'd from it, so an upgrade that
	// replaces the file never pairs this listener with a newer one.
	session *sessionbin.Binary
}

// child is one per-connection process as the listener tracks it.
type child struct {
	remote   netip.Addr     // the client: the socket's peer, or the one a PROXY header named
	addr     netip.AddrPort // remote with its port, as the per-connection process is told it
	authed   bool           // guarded by listener.mu
	settled  bool           // no longer counted in unauth; guarded by listener.mu
	failures int            // watch goroutine only
	grace    bool           // watch goroutine only
	accepted time.Time      // when the listener accepted the connection
}

// Serve is `loginjail sshd`: it listens until SIGTERM or SIGINT. Live
// connections are not touched by its end: their processes run on.
// SIGHUP re-reads the config file for new connections (the listen
// address stays until a restart).
func Serve(opts Options) error {
	l := &listener{opts: opts, pen: newPenalties(), mem: newMemRelease(), metrics: noMetrics{}}
	if err := l.load(); err != nil {
		return err
	}
	bin, err := sessionbin.Open()
	if err != nil {
		return err
	}
	defer bin.Close()
	if bin.Fallback {
		slog.Warn(bin.Missing, "event", evSessionBinary)
	}
	l.session = bin
	if err := ensureHostKeys(&l.cfg.Server); err != nil {
		return err
	}
	if _, err := loadHostKeys(&l.cfg.Server); err != nil {
		return err
	}
	addr := opts.Listen
	if addr == "" {
		addr = l.cfg.Server.Listen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	slog.Info("listening", "event", evListen, "addr", ln.Addr().String(), "config", l.source())
	if a := l.cfg.Server.MetricsListen; a != "" {
		// Served from this process: the per-connection processes report
		// on their status pipes and never link a metric.
		if opts.ServeMetrics == nil {
			ln.Close()
			return errors.New("metrics_listen: this build serves no metrics")
		}
		m, closer, err := opts.ServeMetrics(a, l.cfg.Server.StateDir)
		if err != nil {
			ln.Close()
			return err
		}
		defer closer.Close()
		l.metrics = m
	}
	// systemd's Type=notify: ready once the socket accepts.
	if err := session.NotifyReady(); err != nil {
		slog.Warn("notify systemd", "err", err)
	}

	// Live nat jails keep their firewall through `nft flush ruleset`:
	// their own processes watch for it too, the listener as a second pair
	// of eyes that covers all of them.
	go session.KeepFirewall(context.Background(), l.cfg, slog.Default())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	go func() {
		for sig := range sigs {
			switch sig {
			case syscall.SIGHUP:
				l.reload(addr)
				continue
			case syscall.SIGUSR1:
				l.logState()
				continue
			}
			slog.Info("stopping; live connections keep running", "event", evListen, "signal", sig.String())
			ln.Close()
			return
		}
	}()
	for {
		nc, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			slog.Warn("accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		l.admit(nc)
	}
}

// load reads the config file (or takes the embedded defaults) and keeps
// its bytes for the per-connection processes.
func (l *listener) load() error {
	name := l.opts.ConfigPath
	if name == "" {
		if _, err := os.Stat(config.DefaultPath); err == nil {
			name = config.DefaultPath
		}
	}
	cfg := config.Default()
	var data []byte
	if name != "" {
		var err error
		if data, err = os.ReadFile(name); err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		if cfg, err = config.Parse(name, data); err != nil {
			return err
		}
	}
	start, rate, full, err := config.ParseMaxStartups(cfg.Server.MaxStartups)
	if err != nil {
		return fmt.Errorf("max_startups: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg, l.cfgName, l.cfgData = cfg, name, data
	l.gate = startups{start: start, rate: rate, full: full}
	return nil
}

func (l *listener) source() string {
	if l.cfgName == "" {
		return "<embedded defaults>"
	}
	return l.cfgName
}

// reload is SIGHUP: new connections get the re-read config; a broken one
// is refused and the old one kept.
func (l *listener) reload(addr string) {
	old := l.cfg
	if err := l.load(); err != nil {
		slog.Error("config not reloaded; keeping the old one", "event", evReload, "err", err)
		return
	}
	if err := ensureHostKeys(&l.cfg.Server); err != nil {
		slog.Error("host keys after reload", "event", evReload, "err", err)
	}
	if l.opts.Listen == "" && l.cfg.Server.Listen != old.Server.Listen {
		slog.Warn("listen changed; it takes effect at the next start", "event", evReload,
			"listening", addr, "configured", l.cfg.Server.Listen)
	}
	slog.Info("config reloaded", "event", evReload, "config", l.source())
}

// admit takes a new connection: from a balancer in proxy_protocol_from,
// once its PROXY header has named the client (admitProxied); from anyone
// else, at once.
func (l *listener) admit(nc net.Conn) {
	peer := addrPortOf(nc.RemoteAddr())
	l.mu.Lock()
	cfg := l.cfg
	l.mu.Unlock()
	if cfg.Server.ProxyTrusted(peer.Addr()) {
		go l.admitProxied(nc, peer, cfg)
		return
	}
	l.admitFrom(nc, peer)
}

// admitProxied reads a balancer's PROXY header, with a deadline, and
// admits the connection as coming from the client it names. A missing or
// malformed header drops it in one line; a LOCAL header or a bare connect
// that closes without data (health checks) is closed quietly.
func (l *listener) admitProxied(nc net.Conn, peer netip.AddrPort, cfg *config.Config) {
	wait := proxyHeaderWait
	if g := cfg.Server.LoginGraceTime.Duration; g > 0 && g < wait {
		wait = g
	}
	deadline := time.Now().Add(wait)
	nc.SetReadDeadline(deadline)
	h, err := readProxyHeader(nc)
	nc.SetReadDeadline(time.Time{})
	var client netip.AddrPort
	ok := false
	if err == nil {
		client, ok, err = proxyClient(h)
	}
	switch {
	case errors.Is(err, errProxyQuiet):
		slog.Debug("balancer connection closed without data", "balancer", peer.String())
		nc.Close()
	case err != nil:
		slog.Warn("connection dropped", "event", evConnDrop, "remote", peer.String(), "reason", err.Error())
		l.metrics.Dropped(dropProxyHeader)
		nc.Close()
	case !ok && peekClosed(nc, deadline):
		// LOCAL: the balancer's own connection; a health check closes
		// it without a byte.
		slog.Debug("balancer health check", "balancer", peer.String())
		nc.Close()
	case !ok:
		l.admitFrom(nc, peer)
	default:
		l.admitFrom(nc, client)
	}
}

// admitFrom applies the per-source penalty and max_startups to a new
// connection from remote (the socket's peer, or the client a balancer's
// PROXY header named) and hands it to a per-connection process.
func (l *listener) admitFrom(nc net.Conn, remote netip.AddrPort) {
	l.mu.Lock()
	reason, label := "", ""
	switch {
	case l.pen.refused(remote.Addr()):
		reason, label = "source penalised after repeated failures", dropPenalty
	case l.gate.drop(l.unauth):
		reason, label = "max_startups", dropMaxStartups
	}
	if reason != "" {
		unauth := l.unauth
		l.mu.Unlock()
		slog.Warn("connection dropped", "event", evConnDrop, "remote", remote.String(), "reason", reason, "unauthenticated", unauth)
		l.metrics.Dropped(label)
		nc.Close()
		return
	}
	l.unauth++
	cfg, name, data := l.cfg, l.cfgName, l.cfgData
	l.mu.Unlock()

	ch := &child{remote: remote.Addr(), addr: remote, accepted: time.Now()}
	if err := l.spawn(nc, ch, cfg, name, data); err != nil {
		slog.Error("per-connection process", "event", evConnCrash, "remote", remote.String(), "err", err)
		l.settle(ch, false)
	}
}

// spawn starts `loginjail-session sshd-conn` for nc. The process gets its own
// session (no Pdeathsig): the listener's end does not end it.
func (l *listener) spawn(nc net.Conn, ch *child, cfg *config.Config, name string, data []byte) error {
	defer nc.Close()
	f, err := nc.(*net.TCPConn).File()
	if err != nil {
		return err
	}
	defer f.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		statusR.Close()
		statusW.Close()
		return err
	}
	// The remote travels on the command line: a balancer's header was
	// read here, and a peer that reset the connection meanwhile has no
	// address the child could ask the socket for.
	args := []string{sessionbin.Name, "sshd-conn", "--config-name=" + name, "--remote=" + ch.addr.String()}
	cmd := &exec.Cmd{
		Path:        l.session.Path(),
		Args:        args,
		Env:         os.Environ(),
		Dir:         "/",
		Stderr:      os.Stderr,
		ExtraFiles:  []*os.File{f, statusW, cfgR},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	statusW.Close()
	cfgR.Close()
	if err != nil {
		statusR.Close()
		cfgW.Close()
		return err
	}
	go func() {
		cfgW.Write(data)
		cfgW.Close()
	}()
	l.mu.Lock()
	l.children++
	l.mu.Unlock()
	go func() {
		l.watch(cmd, statusR, ch, cfg)
		l.mu.Lock()
		l.children--
		l.mu.Unlock()
		l.mem.ended()
	}()
	return nil
}

// graceSlack is how long after login_grace_time the listener kills a
// per-connection process that has not reported a login (it should have
// closed the connection itself).
const graceSlack = 10 * time.Second

// watch follows one per-connection process: its status lines, then its
// exit, which settles the source's penalty and, if it died abnormally
// after building a jail, reclaims what the jail left.
func (l *listener) watch(cmd *exec.Cmd, status *os.File, ch *child, cfg *config.Config) {
	if d := cfg.Server.LoginGraceTime.Duration; d > 0 {
		t := time.AfterFunc(d+graceSlack, func() {
			l.mu.Lock()
			authed := ch.authed
			l.mu.Unlock()
			if !authed {
				slog.Warn("login grace time exceeded; killing the connection's process", "event", evGraceExceeded,
					"remote", ch.remote.String(), "pid", cmd.Process.Pid)
				cmd.Process.Kill()
			}
		})
		defer t.Stop()
	}
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		word, arg, _ := strings.Cut(sc.Text(), " ")
		switch word {
		case statusAuth:
			l.settle(ch, true)
			l.metrics.Login(ResultSuccess, arg)
		case statusFail:
			ch.failures++
			l.metrics.Login(ResultFailure, arg)
		case statusRefused:
			l.metrics.Login(ResultRefused, arg)
		case statusGrace:
			ch.grace = true
			l.metrics.Dropped(dropGrace)
		case statusStarted:
			jail := time.Duration(-1)
			if s, err := strconv.ParseFloat(arg, 64); err == nil {
				jail = time.Duration(s * float64(time.Second))
			}
			l.metrics.Started(time.Since(ch.accepted), jail)
		}
	}
	status.Close()
	authed := l.settle(ch, false)
	pid := cmd.Process.Pid
	ws, werr := procwait.Reap(pid)
	if werr != nil {
		// Not reaped here: the runtime's own wait is the fallback.
		slog.Warn("per-connection process", "event", evConnCrash, "pid", pid, "err", werr)
		cmd.Wait()
		ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
	}
	cmd.Process.Release()
	crashed := ws.Signaled() || ws.ExitStatus() == 2 // killed, or a Go panic
	var err error
	if ws.Signaled() || ws.ExitStatus() != 0 {
		err = errors.New(procwait.Describe(ws))
		slog.Warn("per-connection process ended abnormally", "event", evConnCrash, "remote", ch.remote.String(),
			"pid", pid, "status", procwait.Describe(ws))
	}
	if !authed {
		var d time.Duration
		switch {
		case crashed:
			d = penaltyCrash
		case ch.grace:
			d = penaltyGrace
		case ch.failures > 0:
			d = penaltyAuthFail
		}
		if d > 0 && l.pen.add(ch.remote, d) {
			slog.Warn("source penalised: new connections refused for a while", "event", evPenalty, "remote", ch.remote.String())
		}
		return
	}
	if err != nil {
		reclaimOwnedBy(cfg, pid)
	}
}

// settle takes ch out of the unauthenticated count (once), marking it
// authenticated if authed; it reports whether ch ever authenticated.
func (l *listener) settle(ch *child, authed bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ch.settled {
		ch.settled = true
		l.unauth--
	}
	ch.authed = ch.authed || authed
	return ch.authed
}

// reclaimTimeout bounds the wait for a dead connection's jail init to
// notice its control connection closed and exit.
const reclaimTimeout = 15 * time.Second

// reclaimOwnedBy reclaims the sessions whose builder was pid, once their
// init is gone (it ends when its control connection closes).
func reclaimOwnedBy(cfg *config.Config, pid int) {
	reg := session.NewRegistry(cfg.Server.StateDir)
	deadline := time.Now().Add(reclaimTimeout)
	for {
		recs, err := reg.List()
		if err != nil {
			slog.Warn("reclaim", "err", err)
			return
		}
		left := 0
		for _, r := range recs {
			if r.Owner == pid {
				left++
			}
		}
		if left == 0 {
			return
		}
		if reclaimed, err := reg.GC(); len(reclaimed) > 0 || err != nil {
			slog.Info("reclaimed sessions of a dead connection", "event", evConnCrash, "pid", pid, "sessions", reclaimed, "err", errString(err))
		}
		if time.Now().After(deadline) {
			slog.Warn("sessions of a dead connection still live", "event", evConnCrash, "pid", pid, "sessions", left)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
