package session

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// NotifyReady tells systemd that the service is ready (sd_notify
// "READY=1"), for the unit's Type=notify. It writes one datagram to the
// unix socket named by $NOTIFY_SOCKET ("@name" is an abstract socket).
// Without $NOTIFY_SOCKET (not started by systemd, or not Type=notify) it
// does nothing and returns nil. The variable stays set: children that
// inherit it cannot speak for the service, as the unit keeps systemd's
// default NotifyAccess=main.
//
// `loginjail sshd` calls it once the listening socket is open and the
// host keys are loaded, before its accept loop.
func NotifyReady() error {
	return notify("READY=1")
}

// NotifyStatus sends a one-line status that `systemctl status` shows.
func NotifyStatus(status string) error {
	return notify("STATUS=" + strings.ReplaceAll(status, "\n", " "))
}

// notify sends state to $NOTIFY_SOCKET.
func notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "@") {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET %q is neither a path nor an abstract socket", name)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	addr := &net.UnixAddr{Name: name, Net: "unixgram"}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
