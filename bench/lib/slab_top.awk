# bench/lib/slab_top.awk — which slab caches grew between two snapshots of
# /proc/slabinfo, per session: where a server's kernel Slab row goes.
#   awk -v n=SESSIONS -v top=K -f slab_top.awk BEFORE HELD
# prints "cache KiB, cache KiB, ..." for the K caches that grew most
# (KiB per session, from active objects times object size).
FNR == 1 { file++ }
FNR <= 2 { next } # version line and header
{
	kib = $2 * $4 / 1024
	if (file == 1) before[$1] += kib
	else held[$1] += kib
}
END {
	for (c in held) d[c] = (held[c] - before[c]) / n
	out = ""
	for (i = 0; i < top; i++) {
		best = ""
		for (c in d) if (best == "" || d[c] > d[best]) best = c
		if (best == "" || d[best] <= 0) break
		out = out (out == "" ? "" : ", ") sprintf("%s %.1f", best, d[best])
		delete d[best]
	}
	print out
}
