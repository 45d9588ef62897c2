# bench/lib/cpu_roles.awk — splits a server's CPU by the role of each
# process, from `perf script --show-task-events -F comm,pid,tid,event,ip`
# of a system-wide `perf record -F HZ` (cpu-clock samples).
#
#   awk -v listener=PID -v hz=HZ -v logins=M -f cpu_roles.awk perf-script.txt
#
# A process's role comes from its place under the listener: the listener
# itself; the per-connection process (a child of the listener that
# exec'd); for loginjail the jail init (a process under a per-connection
# process that exec'd the loginjail binary again), "jail setup" for a fork
# of the init that never exec'd (a dial helper now; until the setup moved
# into init's C, the Go setup child of every login), and everything under
# the init (the
# user's shell and command); for OpenSSH every sshd process of the
# connection (privsep children included); any other program a server
# process ran is "helpers" (PAM's, unix_chkpwd, …). Samples of processes
# outside the listener's tree are not counted, but kernel workers
# (kworker, ksoftirqd, rcu, …: namespace teardown runs there) are reported
# machine-wide, since no tree owns them. Each sample is 1/HZ s of CPU; the
# output is ms per login by role, split user / kernel by the sample's
# address, one "role<TAB>user ms<TAB>kernel ms" line each.
function role(p,    q, r) {
	if (p in cache) return cache[p]
	if (p == listener) return cache[p] = "listener"
	if (!(p in parent)) return cache[p] = ""
	q = parent[p]
	r = role(q)
	if (r == "") return cache[p] = ""
	if (r == "listener") return cache[p] = (p in exe) ? "per-connection" : "listener"
	if (r == "per-connection") {
		if (!(p in exe)) return cache[p] = "per-connection"
		if (server == "loginjail" && exe[p] ~ /^(exe$|loginjail|[0-9]+$)/) return cache[p] = "jail init"
		if (server == "openssh" && exe[p] ~ /^sshd/) return cache[p] = "per-connection"
		# OpenSSH's session process execs the user's shell itself
		return cache[p] = (exe[p] ~ /^(bash|sh|dash|true|sleep)$/) ? "user" : "helpers"
	}
	if (r == "jail init") return cache[p] = (p in exe) ? "user" : "jail setup"
	return cache[p] = r
}
# FORK(child_pid:child_tid):(parent_pid:parent_tid) — threads share pid
/PERF_RECORD_FORK/ {
	s = $0
	sub(/.*PERF_RECORD_FORK\(/, "", s)
	split(s, a, /[():]+/)
	if (a[1] != a[3]) parent[a[1]] = a[3]
	next
}
# COMM exec: NAME:pid/tid — the process exec'd NAME
/PERF_RECORD_COMM exec/ {
	s = $0
	sub(/.*PERF_RECORD_COMM exec: /, "", s)
	n = s; sub(/:[0-9]+\/[0-9]+$/, "", n)
	pid = s; sub(/.*:/, "", pid); sub(/\/.*/, "", pid)
	exe[pid] = n
	next
}
/PERF_RECORD/ { next }
# a sample: COMM PID/TID cpu-clock…: IP
{
	for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) break
	if (i > NF) next
	split($i, a, "/")
	comm = $1
	ip = $NF
	kern = (length(ip) >= 16 && substr(ip, 1, 4) == "ffff")
	pid = a[1]
	samples[pid, kern]++
	pids[pid] = 1
	if (pid != 0 && (comm ~ /^(kworker|ksoftirqd|rcu_|migration|kcompactd|khugepaged|kswapd)/)) kw[kern]++
}
END {
	if (server == "") server = "loginjail"
	for (p in pids) {
		r = role(p)
		if (r == "") continue
		u[r] += samples[p, 0]
		k[r] += samples[p, 1]
		order[r] = 1
	}
	n = split("listener,per-connection,jail init,jail setup,helpers,user", names, ",")
	for (i = 1; i <= n; i++) {
		r = names[i]
		if (!(r in order)) continue
		printf "%s\t%.1f\t%.1f\n", r, u[r] * 1000 / hz / logins, k[r] * 1000 / hz / logins
	}
	printf "kernel workers (machine-wide)\t%.1f\t%.1f\n", kw[0] * 1000 / hz / logins, kw[1] * 1000 / hz / logins
}
