// Package netpolicy gives a jail its network: "none" (only lo) or "nat"
// (a veth on a host bridge, masqueraded out). It owns every link, address,
// route and firewall rule loginjail makes, and nothing else on the host.
package netpolicy
