#!/usr/bin/env bash
# Configures and builds tfc with CMake + Ninja.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Default BUILD_DIR is build/. Uses -j2 unless JOBS is set.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
jobs=${JOBS:-2}
if [ ! -f "$dir/build.ninja" ]; then
  cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DLLVM_DIR=/usr/lib/llvm-22/lib/cmake/llvm \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir "$@"
fi
ninja -C "$dir" -j "$jobs"
