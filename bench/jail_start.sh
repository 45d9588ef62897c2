#!/usr/bin/env bash
# bench/jail_start.sh — start-up cost of a loginjail jail (Start to the exit
# of /bin/true inside) next to bare `unshare ... true`; see
# bench/jailstart/main.go. Run as root from anywhere; arguments go to the
# benchmark (-n N, -json). `make bench` runs it; LOGINJAIL_BIN is not used,
# since the benchmark links the jail package itself.
set -euo pipefail

die() { printf 'jail_start: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash bench/jail_start.sh)"
command -v unshare >/dev/null 2>&1 || die "unshare (util-linux) not found"

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go_bin" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The jail init re-executes this binary; keep its dir traversable.
chmod 0755 "$tmp"

(cd "$repo_root" && CGO_ENABLED=1 "$go_bin" build -o "$tmp/jailstart" ./bench/jailstart) ||
	die "build failed"
"$tmp/jailstart" "$@"
