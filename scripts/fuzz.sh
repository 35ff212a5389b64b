#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang-14, ASan+UBSan) into
# build-fuzz/ and runs each for SECONDS (default 30) on a copy of its seed
# corpus, so tests/fuzz/corpus stays as committed. Crash inputs go to
# build-fuzz/artifacts/. Prints executions and coverage per fuzzer; exits
# non-zero if any fuzzer found a failure.
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_JOBS=1 scripts/fuzz.sh 60     # ninja jobs (default 2)
#   TFC_GPT2_TOKENIZER_DIR=DIR ...     # GPT-2 files for FuzzTokenizer
set -euo pipefail

SECONDS_PER_FUZZER=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-fuzz
JOBS=${FUZZ_JOBS:-2}

CC=${CC:-clang-14} CXX=${CXX:-clang++-14} \
  cmake -G Ninja -S "$ROOT/tests/fuzz" -B "$BUILD" >/dev/null
ninja -C "$BUILD" -j"$JOBS"

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
status=0
summary=()
for pair in FuzzSpec:spec FuzzSafetensors:safetensors \
            FuzzTokenizer:tokenizer; do
  target=${pair%%:*}
  corpus=${pair#*:}
  work=$BUILD/corpus/$corpus
  rm -rf "$work"
  mkdir -p "$work"
  cp "$ROOT/tests/fuzz/corpus/$corpus/." "$work/" -r
  log=$BUILD/logs/$target.log
  echo "== $target: ${SECONDS_PER_FUZZER}s on $corpus corpus (log: $log)"
  rc=0
  "$BUILD/$target" "$work" -max_total_time="$SECONDS_PER_FUZZER" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$target-" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  if [ "$rc" -ne 0 ]; then
    status=1
    summary+=("$target: FAILED (exit $rc), see $log and $BUILD/artifacts/")
    grep -E 'ERROR|SUMMARY|Fuzz[A-Za-z]+:|artifact' "$log" | head -n 20 || true
  else
    summary+=("$target: ${done_line:-no DONE line}")
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
