package netpolicy

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// LoopbackUp brings up lo in the calling process's network namespace. The
// jail init calls it: a new network namespace starts with lo down. Two
// ioctls on a throwaway socket cost a tenth of a netlink round trip, and
// every login pays them.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set lo up: %w", os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", os.NewSyscallError("SIOCGIFFLAGS", err))
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", os.NewSyscallError("SIOCSIFFLAGS", err))
	}
	return nil
}
