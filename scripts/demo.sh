#!/usr/bin/env bash
# The main job on the default model (models/tiny-decoder.yaml), on a fresh
# Debian 12 machine: install, build, show each stage of the IR, make
# deterministic random weights, and run the reference interpreter.
#   scripts/demo.sh [SPEC.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-models/tiny-decoder.yaml}

bash scripts/install-deps.sh
bash scripts/build.sh build

tfc=build/tools/tfc
out=build/demo
mkdir -p "$out"
echo "== $spec: validated spec (--emit=spec) =="
$tfc --emit=spec "$spec"
echo "== model-level IR (--emit=tfm), first lines =="
$tfc --emit=tfm "$spec" | head -n 20
echo "== primitive IR (--emit=primitives): $($tfc --emit=primitives "$spec" | grep -c ' = tfm\.') primitive ops =="
$tfc init-weights "$spec" -o "$out/weights.safetensors" --seed 1
$tfc run "$spec" --weights "$out/weights.safetensors" --tokens "1 2 3 4 5" \
  --reference --dump-logits "$out/logits.bin"
echo "== logits written to $out/logits.bin (f32, one row per token) =="
