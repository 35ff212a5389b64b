#!/usr/bin/env bash
# bench/gpu-check.sh: the GPU target on a real device, in one command.
#
#   bash bench/gpu-check.sh [--target cuda|opencl] [--dir DIR] [--runs R]
#                           [--prepare | --run] [--quick]
#
# Two halves, run one after the other unless --prepare or --run picks one:
#
#  prepare (needs tfc: $TFC, else build/tools/tfc) compiles into DIR the
#    executables for the target, with the tfc runtime and the C++ runtime
#    linked in (TFC_LINK_FLAGS=-static-libstdc++ -static-libgcc), so they run
#    on a machine without tfc or Debian's libraries; and, from the reference
#    interpreter, the expected output of every check, for the weights the
#    executables make themselves (--random-weights S gives the values of
#    tfc init-weights --seed S: gpt2-small's file is too large to carry).
#  run (needs DIR, bash and python3; PyTorch with CUDA for the peer figures)
#    1. checks the tiny model of each family on the device against the
#       reference: decoders (GPT-2-style, LLaMA-style with RoPE and grouped-
#       query attention) at N = 1, 7 and 64 (f32: max|a-b| <= 1e-4 max(1,
#       |ref|)), f16 weights (largest error <= 2e-3 of the largest logit),
#       greedy decoding with the device KV cache against the same
#       executable's full forward, an encoder with a padding mask, an
#       encoder-decoder, a ViT;
#    2. times gpt2-small, batch 1, f32 and f16 weights: prefill N = 128 and
#       512 (all rows of logits; median of R runs after a warm-up) and
#       decode after a 128-token prompt (median ms/token of 64 steps);
#       --quick: tiny-llama, prefill 32 and 64, 16 steps after 32;
#    3. times PyTorch on the same model in the same run, eager and
#       torch.compile(mode="reduce-overhead"), where PyTorch has CUDA
#       (bench/gpu/torch_gpt2.py).
#    It prints a table and writes it to DIR/results.md; it exits non-zero if
#    a check fails.
#
# --target opencl is the same check on an OpenCL device: on POCL (the CI
# machines' CPU device) it is the twin that tests this script without a GPU.
# --quick (for that twin) times tiny-llama at N = 32 and 64 instead of
# gpt2-small. Default DIR: bench/gpu-check-out; default R: 10.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

target=cuda dir="$repo/bench/gpu-check-out" runs=10 phase=both quick=0
while [ $# -gt 0 ]; do
  case "$1" in
  --target) target=$2; shift 2 ;;
  --dir) dir=$2; shift 2 ;;
  --runs) runs=$2; shift 2 ;;
  --prepare) phase=prepare; shift ;;
  --run) phase=run; shift ;;
  --quick) quick=1; shift ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "gpu-check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$target" in
cuda | opencl) ;;
*) echo "gpu-check.sh: --target: expected cuda or opencl, found '$target'" >&2; exit 2 ;;
esac
case "$runs" in
'' | *[!0-9]* | 0) echo "gpu-check.sh: --runs: expected an integer >= 1, found '$runs'" >&2; exit 2 ;;
esac

# The checks: NAME|EXECUTABLE|ARGUMENTS|COLUMNS|KIND. KIND f32 and f16
# compare with the reference's output REF/NAME.bin; decode compares each
# generated step with the executable's own full forward over the prefix.
ids() { python3 -c "print(' '.join(str(($2 * i + $3) % 64) for i in range($1)))"; }
checks() {
  for n in 1 7 64; do
    echo "decoder N=$n|tiny-decoder|--random-weights 5 --tokens \"$(ids $n 37 11)\"|64|f32"
    echo "llama N=$n|tiny-llama|--random-weights 5 --tokens \"$(ids $n 37 11)\"|64|f32"
  done
  echo "llama f16 N=64|tiny-llama-f16|--random-weights 5 --tokens \"$(ids 64 37 11)\"|64|f16"
  echo "llama decode|tiny-llama|--random-weights 9 --tokens \"3 1 4 1 5 9 2 6\"|64|decode"
  echo "encoder N=9 masked|tiny-encoder|--random-weights 5 --tokens \"$(ids 9 37 11)\" --mask \"1 1 1 1 1 1 0 0 0\"|32|f32"
  echo "encoder-decoder S=7 T=5|tiny-encdec|--random-weights 6 --source \"$(ids 7 29 5)\" --tokens \"$(ids 5 13 1)\"|64|f32"
  echo "vit|tiny-vit|--random-weights 5 --image-raw DIR/vit.raw|10|f32"
}

prepare() {
  local tfc=${TFC:-$repo/build/tools/tfc}
  if [ ! -x "$tfc" ]; then
    echo "gpu-check.sh: the prepare half needs tfc ($tfc): build it (bash scripts/build.sh) or set TFC" >&2
    exit 2
  fi
  mkdir -p "$dir/ref" "$dir/w"
  export TFC_LINK_FLAGS="-static-libstdc++ -static-libgcc"
  echo "== prepare: $target executables and reference outputs in $dir"
  for m in tiny-decoder tiny-llama tiny-encoder tiny-encdec tiny-vit; do
    "$tfc" compile "$repo/models/$m.yaml" --target "$target" -o "$dir/$m" 2> /dev/null
  done
  "$tfc" compile "$repo/models/tiny-llama.yaml" --target "$target" --quantize f16 \
    -o "$dir/tiny-llama-f16" 2> /dev/null
  python3 -c "
import math, struct, sys
n = 16 * 16 * 3
open(sys.argv[1], 'wb').write(struct.pack('<%df' % n, *[math.sin(0.1 * i) for i in range(n)]))" "$dir/vit.raw"
  local name exe args cols kind spec seed
  while IFS='|' read -r name exe args cols kind; do
    [ "$kind" = decode ] && continue
    spec=$repo/models/${exe%-f16}.yaml
    seed=$(echo "$args" | sed -n 's/.*--random-weights \([0-9]*\).*/\1/p')
    [ -f "$dir/w/${exe%-f16}-$seed.safetensors" ] ||
      "$tfc" init-weights "$spec" -o "$dir/w/${exe%-f16}-$seed.safetensors" --seed "$seed" > /dev/null
    eval "set -- ${args//DIR/$dir}"
    shift 2 # --random-weights S
    "$tfc" run "$spec" --weights "$dir/w/${exe%-f16}-$seed.safetensors" "$@" --reference \
      --dump-logits "$dir/ref/$name.bin" > /dev/null 2>&1
  done < <(checks)
  rm -rf "$dir/w"
  checks > "$dir/checks.txt"
  cp "$repo/tests/lit/Inputs/compare_logits.py" "$repo/tests/lit/Inputs/compare_quantized.py" \
    "$here/gpu/torch_gpt2.py" "$dir/"
  local timing=gpt2-small
  [ "$quick" = 1 ] && timing=tiny-llama
  for q in f32 f16; do
    "$tfc" compile "$repo/models/$timing.yaml" --target "$target" --quantize $q \
      -o "$dir/timing-$q" 2> /dev/null
  done
  echo "$timing" > "$dir/timing-model.txt"
  echo "prepare: done ($(ls "$dir" | wc -l) files)"
}

run() {
  if [ ! -f "$dir/checks.txt" ]; then
    echo "gpu-check.sh: $dir/checks.txt is missing: run the prepare half first (--prepare)" >&2
    exit 2
  fi
  local out="$dir/out" failed=0 name exe args cols kind line
  mkdir -p "$out"
  local report="$dir/results.md"
  {
    echo "# tfc GPU check ($target), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    if command -v nvidia-smi > /dev/null 2>&1; then
      echo "device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)"
    elif command -v clinfo > /dev/null 2>&1; then
      echo "device: $(clinfo -l 2>/dev/null | sed -n 's/.*Device #0: //p' | head -n 1)"
    fi
    echo
    echo "## Checks against the reference interpreter"
    echo
  } > "$report"
  echo "== run: checks on the $target device"
  while IFS='|' read -r name exe args cols kind; do
    eval "set -- ${args//DIR/$dir}"
    if [ "$kind" = decode ]; then
      # 20 greedy steps with the device KV cache against the executable's
      # own full forward over prompt + generated tokens.
      local gen prefix
      gen=$("$dir/$exe" "$@" --max-tokens 20 --temperature 0 \
        --dump-decode-logits "$out/trace.bin" 2> "$out/err.txt") || gen=
      prefix="3 1 4 1 5 9 2 6 $(echo "$gen" | cut -d' ' -f1-19)"
      if [ -n "$gen" ] && "$dir/$exe" --random-weights 9 --tokens "$prefix" \
          --dump-logits "$out/full.bin" > /dev/null 2>> "$out/err.txt"; then
        line=$(python3 "$dir/compare_logits.py" "$out/trace.bin" "$out/full.bin" "$cols" 20 2>&1) || true
      else
        line="FAIL: $(head -c 300 "$out/err.txt")"
      fi
    elif "$dir/$exe" "$@" --dump-logits "$out/$name.bin" > /dev/null 2> "$out/err.txt"; then
      if [ "$kind" = f16 ]; then
        line=$(python3 "$dir/compare_quantized.py" "$out/$name.bin" "$dir/ref/$name.bin" "$cols" 2e-3 0.95 2>&1) || true
      else
        line=$(python3 "$dir/compare_logits.py" "$out/$name.bin" "$dir/ref/$name.bin" "$cols" 2>&1) || true
      fi
    else
      line="FAIL: $(head -c 300 "$out/err.txt")"
    fi
    case "$line" in ok*) ;; *) failed=1 ;; esac
    echo "$name: $line"
    echo "- $name: $line" >> "$report"
  done < "$dir/checks.txt"

  local timing n q
  timing=$(cat "$dir/timing-model.txt")
  local sizes="128 512" prompt=128 steps=64
  if [ "$timing" = tiny-llama ]; then sizes="32 64" prompt=32 steps=16; fi
  echo "== run: timing $timing (batch 1, $runs runs, medians)"
  {
    echo
    echo "## $timing, batch 1 (medians of $runs runs; random weights)"
    echo
    echo "| | prefill $(echo $sizes | sed 's/ / | prefill /') | decode after $prompt |"
    echo "|---|---|---|---|"
  } >> "$report"
  for q in f32 f16; do
    local row="| tfc $target $q"
    for n in $sizes; do
      line=$( ("$dir/timing-$q" --random-weights 1 --bench --bench-tokens "$n" \
        --bench-runs "$runs" 2>&1 || true) | sed -n 's/^bench: .* median \([0-9.]*\) ms.*/\1/p')
      echo "tfc $q prefill $n: ${line:-FAIL} ms"
      [ -n "$line" ] || failed=1
      row="$row | ${line:-FAIL} ms"
    done
    line=$( ("$dir/timing-$q" --random-weights 1 --bench-decode "$steps" --bench-tokens "$prompt" \
      --bench-runs "$runs" 2>&1 || true) |
      sed -n 's/^bench-decode: .* median \([0-9.]*\) ms\/token.*/\1/p')
    echo "tfc $q decode: ${line:-FAIL} ms/token"
    [ -n "$line" ] || failed=1
    echo "$row | ${line:-FAIL} ms/token |" >> "$report"
  done
  if [ "$target" = cuda ] && [ "$timing" = gpt2-small ]; then
    python3 "$dir/torch_gpt2.py" --runs "$runs" 2>&1 | tee "$out/torch.txt"
    python3 - "$out/torch.txt" >> "$report" <<'EOF'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"torch (\w+) (\w+) (prefill (\d+)|decode): ([0-9.]+)", line)
    if m:
        rows.setdefault((m.group(1), m.group(2)), {})[m.group(4) or "decode"] = m.group(5)
for (mode, dtype), r in sorted(rows.items()):
    print("| PyTorch %s %s | %s ms | %s ms | %s ms/token |" % (
        mode, dtype, r.get("128", "-"), r.get("512", "-"), r.get("decode", "-")))
EOF
  fi
  echo
  echo "results: $report"
  if [ "$failed" != 0 ]; then
    echo "gpu-check.sh: some checks FAILED" >&2
    exit 1
  fi
  echo "gpu-check.sh: all checks passed"
}

case "$phase" in
prepare) prepare ;;
run) run ;;
both) prepare; run ;;
esac
