#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds tfc and runs every test:
# GoogleTest unit tests and lit/FileCheck tests (through ctest), first in a
# release build, then in an AddressSanitizer + UndefinedBehaviorSanitizer
# build, then the runtime's threaded tests under ThreadSanitizer; between
# them every fuzzer runs for a bounded time. Exits non-zero on any failure.
#   bash scripts/test.sh     (TFC_SKIP_SANITIZERS=1: the release build only;
#                             TFC_SKIP_FUZZ=1: no fuzzing;
#                             TFC_FUZZ_SECONDS=S: S seconds per fuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# The peer benchmark's quick run is a test: ONNX Runtime (npm) and Debian's
# python3-torch for the ONNX export.
bash bench/peer/setup.sh

echo "== release build =="
bash scripts/build.sh build
echo "== tests (release) =="
ctest --test-dir build --output-on-failure -j 2

if [ "${TFC_SKIP_FUZZ:-0}" != "1" ]; then
  # libFuzzer targets (clang-14, ASan/UBSan): the spec parser, safetensors
  # reader, tokenizers and the runtime C API, each for a bounded time from
  # its seed corpus; any finding fails the run.
  echo "== fuzzers (${TFC_FUZZ_SECONDS:-60} s each) =="
  bash scripts/fuzz.sh "${TFC_FUZZ_SECONDS:-60}"
fi

if [ "${TFC_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan/UBSan build =="
  bash scripts/build.sh build-asan -DTFC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  echo "== tests (ASan/UBSan) =="
  # LLVM's and MLIR's shared libraries keep some allocations for the life of
  # the process; leak checking would report those, not ours.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 2
fi
if [ "${TFC_SKIP_SANITIZERS:-0}" != "1" ]; then
  # Only what runs threads is built with -fsanitize=thread: the runtime
  # (libtfcrt.a, libtfc_main.a) and runtime_tests, without MLIR. The
  # release build's tfc compiles the models and links them against this
  # runtime (TFC_RUNTIME_LIB_DIR); its Halide kernels and Halide's runtime
  # are not instrumented. halt_on_error: any report fails the step.
  echo "== ThreadSanitizer build (runtime only) =="
  if [ ! -f build-tsan/build.ninja ]; then
    cmake -G Ninja -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTFC_SANITIZE=thread -DTFC_WITH_MLIR=OFF \
      -DLLVM_DIR=/usr/lib/llvm-22/lib/cmake/llvm \
      -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir
  fi
  ninja -C build-tsan -j "${JOBS:-2}" tfcrt tfc_main runtime_tests
  echo "== tests (ThreadSanitizer) =="
  # tests/tsan-suppressions.txt explains its one entry (Halide's parking
  # lot, synchronised by atomics TSan cannot see).
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
suppressions=$PWD/tests/tsan-suppressions.txt"
  # ForwardDoesNotAllocate counts allocations by replacing malloc, which
  # ThreadSanitizer owns.
  build-tsan/tests/unit/runtime_tests \
    --gtest_filter=-Runtime.ForwardDoesNotAllocate
  TFC_RUNTIME_LIB_DIR="$PWD/build-tsan/runtime" \
    /usr/lib/llvm-22/bin/lit -sv --param tools_dir="$PWD/build/tools" \
    --param sanitize=thread --filter 'compiled/(threads|tsan-)' tests/lit
  unset TSAN_OPTIONS
fi
echo "== all tests passed =="
