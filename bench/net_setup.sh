#!/usr/bin/env bash
# bench/net_setup.sh — network setup + teardown cost of a nat jail
# (netpolicy.Attach / Release) next to the same plumbing by `ip -batch`,
# and the per-login firewall change at 10 and 500 live sessions (one shared
# policy, and a policy per session); see
# bench/netsetup/main.go. Run as root from anywhere; arguments go to the
# benchmark (-n N). Everything happens in a throwaway network namespace
# (the "host") and the jail namespaces the benchmark makes: the machine's
# own network is never touched.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/netns_bench.sh"
netns_bench net_setup netsetup "$@"
