package netpolicy

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// LoopbackUp brings up lo in the calling process's network namespace. The
// jail init calls it: a new network namespace starts with lo down.
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
