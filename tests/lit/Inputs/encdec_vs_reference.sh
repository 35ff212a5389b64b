#!/usr/bin/env bash
# encdec_vs_reference.sh SPEC TMP S:T...: compiles an encoder-decoder SPEC,
# makes random weights, and for each source length S and target length T
# compares the executable's logits (the source encoded once, then the T
# target tokens) with the reference interpreter's full forward pass. Then
# greedy generation from the decoder start token 1 with the KV cache and
# the cached cross-attention keys must give, at every step, the logits of
# the reference over the same target prefix.
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 t=$2
shift 2
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" -o "$t.exe"
tfc init-weights "$spec" -o "$t.safetensors" --seed 6
cols=$(tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')
ids() { python3 -c "print(' '.join(str(($2 * i + $3) % 64) for i in range($1)))"; }
for pair in "$@"; do
  s=${pair%:*} n=${pair#*:}
  source=$(ids "$s" 29 5) target=$(ids "$n" 13 1)
  "$t.exe" --weights "$t.safetensors" --source "$source" --tokens "$target" \
    --dump-logits "$t.c.bin" > /dev/null
  tfc run "$spec" --weights "$t.safetensors" --source "$source" \
    --tokens "$target" --reference --dump-logits "$t.r.bin" > /dev/null 2>&1
  echo -n "$(basename "$spec") S=$s T=$n: "
  python3 "$here/compare_logits.py" "$t.c.bin" "$t.r.bin" "$cols"
done
source=$(ids 9 31 4)
generated=$("$t.exe" --weights "$t.safetensors" --source "$source" --tokens 1 \
  --max-tokens 12 --temperature 0 --dump-decode-logits "$t.trace.bin")
set -- $generated
test $# -eq 12
# The last generated token's logits were never computed: drop it.
prefix="1 $(echo "$generated" | cut -d' ' -f1-11)"
tfc run "$spec" --weights "$t.safetensors" --source "$source" \
  --tokens "$prefix" --reference --dump-logits "$t.full.bin" > /dev/null 2>&1
echo -n "$(basename "$spec") generation: "
python3 "$here/compare_logits.py" "$t.trace.bin" "$t.full.bin" "$cols" 12
