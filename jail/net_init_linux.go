package jail

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dialTimeout bounds a connection init makes for a forwarded channel; the
// C init gives a helper a second more before it kills it.
const dialTimeout = 10 * time.Second

// runDialHelper is a dial by name for the C init (cinit_net_linux.c):
// init resolves only numeric addresses and localhost itself, never through
// NSS, whose modules would come from the jail's root filesystem. This
// short-lived fork of init resolves with Go's own resolver (hosts file and
// DNS, no NSS), connects from the jail's network namespace, and sends the
// socket back on r.dial, or the error text without one.
func runDialHelper(r initRole) int {
	f, err := dialInChild(&NetRequest{Network: r.dialNet, Addr: r.dialAddr})
	if err != nil {
		unix.Sendmsg(r.dial, []byte(err.Error()), nil, nil, 0)
		return 1
	}
	if err := unix.Sendmsg(r.dial, []byte("ok"), unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		return 1
	}
	return 0
}

func dialInChild(r *NetRequest) (*os.File, error) {
	if r.Network != "tcp" && r.Network != "tcp4" && r.Network != "tcp6" {
		return nil, fmt.Errorf("want a tcp request")
	}
	d := net.Dialer{Timeout: dialTimeout, Resolver: &net.Resolver{PreferGo: true}}
	nc, err := d.DialContext(context.Background(), r.Network, r.Addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return nc.(*net.TCPConn).File()
}
