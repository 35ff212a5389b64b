#!/usr/bin/env bash
# compiled_vs_reference.sh SPEC LAYOUT TMP: compiles SPEC, makes random
# weights in LAYOUT, and compares the executable's logits with the
# reference interpreter's at N = 1, 7 and 64 tokens.
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 layout=$2 t=$3
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" -o "$t.exe"
tfc init-weights "$spec" -o "$t.safetensors" --seed 5 --layout "$layout"
cols=$(tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')
for n in 1 7 64; do
  tokens=$(python3 -c "print(' '.join(str((i * 37 + 11) % 64) for i in range($n)))")
  "$t.exe" --weights "$t.safetensors" --tokens "$tokens" --dump-logits "$t.c$n.bin" > /dev/null
  tfc run "$spec" --weights "$t.safetensors" --tokens "$tokens" --reference \
    --dump-logits "$t.r$n.bin" > /dev/null 2>&1
  echo -n "$(basename "$spec") $layout N=$n: "
  python3 "$here/compare_logits.py" "$t.c$n.bin" "$t.r$n.bin" "$cols"
done
