#!/usr/bin/env bash
# bench/fw_restore.sh — what surviving `nft flush ruleset` costs: a nat
# login's check, a keeper's check, and the restore of both firewall tables
# with every live session's elements, at 10, 100 and 500 live sessions (see
# bench/fwrestore/main.go). Run as root; arguments go to the benchmark
# (-n N). Everything happens in a throwaway network namespace.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/netns_bench.sh"
netns_bench fw_restore fwrestore "$@"
