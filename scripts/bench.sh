#!/usr/bin/env bash
# The README "Performance" table in one command: vfex against dpdk-testpmd
# and Open vSwitch (DPDK datapath) on the same virtual devices, hugepages,
# alternating A B A B, each row with its ratio to its peer; then the zero-loss
# rate (RFC 2544) and latency percentiles through a net_memif loop.
# Results (JSON, markdown table, SVG plots) go to results/<UTC timestamp>/.
#
# Usage: scripts/bench.sh [vfex-perf options, which override the defaults]
#   e.g. scripts/bench.sh --rounds 3 --duration 3
#        scripts/bench.sh --frame-sizes 64,512,1518 --workers 1,2,4,8   (plots)
# Needs: scripts/setup.sh (DPDK, Open vSwitch with DPDK, hugepages), root
# (OVS runs in its own network namespace).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p vfex -p vfex-perf
exec target/release/vfex-perf table,rfc2544,latency \
  --memory huge --rounds 5 --duration 5 --warmup 1 --frame-sizes 64 --workers 1 \
  --peers testpmd,ovs "$@"
