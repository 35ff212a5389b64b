#!/usr/bin/env bash
# roundtrip.sh MODELS_DIR TMP_PREFIX: for each spec, checks that every stage
# tfc prints parses back to the same text, and that tfm-opt --tfm-decompose
# on the printed model-level IR gives what --emit=primitives prints.
set -euo pipefail
models=$1 t=$2
for m in "$models"/*.yaml; do
  tfc --emit=tfm "$m" -o "$t.tfm.mlir"
  tfm-opt "$t.tfm.mlir" -o "$t.tfm2.mlir"
  diff "$t.tfm.mlir" "$t.tfm2.mlir"
  tfc --emit=primitives "$m" -o "$t.prim.mlir"
  tfm-opt "$t.prim.mlir" -o "$t.prim2.mlir"
  diff "$t.prim.mlir" "$t.prim2.mlir"
  tfm-opt --tfm-decompose "$t.tfm.mlir" -o "$t.prim3.mlir"
  diff "$t.prim.mlir" "$t.prim3.mlir"
  tfc --emit=spec "$m" -o "$t.spec.yaml"
  tfc --emit=spec "$t.spec.yaml" | diff "$t.spec.yaml" -
  echo "roundtrip ok: $(basename "$m")"
done
