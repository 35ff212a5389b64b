#!/usr/bin/env bash
# decode_vs_forward.sh SPEC LAYOUT TMP: greedy generation with the KV cache
# must give, at every step, the logits of a full forward pass over the same
# prefix. Compiles SPEC, prefills a prompt, decodes greedily, then runs the
# reference interpreter over prompt + generated tokens and compares each
# step's logits with the matching row.
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 layout=$2 t=$3
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" -o "$t.exe"
tfc init-weights "$spec" -o "$t.safetensors" --seed 9 --layout "$layout"
cols=$(tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')
for prompt in "7" "3 1 4 1 5 9 2 6"; do
  generated=$("$t.exe" --weights "$t.safetensors" --tokens "$prompt" \
    --max-tokens 20 --temperature 0 --dump-decode-logits "$t.trace.bin")
  set -- $generated
  test $# -eq 20
  # The last generated token's logits were never computed: drop it.
  prefix="$prompt $(echo "$generated" | cut -d' ' -f1-19)"
  tfc run "$spec" --weights "$t.safetensors" --tokens "$prefix" --reference \
    --dump-logits "$t.full.bin" > /dev/null 2>&1
  echo -n "$(basename "$spec") $layout prompt of $(echo $prompt | wc -w): "
  python3 "$here/compare_logits.py" "$t.trace.bin" "$t.full.bin" "$cols" 20
done
