package sshd

import (
	"fmt"
	"io"
	"net"
	"os"

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
// listener re-reads it (SIGHUP).
func ServeConnection(configName string) error {
	cfgPipe := os.NewFile(configFD, "config")
	data, err := io.ReadAll(cfgPipe)
	cfgPipe.Close()
	if err != nil {
		return fmt.Errorf("read config from the listener: %w", err)
	}
	cfg := config.Default()
	if configName != "" {
		if cfg, err = config.Parse(configName, data); err != nil {
			return err
		}
	}
	f := os.NewFile(connFD, "conn")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("connection from the listener: %w", err)
	}
	status := &statusPipe{f: os.NewFile(statusFD, "status")}
	// The PAM thread is this, the main thread (see lockedThread).
	thread := &lockedThread{work: make(chan func())}
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
