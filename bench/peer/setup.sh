#!/usr/bin/env bash
# Installs what bench/peer-bench.sh needs besides tfc itself: Debian's
# python3-torch, python3-numpy and python3-yaml (ONNX export; apt-get, only
# when missing), Node.js (scripts/install-deps.sh has it) and ONNX Runtime
# for Node from npm (its CPU library ships in the package) into
# bench/peer/node_modules. Does nothing when all are present.
#   bash bench/peer/setup.sh
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-/usr/bin/python3}

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
  sudo_cmd=(sudo)
fi

missing=()
"$python" -c 'import torch' 2>/dev/null || missing+=(python3-torch)
"$python" -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
"$python" -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ ! -f node_modules/onnxruntime-node/package.json ]; then
  echo "setup: installing onnxruntime-node into $(pwd)/node_modules"
  # Without ONNXRUNTIME_NODE_INSTALL=skip the package's install step fetches
  # GPU libraries from outside the npm registry; the CPU library is in the
  # package itself.
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund
fi
node -e "require('./node_modules/onnxruntime-node')" ||
  { echo "setup: error: onnxruntime-node does not load" >&2; exit 1; }
echo "setup: ok (python $("$python" -c 'import torch; print(torch.__version__)' \
  2>/dev/null) torch, onnxruntime-node $(node -p \
  "require('./node_modules/onnxruntime-node/package.json').version"))"
