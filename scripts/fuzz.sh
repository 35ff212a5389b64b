#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang-14, ASan+UBSan) into
# build-fuzz/ and runs each for SECONDS (default 30) on a copy of its seed
# corpus, so tests/fuzz/corpus stays as committed. Crash inputs go to
# build-fuzz/artifacts/. Prints per fuzzer the executions, coverage (cov:
# and ft: of libFuzzer's last line) and corpus size; exits non-zero if any
# fuzzer found a failure: a crash, a sanitizer report, a leak, an input
# slower than 10 s (-timeout) or memory past 2 GB (-rss_limit_mb).
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_JOBS=1 scripts/fuzz.sh 60     # ninja jobs (default 2)
#   FUZZ_BUILD=DIR ...                 # build directory (default build-fuzz)
#   FUZZ_TARGETS="FuzzWordPiece" ...   # only these fuzzers
#   TFC_TOOL=PATH ...                  # release tfc for the API fuzzers'
#                                      # models (default build/tools/tfc,
#                                      # built by scripts/build.sh if missing)
#   TFC_GPT2_TOKENIZER_DIR=DIR ...     # GPT-2 files for FuzzTokenizer
#
# In CI, after `bash scripts/build.sh build`: `bash scripts/fuzz.sh 60`.
set -euo pipefail

SECONDS_PER_FUZZER=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=${FUZZ_JOBS:-2}

TFC=${TFC_TOOL:-$ROOT/build/tools/tfc}
if [ ! -x "$TFC" ]; then
  if [ -n "${TFC_TOOL:-}" ]; then
    echo "fuzz.sh: TFC_TOOL=$TFC_TOOL is not an executable" >&2
    exit 1
  fi
  echo "== $TFC is missing: building it (scripts/build.sh build)"
  bash "$ROOT/scripts/build.sh" build
fi

CC=${CC:-clang-14} CXX=${CXX:-clang++-14} \
  cmake -G Ninja -S "$ROOT/tests/fuzz" -B "$BUILD" -DTFC_TOOL="$TFC" \
  >/dev/null
ninja -C "$BUILD" -j"$JOBS"

# target:corpus directory under tests/fuzz/corpus.
ALL="FuzzSpec:spec FuzzSafetensors:safetensors FuzzTokenizer:tokenizer
     FuzzWordPiece:wordpiece FuzzRuntimeApi:FuzzRuntimeApi
     FuzzImage:FuzzImage FuzzEncDecApi:FuzzEncDecApi"

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
status=0
summary=()
for pair in $ALL; do
  target=${pair%%:*}
  corpus=${pair#*:}
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]
  then
    continue
  fi
  work=$BUILD/corpus/$corpus
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$ROOT/tests/fuzz/corpus/$corpus/." "$work/"
  log=$BUILD/logs/$target.log
  echo "== $target: ${SECONDS_PER_FUZZER}s on $corpus corpus (log: $log)"
  rc=0
  "$BUILD/$target" "$work" -max_total_time="$SECONDS_PER_FUZZER" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$target-" >"$log" 2>&1 || rc=$?
  # libFuzzer's last status line: "#N DONE cov: C ft: F corp: U/Sb ...".
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  field() { sed -nE "s/.*[[:space:]]$1:[[:space:]]*([^[:space:]]+).*/\1/p" \
              <<<"$done_line"; }
  execs=$(sed -nE 's/^stat::number_of_executed_units:[[:space:]]*//p' \
            "$log" | tail -n 1)
  files=$(find "$work" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    status=1
    summary+=("$target: FAILED (exit $rc), see $log and $BUILD/artifacts/")
    grep -E 'ERROR|SUMMARY|Fuzz[A-Za-z]+:|artifact|Test unit written' "$log" |
      head -n 20 || true
  elif [ -z "$done_line" ]; then
    status=1
    summary+=("$target: no DONE line in $log")
  else
    line="$target: ${execs:-?} executions, cov: $(field cov), ft: $(field ft)"
    line+=", corpus: $files files ($(field corp) units/bytes in memory)"
    summary+=("$line")
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
