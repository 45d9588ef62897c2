#!/usr/bin/env bash
# bench/record.sh — what session recording costs: bulk throughput of
#
#   ssh ... 'head -c 1G /dev/zero' > /dev/null
#
# through `loginjail sshd` with [jail] record = "none" and record = "all",
# in the same run, on loopback, the two servers interleaved round by round
# (BENCH_RUNS rounds, default 3; the median is printed). With "all" the
# command's output is recorded as <n>.cast until record_max_size (default
# 100M: the rest of the gigabyte is only counted against the cap and
# dropped); BENCH_MAX_SIZE sets the cap ("0" = none: every byte recorded).
#
# Run as root, under the shared e2e lock:
#   flock /tmp/loginjail-e2e.lock bash bench/record.sh
# Knobs: LOGINJAIL_BIN (else built), BENCH_RUNS, BENCH_MAX_SIZE,
# BENCH_PORT (2251; +1 for the second server), BENCH_USER (benchuser).
set -uo pipefail

die() { printf 'record: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${BENCH_RUNS:-3}
MAX=${BENCH_MAX_SIZE:-100M}
PORT=${BENCH_PORT:-2251}
USER_=${BENCH_USER:-benchuser}

work=$(mktemp -d /tmp/ljbench-rec.XXXXXX) || die mktemp
chmod 0711 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -f "$work/ak.orig" ] && cp -p "$work/ak.orig" "$AK"
	[ -f "$work/ak.none" ] && rm -f "$AK"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${LOGINJAIL_BIN:-}" ]; then
	cp "$LOGINJAIL_BIN" "$work/loginjail"
else
	(cd "$repo" && go build -o "$work/loginjail" ./cmd/loginjail) || die "build failed"
fi

if ! id "$USER_" >/dev/null 2>&1; then
	useradd -m -s /bin/bash -p '*' "$USER_" || die "useradd $USER_"
fi
grep -q "^$USER_:" /etc/subuid || usermod --add-subuids 3000000000-3000065535 "$USER_"
grep -q "^$USER_:" /etc/subgid || usermod --add-subgids 3000000000-3000065535 "$USER_"
home=$(getent passwd "$USER_" | cut -d: -f6)
AK=$home/.ssh/authorized_keys
install -d -m 700 -o "$USER_" -g "$USER_" "$home/.ssh"
if [ -f "$AK" ]; then cp -p "$AK" "$work/ak.orig"; else touch "$work/ak.none"; fi
ssh-keygen -q -t ed25519 -N '' -f "$work/id" -C ljbench-rec || die "user key"
install -m 600 -o "$USER_" -g "$USER_" "$work/id.pub" "$AK"

# one server per mode
start() { # mode port
	local d=$work/$1
	mkdir -p "$d"
	cat > "$d/loginjail.toml" <<-TOML
	[server]
	listen = "127.0.0.1:$2"
	state_dir = "$d/run"
	lib_dir = "$d/lib"
	record_dir = "$d/rec"
	pam_service = "sshd"
	[jail]
	record = "$1"
	record_max_size = "$MAX"
	TOML
	"$work/loginjail" sshd --config "$d/loginjail.toml" > "$d/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do grep -q sshd.listen "$d/log" && return; sleep 0.1; done
	die "server $1 did not start: $(cat "$d/log")"
}
start none "$PORT"
start all $((PORT + 1))

ssh_args=(-F /dev/null -i "$work/id" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
# seconds for one gigabyte
run() { # port
	local t0 t1
	t0=$(date +%s.%N)
	ssh "${ssh_args[@]}" -p "$1" "$USER_@127.0.0.1" 'head -c 1G /dev/zero' > /dev/null || die "ssh to port $1 failed"
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
declare -a none all
for i in $(seq "$RUNS"); do
	none+=("$(run "$PORT")")
	all+=("$(run $((PORT + 1)))")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mn=$(median "${none[@]}")
ma=$(median "${all[@]}")
printf 'bulk 1G, %s rounds (median), record_max_size %s\n' "$RUNS" "$MAX"
printf '  record = "none": %6.2f s  %7.1f MB/s\n' "$mn" "$(echo "1024 / $mn" | bc -l)"
printf '  record = "all":  %6.2f s  %7.1f MB/s\n' "$ma" "$(echo "1024 / $ma" | bc -l)"
printf '  recorded: %s\n' "$(du -sh "$work/all/rec" | cut -f1)"
