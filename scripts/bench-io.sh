#!/usr/bin/env bash
# vfex io forwarding vs dpdk-testpmd --forward-mode=io on the same virtual
# devices (net_null pair, net_ring loop) and memory settings, alternating
# A B A B; prints Mpps per forwarding core for both and the ratio.
# Usage: scripts/bench-io.sh [vfex-perf options, e.g. --rounds 5 --memory huge]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p vfex -p vfex-perf
exec target/release/vfex-perf io --peers testpmd "$@"
