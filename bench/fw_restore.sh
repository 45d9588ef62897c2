#!/usr/bin/env bash
# bench/fw_restore.sh — what surviving `nft flush ruleset` costs: a nat
# login's check, a keeper's check, and the restore of both firewall tables
# with every live session's elements, at 10, 100 and 500 live sessions (see
# bench/fwrestore/main.go). Run as root; arguments go to the benchmark
# (-n N). Everything happens in a throwaway network namespace.
set -euo pipefail

die() { printf 'fw_restore: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash bench/fw_restore.sh)"
command -v ip >/dev/null 2>&1 || die "ip not found"

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go_bin" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"

tmp=$(mktemp -d)
ns="ljb-fw-$$"
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$repo_root" && "$go_bin" build -o "$tmp/fwrestore" ./bench/fwrestore) || die "build failed"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$tmp/fwrestore" "$@"
