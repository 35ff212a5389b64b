#!/usr/bin/env bash
# encoder_vs_reference.sh SPEC LAYOUT TMP N...: compiles an encoder SPEC,
# makes random weights in LAYOUT, and compares the executable's hidden
# states with the reference interpreter's at each N: once with every token
# attended to, once with token types (when the spec has them) and the last
# third of the tokens masked as padding.
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 layout=$2 t=$3
shift 3
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" -o "$t.exe"
tfc init-weights "$spec" -o "$t.safetensors" --seed 5 --layout "$layout"
cols=$(tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')
types=$(tfc --emit=spec "$spec" | sed -n 's/^ *type_vocab: *\([0-9]*\)$/\1/p')
for n in "$@"; do
  tokens=$(python3 -c "print(' '.join(str((i * 37 + 11) % 64) for i in range($n)))")
  "$t.exe" --weights "$t.safetensors" --tokens "$tokens" --dump-logits "$t.c$n.bin" > /dev/null
  tfc run "$spec" --weights "$t.safetensors" --tokens "$tokens" --reference \
    --dump-logits "$t.r$n.bin" > /dev/null 2>&1
  echo -n "$(basename "$spec") $layout N=$n: "
  python3 "$here/compare_logits.py" "$t.c$n.bin" "$t.r$n.bin" "$cols"
  mask=$(python3 -c "print(' '.join('1' if 3 * i < 2 * $n or i == 0 else '0' for i in range($n)))")
  extra=(--mask "$mask")
  if [ "${types:-0}" -gt 0 ]; then
    extra+=(--token-types "$(python3 -c "print(' '.join(str(int(2 * i >= $n) % $types) for i in range($n)))")")
  fi
  "$t.exe" --weights "$t.safetensors" --tokens "$tokens" "${extra[@]}" --dump-logits "$t.cm$n.bin" > /dev/null
  tfc run "$spec" --weights "$t.safetensors" --tokens "$tokens" "${extra[@]}" --reference \
    --dump-logits "$t.rm$n.bin" > /dev/null 2>&1
  echo -n "$(basename "$spec") $layout N=$n masked: "
  python3 "$here/compare_logits.py" "$t.cm$n.bin" "$t.rm$n.bin" "$cols"
done
