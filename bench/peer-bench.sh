#!/usr/bin/env bash
# peer-bench.sh: a tfc-compiled model against ONNX Runtime (CPU, from npm
# onnxruntime-node) on the same model with the same weights, alternating
# tfc and ORT rounds in one run, next to this machine's ceilings.
#
#   bash bench/peer-bench.sh [--quick] [--threads T] [--runs R]
#       [--models a,b,c] [--work DIR] [--results DIR] [--no-readme]
#
# For each model (default gpt2-small, llama-style, tiny-d128; specs in
# models/ or bench/peer/): compile it with tfc, write seeded native weights
# (tfc init-weights --seed 1), export the same model and weights to ONNX
# (bench/peer/export_onnx.py: a prefill graph and a KV-cache decode graph),
# check that ORT's logits equal the executable's within 1e-3 relative
# (prefill rows and greedy decode steps; the run stops if not), then R
# rounds of: tfc (prefill N=128, N=512, decode 64 tokens after a 128-token
# prompt, each in its own process after a warm-up), then ORT (the same).
# --quick: tiny-d128 only, N=16/32, decode 16 after 16, 2 rounds (CI).
#
# Prints the FMA peak (bench/fmapeak.cpp) and read bandwidth
# (bench/membw.cpp) with T threads, then the table (bench/peer/report.py
# says the FLOP and byte formulas). Writes RESULTS/<date>-<host>.txt
# (default bench/results/) and, unless --quick or --no-readme, rewrites the
# table section of bench/README.md. Environment: TFC=path/to/tfc or a name
# in PATH (default: build with scripts/build.sh, use build/tools/tfc),
# PYTHON (default /usr/bin/python3, Debian's, which has python3-torch),
# CXX (for the ceilings' programs, default c++). Both engines run
# with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ at 4 GiB so glibc
# reuses big buffers instead of mapping and faulting them in every call.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
command_line="bench/peer-bench.sh $*"

quick=0 threads=2 runs= models= readme=1
work=$bench/work results=$bench/results
die() { echo "peer-bench: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --threads) threads=${2:?--threads needs a value}; shift ;;
    --runs) runs=${2:?--runs needs a value}; shift ;;
    --models) models=${2:?--models needs a value}; shift ;;
    --work) work=${2:?--work needs a value}; shift ;;
    --results) results=${2:?--results needs a value}; shift ;;
    --no-readme) readme=0 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads: expected an integer >= 1, found '$threads'"
if [ $quick = 1 ]; then
  runs=${runs:-2} models=${models:-tiny-d128} readme=0
  prefill_ns=(16 32) prompt=16 steps=16
else
  runs=${runs:-5} models=${models:-gpt2-small,llama-style,tiny-d128}
  prefill_ns=(128 512) prompt=128 steps=64
fi
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs: expected an integer >= 1, found '$runs'"
python=${PYTHON:-/usr/bin/python3}

if [ -z "${TFC:-}" ]; then
  echo "peer-bench: building tfc (scripts/build.sh)" >&2
  bash "$root/scripts/build.sh" >&2
  TFC=$root/build/tools/tfc
fi
# A bare name (TFC=tfc) is looked up in PATH, as lit's tests do.
[[ $TFC == */* ]] || TFC=$(command -v "$TFC") || die "no '$TFC' in PATH"
[ -x "$TFC" ] || die "TFC=$TFC is not an executable"
if [ ! -f "$bench/peer/node_modules/onnxruntime-node/package.json" ] ||
   ! "$python" -c 'import torch, numpy, yaml' 2>/dev/null; then
  bash "$bench/peer/setup.sh" >&2
fi

export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296
mkdir -p "$work/bin" "$results"
log=$work/log.txt samples=$work/samples.tsv
: > "$log"
: > "$samples"
say() { echo "$*" | tee -a "$log"; }

# The ceilings, measured here with the same thread count.
cxx=${CXX:-c++}
"$cxx" -O2 -march=native -pthread "$bench/fmapeak.cpp" -o "$work/bin/fmapeak"
"$cxx" -O3 -march=native -pthread "$bench/membw.cpp" \
  -o "$work/bin/membw"
fma_line=$("$work/bin/fmapeak" "$threads")
bw_line=$("$work/bin/membw" "$threads")
say "$fma_line"
say "$bw_line"
fma=$(sed -n 's/^fma peak: \([0-9.]*\) GFLOP.*/\1/p' <<<"$fma_line")
bw=$(sed -n 's/^read bandwidth: \([0-9.]*\) GB.*/\1/p' <<<"$bw_line")
[ -n "$fma" ] && [ -n "$bw" ] || die "could not read the ceilings"

quant=()
# Not `tfc ... | grep -q`: grep's early exit would fail the pipe (pipefail).
compile_help=$("$TFC" compile --help 2>&1 || true)
if grep -q -- '--quantize' <<<"$compile_help"; then
  quant=(int8 f16)
else
  # Hook: when tfc compile has --quantize, int8 and f16 decode rows appear
  # (timed against ORT f32).
  say "note: tfc compile has no --quantize: no int8/f16 rows"
fi

spec_of() {
  if [ -f "$root/models/$1.yaml" ]; then echo "$root/models/$1.yaml"
  elif [ -f "$bench/peer/$1.yaml" ]; then echo "$bench/peer/$1.yaml"
  else die "no spec for model '$1' (models/$1.yaml or bench/peer/$1.yaml)"
  fi
}
# Rebuild an artefact only when it is missing or older than its inputs.
stale() {
  local out=$1; shift
  [ -e "$out" ] || return 0
  local f
  for f in "$@"; do [ "$f" -nt "$out" ] && return 0; done
  return 1
}
# "bench: N tokens, R runs: median X ms, ..." / "bench-decode: ... median
# X ms/token ..." -> X
median_of() { sed -n 's/^bench[-a-z]*: .* median \([0-9.]*\) ms.*/\1/p'; }
record() { # model measure engine ms
  [ -n "$4" ] || die "$1 $2 $3: no timing in the output (see $log)"
  printf '%s\t%s\t%s\t%s\n' "$@" >> "$samples"
}

spec_args=()
IFS=, read -r -a model_list <<<"$models"
for model in "${model_list[@]}"; do
  spec=$(spec_of "$model")
  spec_args+=(--spec "$model=$spec")
  dir=$work/$model
  mkdir -p "$dir"
  exe=$dir/$model weights=$dir/w.safetensors onnx=$dir/onnx
  if stale "$exe" "$spec" "$TFC"; then
    say "== $model: tfc compile"
    "$TFC" compile "$spec" -o "$exe" >>"$log" 2>&1
  fi
  for q in "${quant[@]}"; do
    if stale "$exe-$q" "$spec" "$TFC"; then
      "$TFC" compile "$spec" --quantize "$q" -o "$exe-$q" >>"$log" 2>&1
    fi
  done
  # init-weights is bit-reproducible: a new tfc build keeps the weights.
  if stale "$weights" "$spec"; then
    "$TFC" init-weights "$spec" -o "$weights" --seed 1 --layout native \
      >>"$log" 2>&1
  fi
  if stale "$onnx/meta.json" "$weights" "$bench/peer/export_onnx.py"; then
    say "== $model: ONNX export"
    rm -rf "$onnx"
    "$python" "$bench/peer/export_onnx.py" "$spec" "$weights" "$onnx" \
      >>"$log" 2>&1 || die "$model: ONNX export failed (see $log)"
  fi

  # Correctness: the same logits from both engines, or no figures.
  vocab=$(sed -n 's/.*"vocab": \([0-9]*\).*/\1/p' "$onnx/meta.json")
  tokens=$(for i in 0 1 2 3 4 5 6 7; do echo $(((i * 7919 + 11) % vocab)); done)
  tokens=$(echo $tokens)
  "$exe" --weights "$weights" --threads "$threads" --tokens "$tokens" \
    --dump-logits "$dir/check-prefill.bin" >>"$log" 2>&1
  gen=$("$exe" --weights "$weights" --threads "$threads" --tokens "$tokens" \
    --max-tokens 5 --temperature 0 --dump-decode-logits "$dir/check-decode.bin" \
    2>>"$log")
  if ! check=$(node "$bench/peer/ort-runner.js" "$onnx" --threads "$threads" \
      --check --tokens "$tokens" --logits "$dir/check-prefill.bin" \
      --decode-tokens "$gen" --decode-logits "$dir/check-decode.bin" 2>&1); then
    say "$check"
    die "$model: ORT and tfc disagree: not benchmarking (see above)"
  fi
  say "$check"

  # Only what fits in the model's max_seq (the KV cache) is measured.
  max_seq=$(sed -n 's/.*"max_seq": \([0-9]*\).*/\1/p' "$onnx/meta.json")
  model_ns=()
  for n in "${prefill_ns[@]}"; do
    if [ "$n" -le "$max_seq" ]; then model_ns+=("$n")
    else say "note: $model: no prefill N=$n (max_seq $max_seq)"
    fi
  done
  decode="$prompt+$steps" decode_steps=$steps
  if [ $((prompt + steps)) -gt "$max_seq" ]; then
    say "note: $model: no decode $decode (max_seq $max_seq)"
    decode_steps=0
  fi
  ort_args=()
  if [ ${#model_ns[@]} -gt 0 ]; then
    ort_args+=(--prefill "$(IFS=,; echo "${model_ns[*]}")")
  fi
  if [ $decode_steps -gt 0 ]; then
    ort_args+=(--decode "$steps" --decode-prompt "$prompt")
  fi
  decode_variants=()
  if [ $decode_steps -gt 0 ]; then decode_variants=("" "${quant[@]}"); fi
  for ((r = 1; r <= runs; ++r)); do
    say "== $model: round $r of $runs: tfc, then ORT"
    for n in "${model_ns[@]}"; do
      out=$("$exe" --weights "$weights" --threads "$threads" --bench \
        --bench-tokens "$n" --bench-runs 1 | tee -a "$log")
      record "$model" "prefill:$n" tfc "$(median_of <<<"$out")"
    done
    for v in "${decode_variants[@]}"; do
      out=$("$exe${v:+-$v}" --weights "$weights" --threads "$threads" \
        --bench-decode "$steps" --bench-tokens "$prompt" --bench-runs 1 |
        tee -a "$log")
      record "$model" "decode:$decode" "tfc${v:+-$v}" "$(median_of <<<"$out")"
    done
    out=$(node "$bench/peer/ort-runner.js" "$onnx" --threads "$threads" \
      --runs 1 "${ort_args[@]}" | tee -a "$log")
    for n in "${model_ns[@]}"; do
      record "$model" "prefill:$n" ort \
        "$(grep "^bench: $n tokens" <<<"$out" | median_of)"
    done
    if [ $decode_steps -gt 0 ]; then
      record "$model" "decode:$decode" ort \
        "$(grep '^bench-decode:' <<<"$out" | median_of)"
    fi
  done
done

table=$("$python" "$bench/peer/report.py" "$samples" --fma "$fma" --bw "$bw" \
  "${spec_args[@]}")
ort_version=$(node -p \
  "require('$bench/peer/node_modules/onnxruntime-node/package.json').version")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
stamp=$(date -u +%Y-%m-%d)
host=$(hostname -s 2>/dev/null || echo host)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
report=$(
  echo "\$ $command_line"
  echo "date $(date -u '+%Y-%m-%d %H:%M UTC'), host $host, cpu $cpu" \
    "($(nproc) cores), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tfc $TFC (git $rev), onnxruntime-node $ort_version;" \
    "$threads threads, $runs alternating rounds (tfc, ORT, ...)," \
    "each figure one timed run after a warm-up in its own process"
  echo "$fma_line"
  echo "$bw_line"
  grep '^check:\|^note:' "$log" || true
  echo
  echo "$table"
  echo
  echo "prefill: ms per forward of N random ids (all N rows of logits);" \
    "achieved = (2*N*P + 2*M*H*K*N*(N+1)) / time, P = matrix parameters;"
  echo "decode: ms per token, $steps one-token steps after a $prompt-token" \
    "prompt; achieved = (bytes per weight * P + KV cache read) / time;"
  echo "bound-ratio = time / (work / ceiling): 1.00 = at the FMA peak" \
    "(prefill) or the read bandwidth (decode)."
)
echo
echo "$report"
out_file=$results/$stamp-$host.txt
echo "$report" > "$out_file"
echo "peer-bench: wrote $out_file" >&2

if [ $readme = 1 ]; then
  begin='<!-- peer-bench table: begin (written by bench/peer-bench.sh) -->'
  end='<!-- peer-bench table: end -->'
  readme_file=$bench/README.md
  grep -qF "$begin" "$readme_file" && grep -qF "$end" "$readme_file" ||
    die "$readme_file: no table markers"
  tmp=$readme_file.tmp
  {
    sed -n "1,/^$(sed 's/[][\/.*^$]/\\&/g' <<<"$begin")\$/p" "$readme_file"
    echo '```'
    echo "$report"
    echo '```'
    sed -n "/^$(sed 's/[][\/.*^$]/\\&/g' <<<"$end")\$/,\$p" "$readme_file"
  } > "$tmp"
  mv "$tmp" "$readme_file"
  echo "peer-bench: rewrote the table in $readme_file" >&2
fi
