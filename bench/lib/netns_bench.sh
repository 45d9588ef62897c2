# bench/lib/netns_bench.sh — sourced by the wrappers of the Go network
# benchmarks (net_setup.sh, names.sh, fw_restore.sh): builds ./bench/PKG
# and runs it, as root, in a throwaway network namespace standing in for
# the host, so the machine's own network is never touched. Jail
# namespaces a benchmark pinned (ljbj*) go too if it died mid-run.
#
#	netns_bench NAME PKG [ARGS...]   NAME names errors and the namespace

netns_bench() {
	local name=$1 pkg=$2
	shift 2
	die() { printf '%s: error: %s\n' "$name" "$*" >&2; exit 1; }
	[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash bench/$name.sh)"
	local c
	for c in ip unshare nft; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found"
	done
	local repo_root go_bin
	repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
	[ -x "$go_bin" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"
	bench_tmp=$(mktemp -d)
	bench_ns="ljb-$name-$$"
	trap netns_bench_cleanup EXIT
	(cd "$repo_root" && "$go_bin" build -o "$bench_tmp/$pkg" "./bench/$pkg") || die "build failed"
	ip netns add "$bench_ns"
	ip -n "$bench_ns" link set lo up
	ip netns exec "$bench_ns" "$bench_tmp/$pkg" "$@"
}

netns_bench_cleanup() {
	ip netns del "$bench_ns" 2>/dev/null || true
	local p
	for p in /run/netns/ljbj*; do [ -e "$p" ] && ip netns del "$(basename "$p")" 2>/dev/null; done
	rm -rf "$bench_tmp"
}
