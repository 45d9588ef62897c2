// Package netpolicy gives a jail its network: "none" (only lo) or "nat"
// (a veth on a host bridge, masqueraded out). It owns every link, address,
// route and firewall rule loginjail makes, and nothing else on the host.
// A policy that names hosts gives the jail a resolver of its own, which
// opens the addresses it answers with (names.go, names_linux.go).
package netpolicy
