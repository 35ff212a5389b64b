#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds tfc and runs every test:
# GoogleTest unit tests and lit/FileCheck tests (through ctest), first in a
# release build, then in an AddressSanitizer + UndefinedBehaviorSanitizer
# build. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== release build =="
bash scripts/build.sh build
echo "== tests (release) =="
ctest --test-dir build --output-on-failure -j 2

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
echo "== all tests passed =="
