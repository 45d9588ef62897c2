#!/usr/bin/env bash
# bench/net_setup.sh — network setup + teardown cost of a nat jail
# (netpolicy.Attach / Release) next to the same plumbing by `ip -batch`,
# and the per-login firewall change at 10 and 500 live sessions (one shared
# policy, and a policy per session); see
# bench/netsetup/main.go. Run as root from anywhere; arguments go to the
# benchmark (-n N). Everything happens in a throwaway network namespace
# (the "host") and the jail namespaces the benchmark makes: the machine's
# own network is never touched.
set -euo pipefail

die() { printf 'net_setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash bench/net_setup.sh)"
for c in ip unshare nft; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go_bin" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"

tmp=$(mktemp -d)
ns="ljb-host-$$"
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	# Jail namespaces B pinned, if the benchmark died mid-run.
	for p in /run/netns/ljbj*; do [ -e "$p" ] && ip netns del "$(basename "$p")" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$repo_root" && "$go_bin" build -o "$tmp/netsetup" ./bench/netsetup) || die "build failed"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$tmp/netsetup" "$@"
