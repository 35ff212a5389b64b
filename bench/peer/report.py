#!/usr/bin/python3
"""Turn bench/peer-bench.sh's samples into its table.

  report.py SAMPLES.tsv --fma GFLOPS --bw GBPS --spec NAME=SPEC.yaml ...

SAMPLES.tsv lines: model, measure (prefill:N or decode:P+S), engine (tfc,
ort, tfc-int8, tfc-f16), milliseconds (per forward, or per token for
decode); one line per alternating round. Prints, per model and measure, the
median/min/max over rounds of each engine, tfc/ORT (time ratio) and ORT/tfc
(speedup), the achieved rate and the bound-ratio (measured time / the time
at the ceiling; 1.0 = at the ceiling):

  prefill FLOPs = 2*N*P + 2*M*H*K*N*(N+1)
      P = parameters of the matrices (Q, K, V, O, MLP, LM head), the
      second term the causal attention (QK^T and AV over N(N+1)/2 pairs);
      bound = FLOPs / FMA peak.
  decode bytes/token = b*P + 2*M*Hkv*K*4*(prompt + steps/2)
      b = bytes per matrix weight (4 f32, 2 f16, 1 int8), the second term
      the KV cache read at the mean position; bound = bytes / read bandwidth.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import Spec  # noqa: E402

WEIGHT_BYTES = {"tfc": 4, "ort": 4, "tfc-f16": 2, "tfc-bf16": 2, "tfc-int8": 1}
ENGINE_NAMES = {"tfc": "tfc", "ort": "ORT", "tfc-int8": "tfc int8",
                "tfc-f16": "tfc f16", "tfc-bf16": "tfc bf16"}


def matrix_params(s):
    hk, kvk = s.heads * s.head_dim, s.kv_heads * s.head_dim
    per_layer = s.d * hk + 2 * s.d * kvk + hk * s.d
    per_layer += (3 if s.gated else 2) * s.d * s.d_ff
    return s.layers * per_layer + s.d * s.vocab


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--fma", type=float, required=True, help="GFLOP/s")
    ap.add_argument("--bw", type=float, required=True, help="GB/s")
    ap.add_argument("--spec", action="append", default=[])
    a = ap.parse_args()
    specs = {}
    for item in a.spec:
        name, path = item.split("=", 1)
        specs[name] = Spec(path)
    data = {}  # (model, measure) -> engine -> [ms]
    order = []
    with open(a.samples) as f:
        for line in f:
            model, measure, engine, ms = line.split()
            k = (model, measure)
            if k not in data:
                data[k] = {}
                order.append(k)
            data[k].setdefault(engine, []).append(float(ms))
    head = (f"{'model':<12} {'measure':<16} {'engine':<9} {'median':>9} "
            f"{'min':>9} {'max':>9} {'tfc/ORT':>8} {'ORT/tfc':>8} "
            f"{'achieved':>15} {'bound-ratio':>11}")
    print(head)
    print("-" * len(head))
    for model, measure in order:
        s = specs[model]
        kind, size = measure.split(":")
        engines = data[(model, measure)]
        ort = statistics.median(engines["ort"]) if "ort" in engines else None
        if kind == "prefill":
            n = int(size)
            label = f"prefill N={n}"
            work = 2 * n * matrix_params(s) + \
                2 * s.layers * s.heads * s.head_dim * n * (n + 1)
        else:
            prompt, steps = (int(x) for x in size.split("+"))
            label = f"decode {prompt}+{steps}"
            kv = 2 * s.layers * s.kv_heads * s.head_dim * 4 * \
                (prompt + steps / 2)
        for engine in ["tfc", "ort", "tfc-int8", "tfc-f16", "tfc-bf16"]:
            if engine not in engines:
                continue
            xs = engines[engine]
            med = statistics.median(xs)
            unit = "ms" if kind == "prefill" else "ms/tok"
            if kind == "prefill":
                rate = work / (med * 1e-3) / 1e9
                achieved = f"{rate:.1f} GFLOP/s"
                bound_ms = work / (a.fma * 1e9) * 1e3
            else:
                nbytes = WEIGHT_BYTES[engine] * matrix_params(s) + kv
                rate = nbytes / (med * 1e-3) / 1e9
                achieved = f"{rate:.1f} GB/s"
                bound_ms = nbytes / (a.bw * 1e9) * 1e3
            ratio = speed = ""
            if engine != "ort" and ort:
                ratio = f"{med / ort:.2f}"
                speed = f"{ort / med:.2f}"
            print(f"{model:<12} {label:<16} {ENGINE_NAMES[engine]:<9} "
                  f"{med:>9.3f} {min(xs):>9.3f} {max(xs):>9.3f} {ratio:>8} "
                  f"{speed:>8} {achieved:>15} {med / bound_ms:>11.2f}"
                  f"   ({unit}, {len(xs)} runs)")


if __name__ == "__main__":
    main()
