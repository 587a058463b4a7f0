#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for N seconds each.
#
#   scripts/fuzz.sh                  # 10 s per target (a smoke run)
#   scripts/fuzz.sh 3600             # a long campaign: one hour per target
#   scripts/fuzz.sh 60 kernels       # only the named targets
#
# Installs cargo-fuzz if missing (cargo install cargo-fuzz --locked). cargo
# fuzz passes nightly-only flags (-Z sanitizer=address); on stable Rust this
# script sets RUSTC_BOOTSTRAP=1 so the stable toolchain accepts them.
# Corpora are seeded by fuzz/seed.py (wire and kernel targets from
# dataplane/tests/data/vectors/vectors.json; config from examples/, the
# docs and the bad configurations of the tests; shell from the command
# table of src/shell.rs and the shell tests) and grow in
# fuzz/corpus/<target>/; a crash is saved in fuzz/artifacts/<target>/ and
# stops the run with a non-zero exit status. CI runs `scripts/fuzz.sh 5`.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
[ $# -gt 0 ] && shift
case "$secs" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$secs'" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

python3 fuzz/seed.py

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

for t in "${targets[@]}"; do
  echo "== fuzz $t for ${secs}s"
  mkdir -p "fuzz/corpus/$t"
  # libFuzzer's progress lines are filtered out; the status is cargo fuzz's.
  set +e
  cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 2>&1 |
    grep -E "(INITED|DONE|^Done |^==[0-9]+==|SUMMARY|^thread |panicked|Test unit written|ERROR)"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || { echo "fuzz.sh: $t failed (exit $rc; see fuzz/artifacts/$t)"; exit 1; }
done
echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each: no crash"
