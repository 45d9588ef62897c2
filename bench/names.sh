#!/usr/bin/env bash
# bench/names.sh — what egress by name adds to a login (the jail's own
# resolver started and stopped, its redirect elements) and to one DNS
# lookup (through the jail's resolver, the answer's address added to
# nftables first), next to the CIDR-only path in the same run; see
# bench/names/main.go. Run as root from anywhere; arguments go to the
# benchmark (-n N). Everything happens in a throwaway network namespace
# (the "host") and the jail namespaces the benchmark makes: the machine's
# own network is never touched.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/netns_bench.sh"
netns_bench names names "$@"
