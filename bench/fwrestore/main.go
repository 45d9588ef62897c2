// Command fwrestore measures what surviving a ruleset flush costs: a nat
// login's check that the firewall is there (netpolicy.Present, one
// netlink request), a keeper's full check when nothing is missing
// (netpolicy.Inspect: both tables' skeletons and every live session's
// elements), and netpolicy.Restore after both tables were deleted, with
// 10, 100 and 500 live sessions (-n: repetitions, median reported). It
// must run as root inside a throwaway network namespace (bench/fw_restore.sh
// makes one).
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/loginjail/loginjail/netpolicy"
)

func main() {
	reps := flag.Int("n", 5, "repetitions per size")
	flag.Parse()
	dir, err := os.MkdirTemp("", "ljb-fwrestore-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	spec := netpolicy.Spec{Bridge: "ljb0", Subnet: netip.MustParsePrefix("10.214.0.0/16"),
		Subnet6: netip.MustParsePrefix("fd42:214::/64"), StateDir: dir,
		Allow:     []netpolicy.Rule{{Proto: "tcp", PortLo: 443, PortHi: 443}},
		HostAllow: []netpolicy.Rule{{Proto: "udp", PortLo: 53, PortHi: 53}}}
	fmt.Printf("%-8s %14s %14s %14s\n", "sessions", "login check", "keeper check", "restore")
	for _, n := range []int{10, 100, 500} {
		var p, i, r []time.Duration
		for range *reps {
			a, b, c, err := netpolicy.RestoreTimes(spec, n)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fwrestore:", err)
				os.Exit(1)
			}
			p, i, r = append(p, a), append(i, b), append(r, c)
		}
		fmt.Printf("%-8d %14v %14v %14v\n", n, median(p), median(i), median(r))
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2].Round(time.Microsecond)
}
