#!/usr/bin/env bash
# quantized_vs_reference.sh SPEC TMP TYPE REL TOP1 [tfc compile options...]:
# compiles SPEC with --quantize TYPE, runs 64 tokens and compares the logits
# with the f32 reference interpreter's (compare_quantized.py: largest error
# relative to the largest |logit| <= REL, top-1 agreement >= TOP1).
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 t=$2 type=$3 rel=$4 top1=$5
shift 5
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" --quantize "$type" "$@" -o "$t.$type.exe" 2> /dev/null
[ -f "$t.safetensors" ] || tfc init-weights "$spec" -o "$t.safetensors" --seed 5 2> /dev/null
cols=$(tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')
tokens=$(python3 -c "print(' '.join(str((i * 37 + 11) % $cols) for i in range(64)))")
[ -f "$t.ref.bin" ] || tfc run "$spec" --weights "$t.safetensors" --tokens "$tokens" \
  --reference --dump-logits "$t.ref.bin" > /dev/null 2>&1
"$t.$type.exe" --weights "$t.safetensors" --tokens "$tokens" --dump-logits "$t.$type.bin" > /dev/null
echo -n "$(basename "$spec") $type: "
python3 "$here/compare_quantized.py" "$t.$type.bin" "$t.ref.bin" "$cols" "$rel" "$top1"
