package jail

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// dialTimeout bounds a connection init makes for a forwarded channel.
const dialTimeout = 10 * time.Second

// dial connects from inside the jail's network namespace (init lives
// there) and hands the connected socket back: a forwarded connection
// never leaves from the host's network.
func (s *initServer) dial(c *conn, m *message) {
	res := &message{Type: msgResult, ID: m.ID}
	f, err := dialInChild(m.Net)
	if err != nil {
		res.Error = err.Error()
		c.send(res)
		return
	}
	defer f.Close()
	c.send(res, int(f.Fd()))
}

func dialInChild(r *NetRequest) (*os.File, error) {
	if r == nil || (r.Network != "tcp" && r.Network != "tcp4" && r.Network != "tcp6") {
		return nil, fmt.Errorf("dial: want a tcp request")
	}
	nc, err := net.DialTimeout(r.Network, r.Addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s in the jail: %w", r.Addr, err)
	}
	defer nc.Close()
	return nc.(*net.TCPConn).File()
}

// listen binds a listener inside the jail and hands it back; the caller
// accepts on it. A unix listener gets a fresh directory under /tmp owned
// by the requested user, as ssh-agent forwarding expects.
func (s *initServer) listen(c *conn, m *message) {
	res := &message{Type: msgResult, ID: m.ID}
	f, addr, err := listenInChild(m.Net)
	if err != nil {
		res.Error = err.Error()
		c.send(res)
		return
	}
	defer f.Close()
	res.Addr = addr
	c.send(res, int(f.Fd()))
}

func listenInChild(r *NetRequest) (*os.File, string, error) {
	if r == nil {
		return nil, "", fmt.Errorf("listen: no request")
	}
	switch r.Network {
	case "tcp", "tcp4", "tcp6":
		ln, err := net.Listen(r.Network, r.Addr)
		if err != nil {
			return nil, "", fmt.Errorf("listen on %s in the jail: %w", r.Addr, err)
		}
		defer ln.Close()
		f, err := ln.(*net.TCPListener).File()
		return f, ln.Addr().String(), err
	case "unix":
		dir, err := os.MkdirTemp("/tmp", "ssh-")
		if err != nil {
			return nil, "", fmt.Errorf("listen: %w", err)
		}
		path := filepath.Join(dir, "agent."+strconv.Itoa(os.Getpid()))
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			os.RemoveAll(dir)
			return nil, "", fmt.Errorf("listen on %s in the jail: %w", path, err)
		}
		ln.SetUnlinkOnClose(false)
		defer ln.Close()
		for _, p := range []string{dir, path} {
			if err := os.Lchown(p, int(r.UID), int(r.GID)); err != nil {
				os.RemoveAll(dir)
				return nil, "", fmt.Errorf("listen: %w", err)
			}
		}
		f, err := ln.File()
		return f, path, err
	default:
		return nil, "", fmt.Errorf("listen: unknown network %q", r.Network)
	}
}
