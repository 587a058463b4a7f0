#!/bin/sh
# Instructions and cycles per packet of the role pipelines' process(),
# measured with perf stat on the release (bench-profile) harness
# dataplane/benches/roles_perf.rs; the per-burst buffer reset is measured
# alone and subtracted. Cycles: minimum of RUNS runs (the machine is
# shared); instructions are deterministic.
#
# Usage: scripts/roleperf.sh [case...]   (default: up up_new down hairpin)
# Env: BURSTS (default 200000), RUNS (default 5).
set -eu
cd "$(dirname "$0")/.."
BURSTS=${BURSTS:-200000}
RUNS=${RUNS:-5}
bin=$(cargo bench -p vfex-dataplane --bench roles_perf --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*roles_perf[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "no roles_perf binary" >&2; exit 1; }
measure() { # case mode -> "instructions mincycles"
    best_c=; ins=
    for _ in $(seq "$RUNS"); do
        out=$(perf stat -x, -e instructions:u,cycles:u "$bin" "$1" "$2" "$BURSTS" 2>&1 >/dev/null)
        i=$(echo "$out" | awk -F, '/instructions/ {print $1}')
        c=$(echo "$out" | awk -F, '/cycles/ {print $1}')
        ins=$i
        if [ -z "$best_c" ] || [ "$c" -lt "$best_c" ]; then best_c=$c; fi
    done
    echo "$ins $best_c"
}
[ $# -gt 0 ] || set -- up up_new down hairpin
printf '%-8s %12s %12s\n' case instr/pkt cycles/pkt
for case in "$@"; do
    set -- $(measure "$case" run)
    ri=$1 rc=$2
    set -- $(measure "$case" reset)
    si=$1 sc=$2
    awk -v c="$case" -v ri="$ri" -v rc="$rc" -v si="$si" -v sc="$sc" -v n="$BURSTS" \
        'BEGIN { p = n * 32; printf "%-8s %12.1f %12.1f\n", c, (ri - si) / p, (rc - sc) / p }'
done
