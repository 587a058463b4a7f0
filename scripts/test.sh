#!/usr/bin/env bash
# Runs every test: set-up, format and lint checks, then the whole workspace's
# tests (unit, DPDK with virtual devices, end-to-end with the vfex binary,
# tshark checks). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== cargo test --workspace"
cargo test --workspace --all-targets
echo "== fuzz smoke run (5 s per target)"
scripts/fuzz.sh 5
