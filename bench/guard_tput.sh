#!/usr/bin/env bash
# bench/guard_tput.sh — what the guard (netpolicy/guard_prog.go: tc
# programs on each nat jail's veth) costs a jail's traffic: TCP throughput
# and connection rate from a jail through the host to an upstream
# namespace, guard on vs off, interleaved; see bench/guardtput/main.go.
# Run as root; arguments go to the benchmark (-r ROUNDS -bytes N -conns N).
# Everything happens in throwaway network namespaces.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/netns_bench.sh"
netns_bench guard_tput guardtput "$@"
