#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install, build, compile the
# demo model (models/demo-kjv.yaml: a byte-level decoder trained on the King
# James Bible, weights in models/demo-kjv.safetensors) to a native
# executable, and generate text from a prompt, with prefill and decode
# rates. Also shows the compiler's stages for that model.
#   scripts/demo.sh ["prompt"] [max-tokens]
set -euo pipefail
cd "$(dirname "$0")/.."
prompt=${1:-"And God said, "}
count=${2:-200}
spec=models/demo-kjv.yaml
weights=models/demo-kjv.safetensors

bash scripts/install-deps.sh
bash scripts/build.sh build

tfc=build/tools/tfc
out=build/demo
mkdir -p "$out"
echo "== $spec: fused kernels (tfc --emit=fused) =="
$tfc --emit=fused "$spec" | grep -o 'tfm.kernel @[A-Za-z0-9_]*' | sort | uniq -c
echo "== memory plan (tfc --emit=plan) =="
$tfc --emit=plan "$spec" | grep -E '^(kernels|arena|KV cache|output):'
echo "== compile =="
$tfc compile "$spec" --target cpu -o "$out/demo-kjv"
echo "== generate: $out/demo-kjv --prompt \"$prompt\" --max-tokens $count =="
"$out/demo-kjv" --weights "$weights" --prompt "$prompt" --max-tokens "$count" \
  --temperature 0.8 --top-k 40 --seed 1
