#!/usr/bin/env bash
# bench/scale.sh — what a session costs at scale, `loginjail sshd` next to
# Debian's OpenSSH in one run (issue 17's table):
#
#   idle    for each N of -n (e.g. 100,300,600): N idle sessions
#           (`ssh … 'sleep 1800'`, spread over -u users) held on each server;
#           per session: MemAvailable drop, server-side PSS (every process in
#           the server's cpuacct cgroup but the listener and the user's
#           sleep; ours split into per-connection process and jail init),
#           threads, and the kernel's Slab / KernelStack / PageTables growth
#           (/proc/meminfo). With the N open: tasks per session (the host's
#           tasks against pid_max, MemAvailable), one more login (its exit
#           status; issue 17: 1000 held, logins still working) and, for ours,
#           the sessions `loginjail ps` lists. After each round closes: the
#           listener's PSS, labelled with the sessions it has served so far
#           (100 → 400 → 1000), and, for ours, what is left (sessions in ps,
#           registry records, session processes, jail cgroups, the listener's
#           mounts; all but mounts should be 0, mounts as before).
#   logins  for each C of -c: M (-m) logins of `ssh … true`, C at once:
#           CPU ms per login from the server's own cpuacct cgroup (listener,
#           per-connection processes, PAM, jails, the user's shell), logins/s
#           over the wall time, failures. -r repeats it.
#   listener  -L N (0 skips): logins of `ssh … true` (10 at once) until each
#           server has served 100, before the rounds above; after them, more
#           until it has served N (the rounds' sessions count): the
#           listener's PSS at both points and their ratio (issue 17: within
#           10%), with its threads.
#   profile --profile: each server's first logins round at each C runs under
#           a system-wide `perf record` (cpu-clock, BENCH_PERF_HZ 997); its
#           CPU per login is split by the role of each process (listener,
#           per-connection, jail init, jail setup, helpers, the user's
#           shell), user and kernel apart, with the machine's kernel
#           workers beside (bench/lib/cpu_roles.awk). Needs perf.
#   start   bench/jail_start.sh (-j N iterations; 0 skips): jail start to
#           `true` exit next to bare `unshare`.
#   bulk    --shared: also runs the shared OpenSSH harness
#           (../shared/bench/ssh_login.sh) in its SSH_TARGET mode against both
#           servers: login latency, bulk MB/s by cipher (chacha20-poly1305,
#           aes128-gcm), 50-way concurrency, its own memory figures.
#
# Both servers run side by side from one temp host key, UsePAM yes with the
# same PAM service (sshd), MaxStartups 200, KexAlgorithms=curve25519-sha256
# pinned on the client. Both run inside a private netns whose loopback routes
# have `quickack 1` (no delayed-ACK stalls for either; --no-quickack runs
# both on the host's loopback instead), each in a cpuacct cgroup of its own.
# Ours runs with a full jail and network none (the embedded defaults).
#
# -n 0 skips the idle rounds (logins and jail start only).
# Quick default: bash bench/scale.sh   (-n 20 -m 40 -c 10 -u 2 -j 20)
# The issue's sizes: bash bench/scale.sh -n 100,300,600 -m 300 -c 10,50 -r 2 -u 10 -j 100 --shared
# Users benchuser, benchuser1..K-1 are created (with subordinate ids) if
# missing and left in place, as the shared harness leaves benchuser; their
# authorized_keys are restored on exit. Run as root, under
# `flock /tmp/loginjail-e2e.lock` on a shared machine.
# Knobs: LOGINJAIL_BIN (else built; its loginjail-session comes along), BENCH_LJ_PORT (2232),
# BENCH_OSSH_PORT (2242), BENCH_SHARED (path of the shared harness), BENCH_OUT (a directory that
# keeps the results, logs and --profile's perf data), BENCH_SETTLE (seconds before a
# memory reading, 3).
set -uo pipefail

die() { printf 'scale: error: %s\n' "$*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

NS_LIST=20 M=40 C_LIST=10 ROUNDS=1 NUSERS=2 JAIL_N=20 QUICKACK=1 SHARED=0 LSERVE=0 PROFILE=0
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	-n) NS_LIST=$2; shift 2 ;;
	-m) M=$2; shift 2 ;;
	-c) C_LIST=$2; shift 2 ;;
	-r) ROUNDS=$2; shift 2 ;;
	-u) NUSERS=$2; shift 2 ;;
	-j) JAIL_N=$2; shift 2 ;;
	-L) LSERVE=$2; shift 2 ;;
	--shared) SHARED=1; shift ;;
	--profile) PROFILE=1; shift ;;
	--no-quickack) QUICKACK=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument $1 (try -h)" ;;
	esac
done
for v in "$M" "$ROUNDS" "$NUSERS" "$JAIL_N" "$LSERVE" ${NS_LIST//,/ } ${C_LIST//,/ }; do
	[[ $v =~ ^[0-9]+$ ]] || die "not a number: $v"
done
[ "$NUSERS" -ge 1 ] && [ "$NUSERS" -le 50 ] || die "-u must be 1..50"

[ "$(id -u)" -eq 0 ] || die "must run as root"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${BENCH_SHARED:-$repo/../shared/bench/ssh_login.sh}
[ -x /usr/sbin/sshd ] || die "no sshd (apt-get install openssh-server)"
[ -d /sys/fs/cgroup/cpuacct ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no cpuacct cgroup hierarchy"
[ "$PROFILE" = 0 ] || command -v perf >/dev/null || die "--profile needs perf (apt-get install linux-perf)"
PERF_HZ=${BENCH_PERF_HZ:-997}
LJ_PORT=${BENCH_LJ_PORT:-2232}
OSSH_PORT=${BENCH_OSSH_PORT:-2242}
SETTLE=${BENCH_SETTLE:-3}
QNS=anb-ljscale

work=$(mktemp -d /tmp/anb-ljscale.XXXXXX) || die mktemp
chmod 0711 "$work"
RES=$work/results.tsv
: >"$RES"

# cgroups: cpuacct (v1) or a v2 directory, one per server
if [ -d /sys/fs/cgroup/cpuacct ]; then
	CGROOT=/sys/fs/cgroup/cpuacct
else
	CGROOT=/sys/fs/cgroup
fi
cg_dir() { echo "$CGROOT/anb-scale-$1"; }
# cg_cpu_ns NAME: CPU time of the cgroup so far, in ns
cg_cpu_ns() {
	local d; d=$(cg_dir "$1")
	if [ -f "$d/cpuacct.usage" ]; then cat "$d/cpuacct.usage"; else awk '$1 == "usage_usec" {print $2 * 1000}' "$d/cpu.stat"; fi
}
cg_procs() { cat "$(cg_dir "$1")/cgroup.procs" 2>/dev/null; }

SERVER_PIDS=()
ORIG_AK=()
cleanup() {
	local p n
	for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	# what the servers' cgroups still hold (sessions of an interrupted run): ours only
	for n in loginjail openssh; do
		for p in $(cg_procs "$n"); do kill -KILL "$p" 2>/dev/null; done
	done
	sleep 0.5
	for n in loginjail openssh; do rmdir "$(cg_dir "$n")" 2>/dev/null; done
	ip netns del "$QNS" 2>/dev/null
	for a in "${ORIG_AK[@]}"; do
		IFS='|' read -r ak saved <<<"$a"
		if [ "$saved" = none ]; then rm -f "$ak"; else cp -p "$saved" "$ak"; fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the binaries: loginjail and, beside it, the loginjail-session its
# listener execs per login (a build from before the split has none)
if [ -n "${LOGINJAIL_BIN:-}" ]; then
	cp "$LOGINJAIL_BIN" "$work/loginjail" || die "copy $LOGINJAIL_BIN"
	sess=$(dirname "$LOGINJAIL_BIN")/loginjail-session
	if [ -e "$sess" ]; then
		cp "$sess" "$work/loginjail-session" || die "copy $sess"
	fi
else
	go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
	(cd "$repo" && "$go" build -o "$work/loginjail" ./cmd/loginjail &&
		"$go" build -o "$work/loginjail-session" ./cmd/loginjail-session) || die "build failed"
fi
chmod 0755 "$work"/loginjail*

# the users, each with subordinate ids and the temp key
ssh-keygen -q -t ed25519 -N '' -f "$work/id_ed25519" -C anb-ljscale || die "user key"
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey" -C anb-ljscale-host || die "host key"
USERS=()
for ((i = 0; i < NUSERS; i++)); do
	u=benchuser
	[ "$i" -gt 0 ] && u=benchuser$i
	if ! id "$u" >/dev/null 2>&1; then
		useradd -m -s /bin/bash -p '*' "$u" || die "useradd $u"
	fi
	grep -q "^$u:" /etc/subuid || usermod --add-subuids "$((3000000000 + i * 65536))-$((3000000000 + i * 65536 + 65535))" "$u"
	grep -q "^$u:" /etc/subgid || usermod --add-subgids "$((3000000000 + i * 65536))-$((3000000000 + i * 65536 + 65535))" "$u"
	home=$(getent passwd "$u" | cut -d: -f6)
	ak=$home/.ssh/authorized_keys
	install -d -m 700 -o "$u" -g "$u" "$home/.ssh"
	if [ -f "$ak" ]; then
		cp -p "$ak" "$work/ak.$u" && ORIG_AK+=("$ak|$work/ak.$u")
	else
		ORIG_AK+=("$ak|none")
	fi
	install -m 600 -o "$u" -g "$u" "$work/id_ed25519.pub" "$ak"
	USERS+=("$u")
done
USER_CSV=$(IFS=,; echo "${USERS[*]}")
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd

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
AllowUsers ${USERS[*]}
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
EOF
"$work/loginjail" check-config --config "$work/loginjail.toml" >/dev/null || die "loginjail config"

PRE=()
if [ "$QUICKACK" = 1 ]; then
	ip netns del "$QNS" 2>/dev/null
	ip netns add "$QNS" && ip -n "$QNS" link set lo up &&
		ip -n "$QNS" route change local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1 &&
		ip -n "$QNS" route change local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1 ||
		die "netns $QNS setup"
	PRE=(ip netns exec "$QNS")
fi

# start_server NAME: NAME's server in a cpuacct cgroup of its own (joined
# before `ip netns exec`, whose fresh /sys has no cgroup mounts); sets PID_<name>
start_server() {
	local name=$1 d i port
	d=$(cg_dir "$name")
	mkdir -p "$d" || die "mkdir $d"
	case $name in
	openssh)
		port=$OSSH_PORT
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$d" \
			"${PRE[@]}" /usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
		;;
	loginjail)
		port=$LJ_PORT
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$d" \
			"${PRE[@]}" "$work/loginjail" sshd --config "$work/loginjail.toml" 2>>"$work/loginjail.log" &
		;;
	esac
	SERVER_PIDS+=($!)
	printf -v "PID_$name" '%s' $!
	for ((i = 0; i < 200; i++)); do
		"${PRE[@]}" ss -ltnH "sport = :$port" | grep -q LISTEN && return 0
		sleep 0.05
	done
	die "$name did not listen: $(tail -n 3 "$work/loginjail.log" "$work/sshd.log" 2>/dev/null)"
}
port_of() { if [ "$1" = openssh ]; then echo "$OSSH_PORT"; else echo "$LJ_PORT"; fi; }
# ssh_to NAME USER CMD...: one client login
ssh_to() {
	local name=$1 u=$2
	shift 2
	"${PRE[@]}" ssh -p "$(port_of "$name")" -i "$work/id_ed25519" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR \
		-o KexAlgorithms=curve25519-sha256 "$u@127.0.0.1" "$@"
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; } # server row value note
mem_kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
user_sleeps() { pgrep -x -U "$USER_CSV" sleep; }
host_tasks() { cat /proc/[0-9]*/status 2>/dev/null | awk '$1 == "Threads:" {n += $2} END {print n}'; }
# what loginjail holds: sessions it lists, registry records, processes in
# its cgroup but the listener, jail cgroups (this host's, any run's: the
# e2e lock keeps other runs away), mounts in the listener's namespace
lj_sessions() { "$work/loginjail" ps --config "$work/loginjail.toml" 2>/dev/null | tail -n +2 | wc -l; }
lj_left() {
	local cg
	cg=$(find /sys/fs/cgroup/*/loginjail -mindepth 1 -type d 2>/dev/null | wc -l)
	echo "$(lj_sessions)/$(find "$work/lj/run" -name '*.json' 2>/dev/null | wc -l)/$(($(cg_procs loginjail | wc -l) - 1))/$cg/$(wc -l <"/proc/$PID_loginjail/mountinfo")"
}
pss_kb() { awk '/^Pss:/ {print $2; f=1} END {if (!f) print 0}' /proc/"$1"/smaps_rollup 2>/dev/null || echo 0; }
# kind PID: what a server-side process is (by its argv)
kind() {
	local a
	a=$(tr '\0' ' ' </proc/"$1"/cmdline 2>/dev/null) || return
	case $a in
	"loginjail sshd-conn"* | "loginjail-session sshd-conn"*) echo conn ;;
	*"loginjail init"* | "init "*) echo init ;;
	sshd:*) echo sshd ;;
	*) echo "other:$(cut -c1-20 <<<"$a")" ;;
	esac
}

# idle NAME N SERVED: N idle sessions on NAME; SERVED is the running total
idle() {
	local name=$1 n=$2 served=$3 lpid i up pids=() before_av before_slab before_ks before_pt
	lpid=PID_$name
	lpid=${!lpid}
	sleep "$SETTLE"
	before_av=$(mem_kb MemAvailable) before_slab=$(mem_kb Slab) before_ks=$(mem_kb KernelStack) before_pt=$(mem_kb PageTables)
	cp /proc/slabinfo "$work/slabinfo.$name.$n.before"
	log "$name: opening $n idle sessions"
	for ((i = 0; i < n; i++)); do
		ssh_to "$name" "${USERS[i % NUSERS]}" 'sleep 1800' </dev/null >/dev/null 2>>"$work/idle.err" &
		pids+=($!)
		# at most 10 logins in flight, as the issue's operator did
		if ((i % 10 == 9)); then
			for ((w = 0; w < 600; w++)); do
				up=$(user_sleeps | wc -l)
				[ "$up" -ge $((i + 1 - 2)) ] && break
				sleep 0.1
			done
		fi
	done
	for ((w = 0; w < 600; w++)); do
		up=$(user_sleeps | wc -l)
		[ "$up" -ge "$n" ] && break
		sleep 0.1
	done
	sleep "$SETTLE"
	local av slab ks pt pss_conn=0 pss_init=0 pss_other=0 thr=0 nproc=0 p k s
	av=$(mem_kb MemAvailable) slab=$(mem_kb Slab) ks=$(mem_kb KernelStack) pt=$(mem_kb PageTables)
	cp /proc/slabinfo "$work/slabinfo.$name.$n.held"
	for p in $(cg_procs "$name"); do
		[ "$p" = "$lpid" ] && continue
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = sleep ] && continue
		k=$(kind "$p") || continue
		s=$(pss_kb "$p")
		nproc=$((nproc + 1))
		thr=$((thr + $(awk '/^Threads:/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)))
		case $k in
		conn | sshd) pss_conn=$((pss_conn + s)) ;;
		init) pss_init=$((pss_init + s)) ;;
		*) pss_other=$((pss_other + s)) ;;
		esac
	done
	local d=$n
	local split=""
	[ "$name" = loginjail ] && split="conn $((pss_conn / d)), init $((pss_init / d)), other $((pss_other / d)) KiB"
	record "$name" "idle $n: sessions up" "$up" "of $n"
	record "$name" "idle $n: MemAvailable drop/session KiB" $(((before_av - av) / d)) ""
	record "$name" "idle $n: server PSS/session KiB" $(((pss_conn + pss_init + pss_other) / d)) "$split"
	record "$name" "idle $n: processes/session (excl. sleep)" "$(awk -v a="$nproc" -v b="$d" 'BEGIN{printf "%.1f", a/b}')" ""
	record "$name" "idle $n: threads/session (excl. sleep)" "$(awk -v a="$thr" -v b="$d" 'BEGIN{printf "%.1f", a/b}')" ""
	record "$name" "idle $n: kernel Slab/session KiB" $(((slab - before_slab) / d)) \
		"top: $(awk -v n="$d" -v top=8 -f "$here/lib/slab_top.awk" "$work/slabinfo.$name.$n.before" "$work/slabinfo.$name.$n.held")"
	record "$name" "idle $n: kernel KernelStack/session KiB" $(((ks - before_ks) / d)) ""
	record "$name" "idle $n: kernel PageTables/session KiB" $(((pt - before_pt) / d)) ""
	record "$name" "idle $n: listener PSS KiB (sessions open)" "$(pss_kb "$lpid")" ""
	# with N open: tasks (the kernel's pid_max bounds them), what is left
	# of memory, and one more login still works (issue 17: 1000 held)
	record "$name" "idle $n: tasks/session (incl. sleep)" "$(awk -v a="$((thr + up))" -v b="$d" 'BEGIN{printf "%.1f", a/b}')" \
		"host: $(host_tasks) tasks of pid_max $(cat /proc/sys/kernel/pid_max), MemAvailable $(mem_kb MemAvailable) KiB"
	local t0 rc
	t0=${EPOCHREALTIME/./}
	ssh_to "$name" "${USERS[0]}" true </dev/null >/dev/null 2>>"$work/idle.err"
	rc=$?
	record "$name" "idle $n: one more login, exit status" "$rc" "$(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
	[ "$name" = loginjail ] && record "$name" "idle $n: sessions in loginjail ps" "$(lj_sessions)" ""

	# close: end the sleeps (ours, by pid), then the clients
	log "$name: closing"
	for p in $(user_sleeps); do kill "$p" 2>/dev/null; done
	for ((w = 0; w < 300; w++)); do
		up=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { up=1; break; }; done
		[ $up = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait "${pids[@]}" 2>/dev/null
	wait_drained "$name"
	sleep "$SETTLE"
	record "$name" "listener PSS KiB after $served sessions closed" "$(pss_kb "$lpid")" \
		"RSS $(awk '/^VmRSS:/ {print $2}' /proc/"$lpid"/status) KiB, $(awk '/^Threads:/ {print $2}' /proc/"$lpid"/status) threads"
	[ "$name" = loginjail ] && record "$name" "idle $n: left after closing" "$(lj_left)" \
		"sessions in ps, registry files, session processes, jail cgroups, listener mounts (before: $LJ_LEFT0)"
}

# wait_drained NAME: until NAME's cgroup holds its listener alone
wait_drained() {
	local w
	for ((w = 0; w < 600; w++)); do
		[ "$(cg_procs "$1" | wc -l)" -le 1 ] && return 0
		sleep 0.1
	done
	log "$1: $(($(cg_procs "$1" | wc -l) - 1)) session processes still there after 60 s"
}

# logins NAME C ROUND: M logins of `ssh … true`, C at once
logins() {
	local name=$1 c=$2 r=$3 cpu0 cpu1 t0 t1 fails
	wait_drained "$name"
	: >"$work/logins.rc"
	export -f ssh_to port_of
	export work OSSH_PORT LJ_PORT
	local perf=
	if [ "$PROFILE" = 1 ] && [ "$r" = 1 ]; then
		perf record -q -a -F "$PERF_HZ" -o "$work/perf-$name-$c.data" >/dev/null 2>&1 &
		perf=$!
		sleep 1
	fi
	cpu0=$(cg_cpu_ns "$name")
	t0=${EPOCHREALTIME/./}
	for ((i = 0; i < M; i++)); do echo "${USERS[i % NUSERS]}"; done |
		xargs -P "$c" -I{} "${PRE[@]}" bash -c 'PRE=(); ssh_to "$1" {} true </dev/null >/dev/null 2>>"$work/logins.err"; echo $? >>"$work/logins.rc"' _ "$name"
	t1=${EPOCHREALTIME/./}
	wait_drained "$name"
	cpu1=$(cg_cpu_ns "$name")
	[ -z "$perf" ] || profile "$name" "$c" "$perf"
	fails=$(grep -vc '^0$' "$work/logins.rc")
	record "$name" "logins c=$c: CPU ms/login (round $r)" "$(awk -v a="$cpu0" -v b="$cpu1" -v m="$M" 'BEGIN{printf "%.1f", (b-a)/1e6/m}')" ""
	record "$name" "logins c=$c: logins/s (round $r)" "$(awk -v m="$M" -v f="$fails" -v t=$((t1 - t0)) 'BEGIN{printf "%.2f", (m-f)/(t/1e6)}')" ""
	record "$name" "logins c=$c: failures (round $r)" "$fails" "of $M"
	SERVED[$name]=$((SERVED[$name] + M))
}

# profile NAME C PERFPID: stops the round's perf record and records its
# CPU per login by role
profile() {
	local name=$1 c=$2 lpid role u k
	kill -INT "$3" && wait "$3"
	lpid=PID_$name
	lpid=${!lpid}
	while IFS=$'\t' read -r role u k; do
		record "$name" "c=$c CPU ms/login: $role" "$(awk -v u="$u" -v k="$k" 'BEGIN{printf "%.1f", u + k}')" "user $u, kernel $k"
	done < <(perf script -i "$work/perf-$name-$c.data" --show-task-events -F comm,pid,tid,event,ip 2>/dev/null |
		awk -v listener="$lpid" -v hz="$PERF_HZ" -v logins="$M" -v server="$name" -f "$here/lib/cpu_roles.awk")
	[ -n "${BENCH_OUT:-}" ] && mkdir -p "$BENCH_OUT" && cp "$work/perf-$name-$c.data" "$BENCH_OUT"/
	rm -f "$work/perf-$name-$c.data"
}

# serve_to NAME TARGET: logins of `ssh … true`, 10 at once, until NAME has
# served TARGET sessions; then the listener's PSS and threads
serve_to() {
	local name=$1 target=$2 n lpid fails
	lpid=PID_$name
	lpid=${!lpid}
	n=$((target - SERVED[$name]))
	if [ "$n" -gt 0 ]; then
		log "$name: $n logins to reach $target served"
		: >"$work/serve.rc"
		export -f ssh_to port_of
		export work OSSH_PORT LJ_PORT
		for ((i = 0; i < n; i++)); do echo "${USERS[i % NUSERS]}"; done |
			xargs -P 10 -I{} "${PRE[@]}" bash -c 'PRE=(); ssh_to "$1" {} true </dev/null >/dev/null 2>>"$work/logins.err"; echo $? >>"$work/serve.rc"' _ "$name"
		fails=$(grep -vc '^0$' "$work/serve.rc")
		SERVED[$name]=$target
		[ "$fails" -gt 0 ] && log "$name: $fails of $n logins failed"
	fi
	wait_drained "$name"
	sleep "$SETTLE"
	LPSS[$name,$target]=$(pss_kb "$lpid")
	record "$name" "listener: PSS KiB after $target served" "${LPSS[$name,$target]}" \
		"$(awk '/^Threads:/ {print $2}' /proc/"$lpid"/status) threads"
}

start_server openssh
start_server loginjail
out=$(ssh_to loginjail "${USERS[0]}" 'readlink /proc/self/ns/pid' </dev/null) ||
	die "cannot log in to loginjail sshd: $(tail -n 5 "$work/loginjail.log")"
[ "$out" != "$(readlink /proc/self/ns/pid)" ] || die "loginjail session is not in a pid namespace of its own"
ssh_to openssh "${USERS[0]}" true </dev/null || die "cannot log in to OpenSSH: $(tail -n 5 "$work/sshd.log")"
wait_drained loginjail
wait_drained openssh
for n in openssh loginjail; do
	pid=PID_$n
	record "$n" "listener PSS KiB at start (1 login served)" "$(pss_kb "${!pid}")" ""
done
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
record host "load average at start" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" ""

LJ_LEFT0=$(lj_left)
declare -A SERVED=([openssh]=1 [loginjail]=1) LPSS=()
if [ "$LSERVE" -gt 0 ]; then
	for name in openssh loginjail; do serve_to "$name" 100; done
fi
# idle rounds, the servers taking turns
for n in ${NS_LIST//,/ }; do
	[ "$n" -gt 0 ] || continue # -n 0: no idle round
	for name in openssh loginjail; do
		SERVED[$name]=$((SERVED[$name] + n))
		idle "$name" "$n" "${SERVED[$name]}"
	done
done
# logins
for ((r = 1; r <= ROUNDS; r++)); do
	for c in ${C_LIST//,/ }; do
		for name in openssh loginjail; do
			log "$name: $M logins, $c at once (round $r)"
			logins "$name" "$c" "$r"
		done
	done
done
# the listener's PSS after 100 and after LSERVE served
if [ "$LSERVE" -gt 0 ]; then
	for name in openssh loginjail; do
		last=$((SERVED[$name] > LSERVE ? SERVED[$name] : LSERVE))
		serve_to "$name" "$last"
		record "$name" "listener: PSS after $last / after 100 served" \
			"$(awk -v a="${LPSS[$name,$last]}" -v b="${LPSS[$name,100]}" 'BEGIN{printf "%.3f", a/b}')" ""
	done
fi
for name in openssh loginjail; do
	pid=PID_$name
	record "$name" "listener PSS KiB at the end" "$(pss_kb "${!pid}")" ""
done

# the shared harness: login latency, bulk by cipher, its concurrency and memory
if [ "$SHARED" = 1 ]; then
	for name in openssh loginjail; do
		pid=PID_$name
		log "$name: shared harness (SSH_TARGET)"
		"${PRE[@]}" env BENCH_RUNS=${BENCH_RUNS:-10} BENCH_BULK_RUNS=${BENCH_BULK_RUNS:-3} BENCH_CONC_ROUNDS=${BENCH_CONC_ROUNDS:-1} \
			BENCH_MEM_SESSIONS=${BENCH_MEM_SESSIONS:-10} BENCH_NO_INSTALL=1 BENCH_USER="${USERS[0]}" \
			SSH_TARGET=127.0.0.1:$(port_of "$name") SSH_TARGET_USER="${USERS[0]}" SSH_TARGET_KEY="$work/id_ed25519" \
			SSH_TARGET_PID="${!pid}" BENCH_SUMMARY="$work/shared-$name.tsv" \
			bash "$shared" >"$work/shared-$name.out" 2>&1 || log "$name: shared harness exit $?: $(tail -n 2 "$work/shared-$name.out")"
		awk -F'\t' -v s="$name" '{ k = $2; gsub(/target 127\.0\.0\.1:[0-9]+/, "target", k)
			printf "%s\tshared: %s (%s)\t%s\t%s\n", s, k, $7, $5, $8 }' "$work/shared-$name.tsv" >>"$RES"
	done
fi

for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
SERVER_PIDS=()

if [ "$JAIL_N" -gt 0 ]; then
	log "jail start (bench/jail_start.sh -n $JAIL_N)"
	bash "$here/jail_start.sh" -n "$JAIL_N" >"$work/jailstart.out" 2>&1 || log "jail_start failed: $(tail -n 3 "$work/jailstart.out")"
fi
record host "load average at the end" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" ""

# the table: each row of ours next to OpenSSH's, with the ratio
printf '\n== bench/scale.sh: loginjail sshd vs OpenSSH (UsePAM yes, curve25519-sha256, %s), %s, %s cores ==\n' \
	"$([ "$QUICKACK" = 1 ] && echo 'quickack netns' || echo 'host loopback')" "$(date -u +%FT%TZ)" "$(nproc)"
printf '%-52s %12s %12s %7s  %s\n' measurement openssh loginjail ratio note
awk -F'\t' '
	$1 == "host" { host[++h] = sprintf("%-52s %12s", $2, $3); next }
	{ if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
	  v[$1, $2] = $3; if ($4 != "") note[$2] = note[$2] (note[$2] != "" ? "; " : "") $1 ": " $4 }
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]; o = v["openssh", k]; l = v["loginjail", k]
			r = (o + 0 > 0 && l != "") ? sprintf("%.2f", l / o) : "-"
			printf "%-52s %12s %12s %7s  %s\n", substr(k, 1, 52), o, l, r, note[k]
		}
		for (i = 1; i <= h; i++) print host[i]
	}' "$RES"
if [ -s "$work/jailstart.out" ]; then
	printf '\n-- bench/jail_start.sh -n %s --\n' "$JAIL_N"
	cat "$work/jailstart.out"
fi
if [ -n "${BENCH_OUT:-}" ]; then
	mkdir -p "$BENCH_OUT" && cp "$RES" "$work"/*.out "$work"/*.log "$work"/slabinfo.* "$BENCH_OUT"/ 2>/dev/null
fi
true
