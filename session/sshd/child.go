package sshd

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/loginjail/loginjail/config"
)

// The descriptors the listener hands a per-connection process, in
// exec.Cmd.ExtraFiles order.
const (
	connFD   = 3 // the accepted TCP connection
	statusFD = 4 // write end of the status pipe (statusAuth, statusFail, statusGrace)
	configFD = 5 // read end of a pipe carrying the listener's config file bytes
)

// ServeConnection is `loginjail sshd-conn`: the per-connection process.
// configName is the config file the bytes on configFD came from ("" for
// the embedded defaults); the listener validated them, and the child
// parses the same bytes, so a config edited since does not apply until the
// listener re-reads it (SIGHUP). remote, if not "", is the client's
// address as the listener saw it: the socket's peer, or the client a
// balancer's PROXY header named (the listener read it).
func ServeConnection(configName, remote string) error {
	tuneConnRuntime()
	var client netip.AddrPort
	if remote != "" {
		var err error
		if client, err = netip.ParseAddrPort(remote); err != nil {
			return fmt.Errorf("remote address from the listener: %w", err)
		}
	}
	cfgPipe := os.NewFile(configFD, "config")
	data, err := io.ReadAll(cfgPipe)
	cfgPipe.Close()
	if err != nil {
		return fmt.Errorf("read config from the listener: %w", err)
	}
	// One parse: Parse starts from the embedded defaults itself, and each
	// parse is ~190 KB of garbage that an idle session keeps resident
	// (its heap never reaches the collector's goal; issue 17).
	var cfg *config.Config
	if configName == "" {
		cfg = config.Default()
	} else if cfg, err = config.Parse(configName, data); err != nil {
		return err
	}
	f := os.NewFile(connFD, "conn")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("connection from the listener: %w", err)
	}
	nc = newProxyGuard(nc, client)
	// Nothing this process starts (PAM modules' helpers, the jail init)
	// may hold the listener's pipe open.
	syscall.CloseOnExec(statusFD)
	status := &statusPipe{f: os.NewFile(statusFD, "status")}
	// The PAM thread is this, the main thread (see lockedThread).
	thread := &lockedThread{work: make(chan func()), main: true}
	c, err := newConn(cfg, nc, status, thread)
	if err != nil {
		nc.Close()
		return err
	}
	go func() {
		c.serve()
		close(thread.work)
	}()
	thread.loop()
	return nil
}
