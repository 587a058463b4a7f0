#!/usr/bin/env bash
# The soak of issue 8 (item 4) in one command: vfex as a VN-Tag port extender
# from a configuration file (4 vEths with MAC anti-spoof, a 16-rule ACL, an
# srTCM policer, counters; VM ports and uplink on net_memif), driven by
# `vfex --gen-rate` (CPU 0; vfex's worker on CPU 1). First the zero-loss rate
# (RFC 2544 binary search, 64 B frames), then 90 % of it for --minutes M
# (default 10) while the rules change every second (rewrite + SIGHUP, in turn:
# open, police at half the offered rate, open, deny the flow). Every period's
# drops are checked against the rule set in force; at the end the generator's,
# vfex's and the PMDs' counters must agree exactly, the only losses being the
# rules' drops; VmRSS must grow < 1 MiB after the warm-up and the mbufs in use
# must return to the idle baseline. Prints PASS or FAIL with the reasons and
# exits 1 on FAIL; the report (table.md, results.json, RSS / mbuf plots) goes
# to results/<UTC timestamp>/.
#
# Usage: scripts/soak.sh [--minutes M] [other vfex-perf options]
#   e.g. scripts/soak.sh                  # the documented 10-minute soak
#        scripts/soak.sh --minutes 1      # a short check
# Needs: scripts/setup.sh (DPDK with dpdk-proc-info, hugepages), root. Run it
# on a quiet machine: on 2 CPUs the worker and the generator share their
# CPUs with everything else, and the report shows (schedstat) when the
# scheduler took a CPU from them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p vfex -p vfex-perf
exec target/release/vfex-perf soak \
  --memory huge --frame-sizes 64 --duration 5 --warmup 1 --minutes 10 "$@"
