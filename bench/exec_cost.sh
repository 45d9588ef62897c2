#!/usr/bin/env bash
# bench/exec_cost.sh — what one exec of the loginjail binaries costs before
# they do anything (`loginjail version`, and loginjail-session with no
# verb: the Go runtime's start-up and every package init), next to a
# hello-world Go program built by the same toolchain in the same run. A
# login execs loginjail-session twice (the per-connection process, whose
# Go runtime runs every package init, and the jail init, which runs only
# its C constructor), so this is a floor of every login's CPU. Prints CPU ms per exec (user + system,
# from the children's rusage), page faults per exec, the ratios to hello,
# and GODEBUG=inittrace=1's package-init totals (ms, bytes, allocations)
# for each binary, a mean of 10. loginjail-session is the one beside
# LOGINJAIL_BIN; a build without one (before it existed) shows "-".
#
#   bash bench/exec_cost.sh [-n N]     (N execs of each, interleaved; 200)
# Knobs: LOGINJAIL_BIN (else bin/loginjail, built with make if missing).
set -euo pipefail

die() { printf 'exec_cost: error: %s\n' "$*" >&2; exit 1; }

N=200
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (try -h)" ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go_bin" ] || die "no Go toolchain"
bin=${LOGINJAIL_BIN:-$repo/bin/loginjail}
if [ ! -x "$bin" ]; then
	make -C "$repo" build >/dev/null || die "make build failed"
fi
sbin=$(dirname "$bin")/loginjail-session
[ -x "$sbin" ] || sbin=""

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The baseline: the same toolchain go.mod pins (GOTOOLCHAIN=auto fetches it).
toolchain=$(awk '$1 == "toolchain" {print $2}' "$repo/go.mod")
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n' >"$tmp/main.go"
printf 'module hello\n\ngo 1.21\n\ntoolchain %s\n' "$toolchain" >"$tmp/go.mod"
(cd "$tmp" && GOTOOLCHAIN=auto CGO_ENABLED=1 "$go_bin" build -o hello .) || die "hello build failed"

# cpu_ms CMD...: user+system ms of the children so far, from /proc/self/stat
# of a subshell that runs CMD N times (fields 16, 17: cutime, cstime).
measure() {
	local tck
	tck=$(getconf CLK_TCK)
	(
		# loginjail-session with no verb exits 2 after its inits
		for ((i = 0; i < N; i++)); do "$@" >/dev/null 2>&1 || :; done
		read -ra f </proc/$BASHPID/stat
		# fields 16/17 (1-based) after the comm field, which has no spaces here
		echo $(((f[15] + f[16]) * 1000 / tck))
	)
}
faults() {
	local total=0 i
	for ((i = 0; i < 20; i++)); do
		total=$((total + $(command time -f %R "$@" 2>&1 >/dev/null | grep -E '^[0-9]+$' | tail -n1)))
	done
	echo $((total / 20))
}

ms_per() { awk -v a="$1" -v n=$((2 * N)) 'BEGIN{printf "%.2f", a/n}'; }
ratio() { if [ "$1" = - ]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; fi; }
inittrace() {
	for ((i = 0; i < 10; i++)); do GODEBUG=inittrace=1 "$@" 2>&1 >/dev/null || :; done |
		awk '/^init /{ms += $5; b += $8; a += $10; n++} END{n /= 10; printf "%d packages, %.1f ms, %d bytes, %d allocs (mean of 10)", n, ms / 10, b / 10, a / 10}'
}

# interleave: half of each, twice, to spread the machine's noise
a1=$(measure "$tmp/hello") b1=$(measure "$bin" version) c1=0
[ -z "$sbin" ] || c1=$(measure "$sbin")
c2=0
[ -z "$sbin" ] || c2=$(measure "$sbin")
b2=$(measure "$bin" version) a2=$(measure "$tmp/hello")
hello=$(ms_per $((a1 + a2)))
ours=$(ms_per $((b1 + b2)))
sess=-
[ -z "$sbin" ] || sess=$(ms_per $((c1 + c2)))

printf '== bench/exec_cost.sh: %s execs of each, %s, %s cores, load %s ==\n' "$((2 * N))" "$(date -u +%FT%TZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %8s %10s %8s %18s %8s\n' measurement hello loginjail ratio loginjail-session ratio
printf '%-28s %8s %10s %8s %18s %8s\n' "CPU ms per exec" "$hello" "$ours" "$(ratio "$ours" "$hello")" "$sess" "$(ratio "$sess" "$hello")"
if command -v time >/dev/null 2>&1 || [ -x /usr/bin/time ]; then
	fh=$(faults "$tmp/hello") fo=$(faults "$bin" version) fs=-
	[ -z "$sbin" ] || fs=$(faults "$sbin")
	printf '%-28s %8s %10s %8s %18s %8s\n' "minor page faults per exec" "$fh" "$fo" "$(ratio "$fo" "$fh")" "$fs" "$(ratio "$fs" "$fh")"
fi
printf '%-28s %s\n' "loginjail init (inittrace)" "$(inittrace "$bin" version)"
[ -z "$sbin" ] || printf '%-28s %s\n' "session init (inittrace)" "$(inittrace "$sbin")"
printf '%-28s %s (%s bytes)\n' "binary" "$bin" "$(stat -c %s "$bin")"
[ -z "$sbin" ] || printf '%-28s %s (%s bytes)\n' "session binary" "$sbin" "$(stat -c %s "$sbin")"
