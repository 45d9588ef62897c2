#!/usr/bin/env bash
# bench/names.sh — what egress by name adds to a login (the jail's own
# resolver started and stopped, its redirect elements) and to one DNS
# lookup (through the jail's resolver, the answer's address added to
# nftables first), next to the CIDR-only path in the same run; see
# bench/names/main.go. Run as root from anywhere; arguments go to the
# benchmark (-n N). Everything happens in a throwaway network namespace
# (the "host") and the jail namespaces the benchmark makes: the machine's
# own network is never touched.
set -euo pipefail

die() { printf 'names: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash bench/names.sh)"
for c in ip unshare nft; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go_bin" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"

tmp=$(mktemp -d)
ns="ljb-names-$$"
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$repo_root" && "$go_bin" build -o "$tmp/names" ./bench/names) || die "build failed"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$tmp/names" "$@"
