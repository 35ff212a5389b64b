#!/usr/bin/env bash
# The main job on the default model (models/tiny-decoder.yaml), on a fresh
# Debian 12 machine: install, build, show the stages, make deterministic
# random weights, compile the model to a native executable, run it, and
# check it against the reference interpreter.
#   scripts/demo.sh [SPEC.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-models/tiny-decoder.yaml}

bash scripts/install-deps.sh
bash scripts/build.sh build

tfc=build/tools/tfc
out=build/demo
mkdir -p "$out"
name=$(basename "$spec" .yaml)
echo "== $spec: validated spec (--emit=spec), first lines =="
$tfc --emit=spec "$spec" | head -n 12
echo "== fused kernels (--emit=fused) =="
$tfc --emit=fused "$spec" | grep -o 'tfm.kernel @[A-Za-z0-9_]*' | sort | uniq -c
echo "== memory plan (--emit=plan), summary =="
$tfc --emit=plan "$spec" | grep -E '^(kernels|arena|output):'
$tfc init-weights "$spec" -o "$out/$name.safetensors" --seed 1
$tfc compile "$spec" --target cpu -o "$out/$name"
tokens="1 2 3 4 5"
echo "== compiled: $out/$name --tokens \"$tokens\" =="
"$out/$name" --weights "$out/$name.safetensors" --tokens "$tokens" \
  --dump-logits "$out/compiled.bin"
echo "== reference interpreter =="
$tfc run "$spec" --weights "$out/$name.safetensors" --tokens "$tokens" \
  --reference --dump-logits "$out/reference.bin"
python3 tests/lit/Inputs/compare_logits.py "$out/compiled.bin" \
  "$out/reference.bin" "$($tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')"
"$out/$name" --weights "$out/$name.safetensors" --bench --bench-runs 20
