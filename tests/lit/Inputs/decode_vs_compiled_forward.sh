#!/usr/bin/env bash
# decode_vs_compiled_forward.sh SPEC TMP [tfc compile options...]: compiles
# SPEC with the options (e.g. --quantize int8), decodes 20 tokens greedily
# with the KV cache (one-row kernel calls) and checks each step's logits
# against the same executable's full forward pass over the prefix
# (many-row calls): compare_logits.py's 1e-4 tolerance.
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 t=$2
shift 2
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" "$@" -o "$t.exe" 2> /dev/null
tfc init-weights "$spec" -o "$t.safetensors" --seed 9 2> /dev/null
cols=$(tfc --emit=plan "$spec" | sed -n 's/^output: \[N, \([0-9]*\)\]$/\1/p')
prompt="3 1 4 1 5 9 2 6"
generated=$("$t.exe" --weights "$t.safetensors" --tokens "$prompt" \
  --max-tokens 20 --temperature 0 --dump-decode-logits "$t.trace.bin")
prefix="$prompt $(echo "$generated" | cut -d' ' -f1-19)"
"$t.exe" --weights "$t.safetensors" --tokens "$prefix" --dump-logits "$t.full.bin" > /dev/null
echo -n "$(basename "$spec") $*: "
python3 "$here/compare_logits.py" "$t.trace.bin" "$t.full.bin" "$cols" 20
