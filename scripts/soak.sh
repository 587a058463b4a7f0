#!/usr/bin/env bash
# The soak of issue 8 (item 4) in one command: vfex as a VN-Tag port extender
# from a configuration file (4 vEths with MAC anti-spoof, a 16-rule ACL, an
# srTCM policer, counters; VM ports and uplink on net_memif), driven by
# `vfex --gen-rate` (CPU 0; vfex's worker on CPU 1). First the zero-loss rate
# (RFC 2544 binary search, 64 B frames, 60-s trials, the answer confirmed by a second trial), then 90 % of it for --minutes M
# (default 10) while the rules change every second (rewrite + SIGHUP, in turn:
# open, police at half the offered rate, open, deny the flow). Every period's
# drops are checked against the rule set in force; at the end the generator's,
# vfex's and the PMDs' counters must agree exactly, the only losses being the
# rules' drops; VmRSS must grow < 1 MiB after the warm-up and the mbufs in use
# must return to the idle baseline. Prints PASS or FAIL with the reasons and
# exits 1 on FAIL; the report (table.md, results.json, RSS / mbuf plots) goes
# to results/<UTC timestamp>/.
#
# Usage: scripts/soak.sh [--isolate] [--minutes M] [other vfex-perf options]
#   e.g. scripts/soak.sh                  # the documented 10-minute soak
#        scripts/soak.sh --minutes 1      # a short check
# Needs: scripts/setup.sh (DPDK with dpdk-proc-info, hugepages), root. Run it
# on a quiet machine: on 2 CPUs the worker and the generator share their
# CPUs with everything else, and the report shows (schedstat) when the
# scheduler took a CPU from them.
#
# --isolate (first argument): for the run, move every other task and every
# IRQ that can move to CPU 0, so that vfex's worker has CPU 1 to itself (as
# isolcpus and IRQ affinity do on a production host); everything is allowed
# back on every CPU afterwards.
# The memif rings have 2^14 slots (--memif-rsize 14, the most net_memif
# allows) on both ends: a few ms of traffic, to ride out short stalls.
set -euo pipefail
cd "$(dirname "$0")/.."
isolate=0
if [ "${1:-}" = "--isolate" ]; then
  isolate=1
  shift
fi
cargo build --release --quiet -p vfex -p vfex-perf
ncpu=$(nproc --all)
all=$(( (1 << ncpu) - 1 ))
mask() { # mask: every task and IRQ that can move
  for p in $(ps -eo pid=); do taskset -a -p "$1" "$p" >/dev/null 2>&1 || true; done
  for i in /proc/irq/*/smp_affinity; do echo "$1" >"$i" 2>/dev/null || true; done
}
if [ "$isolate" = 1 ]; then
  trap 'mask "$(printf %x "$all")"' EXIT
  mask 1
fi
# The harness starts with every CPU (EAL pins vfex's lcores; the harness
# then keeps itself on CPU 0).
taskset -c "0-$(( ncpu - 1 ))" target/release/vfex-perf soak \
  --memory huge --frame-sizes 64 --duration 60 --warmup 1 --minutes 10 --memif-rsize 14 "$@"
