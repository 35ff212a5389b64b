#!/usr/bin/env python3
"""torch_gpt2.py [--runs R]: the peer half of bench/gpu-check.sh on an
NVIDIA GPU. Times Hugging Face's GPT-2 small (random weights: the timing
does not depend on them) in PyTorch, eager and torch.compile(mode=
"reduce-overhead", CUDA graphs), f32 and f16, batch 1: prefill of N = 128
and 512 tokens (every row of logits, as tfc's figures), and decode steps
after a 128-token prompt (the KV cache of the model's own generate path).
Prints one line per figure: "torch MODE DTYPE prefill N: MEDIAN ms" and
"torch MODE DTYPE decode: MEDIAN ms/token". Exits 0 with a note when
PyTorch, CUDA or transformers is missing.
"""
import argparse
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--decode-steps", type=int, default=64)
    args = ap.parse_args()
    try:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError as e:
        print("torch: skipped (%s)" % e)
        return
    if not torch.cuda.is_available():
        print("torch: skipped (no CUDA device)")
        return
    torch.manual_seed(0)
    dev = torch.device("cuda")
    print("torch: %s, %s" % (torch.__version__, torch.cuda.get_device_name(0)))

    def timed(fn, runs):
        fn()  # warm-up (and compilation)
        fn()
        times = []
        for _ in range(runs):
            torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    for dtype_name, dtype in (("f32", torch.float32), ("f16", torch.float16)):
        model = GPT2LMHeadModel(GPT2Config()).to(dev, dtype).eval()
        for mode in ("eager", "compile"):
            try:
                step = model if mode == "eager" else torch.compile(
                    model, mode="reduce-overhead")
                with torch.no_grad():
                    for n in (128, 512):
                        ids = torch.randint(0, 50257, (1, n), device=dev)
                        ms = timed(lambda: step(ids, use_cache=False).logits,
                                   args.runs)
                        print("torch %s %s prefill %d: %.3f ms" %
                              (mode, dtype_name, n, ms))
                    prompt = torch.randint(0, 50257, (1, 128), device=dev)

                    def decode():
                        out = model(prompt, use_cache=True)
                        past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
                        torch.cuda.synchronize()
                        t = time.perf_counter()
                        for _ in range(args.decode_steps):
                            out = step(tok, past_key_values=past, use_cache=True)
                            past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
                        torch.cuda.synchronize()
                        return (time.perf_counter() - t) * 1e3 / args.decode_steps

                    decode()
                    ms = statistics.median(decode() for _ in range(max(3, args.runs // 3)))
                    print("torch %s %s decode: %.3f ms/token" % (mode, dtype_name, ms))
            except Exception as e:  # a peer's failure is reported, not fatal
                print("torch %s %s: failed (%s)" % (mode, dtype_name,
                                                    str(e).splitlines()[0][:200]))


if __name__ == "__main__":
    sys.exit(main())
