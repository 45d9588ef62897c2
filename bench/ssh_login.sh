#!/usr/bin/env bash
# bench/ssh_login.sh — `loginjail sshd` against Debian's OpenSSH, like with
# like, measured by the shared anchor script ../shared/bench/ssh_login.sh
# in its SSH_TARGET mode (the same client, the same figures for both):
#
#   login   ssh ... true, median of BENCH_RUNS (50), default KEX and
#           KexAlgorithms=curve25519-sha256 pinned
#   bulk    ssh ... 'head -c 1G /dev/zero' > /dev/null, default cipher,
#           chacha20-poly1305 and aes128-gcm
#   conc    BENCH_CONC (100) simultaneous logins, BENCH_CONC_ROUNDS rounds
#   mem     BENCH_MEM_SESSIONS idle sessions (`sleep 600`): RSS/PSS summed
#           over the listener's descendants per session; the "excl. sleep"
#           row is the server side alone (ours: per-connection process +
#           jail init; OpenSSH: its two per-session sshd processes)
#
# Both servers run on loopback with a temp host key, UsePAM yes / the same
# PAM service (sshd), MaxStartups 200, one test user (benchuser, created
# with subordinate ids if missing) and one temp key. Ours runs with a full
# jail and network none (the embedded defaults). The whole comparison runs
# twice: on the host's loopback (with its ~40 ms delayed-ACK stalls, which
# OpenSSH hits and Go's TCP_NODELAY avoids), and inside a private netns
# whose loopback routes have `quickack 1` (no delayed ACK), with lighter
# bulk/conc/mem knobs there unless BENCH_QUICK_FULL=1.
#
# Run as root from anywhere: bash bench/ssh_login.sh
# Knobs: LOGINJAIL_BIN (else built), BENCH_LJ_PORT (2231), BENCH_OSSH_PORT
# (2241), BENCH_SKIP_QUICKACK=1, and the shared script's BENCH_* knobs.
set -uo pipefail

die() { printf 'ssh_login: error: %s\n' "$*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${BENCH_SHARED:-$repo/../shared/bench/ssh_login.sh}
[ -r "$shared" ] || die "no shared benchmark at $shared"
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || die "no sshd (apt-get install openssh-server)"

export BENCH_RUNS=${BENCH_RUNS:-50} BENCH_CONC=${BENCH_CONC:-100} BENCH_USER=${BENCH_USER:-benchuser}
LJ_PORT=${BENCH_LJ_PORT:-2231}
OSSH_PORT=${BENCH_OSSH_PORT:-2241}
QNS=anb-ljq

work=$(mktemp -d /tmp/anb-ljbench.XXXXXX) || die mktemp
chmod 0711 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$QNS" 2>/dev/null
	[ -f "$work/ak.orig" ] && cp -p "$work/ak.orig" "$AK"
	[ -f "$work/ak.none" ] && rm -f "$AK"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the binary
if [ -n "${LOGINJAIL_BIN:-}" ]; then
	cp "$LOGINJAIL_BIN" "$work/loginjail"
else
	go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
	(cd "$repo" && "$go" build -o "$work/loginjail" ./cmd/loginjail) || die "build failed"
fi
chmod 0755 "$work/loginjail"

# the user, with subordinate ids (the jail needs them) and a usable '*' password field
if ! id "$BENCH_USER" >/dev/null 2>&1; then
	useradd -m -s /bin/bash -p '*' "$BENCH_USER" || die "useradd $BENCH_USER"
fi
grep -q "^$BENCH_USER:" /etc/subuid || usermod --add-subuids 3000000000-3000065535 "$BENCH_USER"
grep -q "^$BENCH_USER:" /etc/subgid || usermod --add-subgids 3000000000-3000065535 "$BENCH_USER"
home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
AK=$home/.ssh/authorized_keys
install -d -m 700 -o "$BENCH_USER" -g "$BENCH_USER" "$home/.ssh"
if [ -f "$AK" ]; then cp -p "$AK" "$work/ak.orig"; else touch "$work/ak.none"; fi
ssh-keygen -q -t ed25519 -N '' -f "$work/id_ed25519" -C anb-ljbench || die "user key"
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey" -C anb-ljbench-host || die "host key"
install -m 600 -o "$BENCH_USER" -g "$BENCH_USER" "$work/id_ed25519.pub" "$AK"
[ -d /run/sshd ] || { mkdir -p -m 0755 /run/sshd; }

# configs
cat >"$work/sshd_config" <<EOF
Port $OSSH_PORT
ListenAddress 127.0.0.1
HostKey $work/hostkey
PidFile $work/sshd.pid
UsePAM yes
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $BENCH_USER
PrintMotd no
PrintLastLog no
X11Forwarding no
UseDNS no
LogLevel ERROR
MaxStartups 200
EOF
/usr/sbin/sshd -t -f "$work/sshd_config" || die "sshd config"
mkdir -p "$work/lj"
cat >"$work/loginjail.toml" <<EOF
[server]
listen = "127.0.0.1:$LJ_PORT"
host_keys = ["$work/hostkey"]
state_dir = "$work/lj/run"
lib_dir = "$work/lj/lib"
pam_service = "sshd"
max_startups = "200"
max_sessions = 10
EOF
"$work/loginjail" check-config --config "$work/loginjail.toml" >/dev/null || die "loginjail config"

# start_servers [NETNS]: both servers, waiting until they listen
start_servers() {
	local pre=() i
	[ -n "${1:-}" ] && pre=(ip netns exec "$1")
	"${pre[@]}" /usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
	OSSH_PID=$!
	"${pre[@]}" "$work/loginjail" sshd --config "$work/loginjail.toml" 2>>"$work/loginjail.log" &
	LJ_PID=$!
	pids+=("$OSSH_PID" "$LJ_PID")
	for ((i = 0; i < 200; i++)); do
		[ "$("${pre[@]}" ss -ltnH "( sport = :$OSSH_PORT or sport = :$LJ_PORT )" | wc -l)" -ge 2 ] && return 0
		sleep 0.05
	done
	die "servers did not listen: $(tail -n 3 "$work/loginjail.log" "$work/sshd.log")"
}
stop_servers() {
	kill "$OSSH_PID" "$LJ_PID" 2>/dev/null
	wait "$OSSH_PID" "$LJ_PID" 2>/dev/null
	sleep 0.5
}

# measure TAG [NETNS] [ENV...]: the shared script against each server
measure() {
	local tag=$1 ns=$2 pre=()
	shift 2
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	for t in openssh:$OSSH_PORT:$OSSH_PID loginjail:$LJ_PORT:$LJ_PID; do
		IFS=: read -r name port pid <<<"$t"
		log "$tag: $name (127.0.0.1:$port)"
		env "$@" SSH_TARGET=127.0.0.1:$port SSH_TARGET_USER="$BENCH_USER" SSH_TARGET_KEY="$work/id_ed25519" \
			SSH_TARGET_PID="$pid" BENCH_SUMMARY="$work/$tag-$name.tsv" \
			"${pre[@]}" bash "$shared" >"$work/$tag-$name.out" 2>&1 || log "$name: shared script exit $?: $(tail -n 2 "$work/$tag-$name.out")"
	done
}

# report TAG: each row of ours next to OpenSSH's, with the ratio of medians
report() {
	local tag=$1 label=${2:-$1}
	printf '\n== %s: loginjail sshd vs OpenSSH (UsePAM yes), medians ==\n' "$label"
	printf '%-52s %12s %12s %8s  %s\n' measurement openssh loginjail ratio unit
	awk -F'\t' '
		function key(m) { gsub(/target 127\.0\.0\.1:[0-9]+/, "target", m); return m }
		FNR == NR { o[key($2)] = $5; on[key($2)] = $8; next }
		{ k = key($2); r = (o[k] + 0 > 0 && $5 + 0 > 0) ? sprintf("%.2f", $5 / o[k]) : "-"
		  printf "%-52s %12s %12s %8s  %s\n", substr(k, 1, 52), o[k], $5, r, $7
		  if (k ~ /conc|mem\/session/) printf "    openssh: %s\n    loginjail: %s\n", on[k], $8 }
	' "$work/$tag-openssh.tsv" "$work/$tag-loginjail.tsv"
}

start_servers
# sanity: ours is jailed
out=$(ssh -p "$LJ_PORT" -i "$work/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o BatchMode=yes -o LogLevel=ERROR "$BENCH_USER@127.0.0.1" 'hostname; readlink /proc/self/ns/pid' </dev/null) ||
	die "cannot log in to loginjail sshd: $(tail -n 5 "$work/loginjail.log")"
log "loginjail session: $(echo "$out" | tr '\n' ' ') (host pid ns $(readlink /proc/self/ns/pid))"
measure loopback ""
stop_servers
report loopback

if [ -z "${BENCH_SKIP_QUICKACK:-}" ]; then
	ip netns del "$QNS" 2>/dev/null
	ip netns add "$QNS" && ip -n "$QNS" link set lo up &&
		ip -n "$QNS" route change local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1 &&
		ip -n "$QNS" route change local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1 ||
		die "netns $QNS setup"
	start_servers "$QNS"
	if [ -n "${BENCH_QUICK_FULL:-}" ]; then
		measure quickack "$QNS"
	else
		measure quickack "$QNS" BENCH_BULK_RUNS=2 BENCH_CONC_ROUNDS=2 BENCH_MEM_SESSIONS=10
	fi
	stop_servers
	report quickack "quickack (no delayed ACK)"
fi
if [ -n "${BENCH_OUT:-}" ]; then
	mkdir -p "$BENCH_OUT" && cp "$work"/*.tsv "$work"/*.out "$BENCH_OUT"/
fi
