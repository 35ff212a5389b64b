#!/usr/bin/env bash
# vit_vs_reference.sh SPEC LAYOUT TMP: compiles a ViT SPEC, makes random
# weights in LAYOUT and a raw f32 image of the spec's size, and compares the
# executable's logits with the reference interpreter's.
set -euo pipefail
# TFC_TARGET: the --target to compile for (default cpu).
spec=$1 layout=$2 t=$3
here=$(dirname "$0")
tfc compile "$spec" --target "${TFC_TARGET:-cpu}" -o "$t.exe"
tfc init-weights "$spec" -o "$t.safetensors" --seed 5 --layout "$layout"
read -r h w c classes < <(tfc --emit=spec "$spec" | python3 -c "
import sys, re
t = sys.stdin.read()
g = lambda k: re.search(r'^\s*%s:\s*(\d+)' % k, t, re.M).group(1)
print(g('height'), g('width'), g('channels'), g('classes'))")
python3 -c "
import math, struct, sys
n = $h * $w * $c
open(sys.argv[1], 'wb').write(struct.pack('<%df' % n, *[math.sin(0.1 * i) for i in range(n)]))" "$t.raw"
"$t.exe" --weights "$t.safetensors" --image-raw "$t.raw" --dump-logits "$t.c.bin" > /dev/null
tfc run "$spec" --weights "$t.safetensors" --image-raw "$t.raw" --reference \
  --dump-logits "$t.r.bin" > /dev/null 2>&1
echo -n "$(basename "$spec") $layout: "
python3 "$here/compare_logits.py" "$t.c.bin" "$t.r.bin" "$classes"
