#!/usr/bin/python3
"""Train tfc's demo model: a byte-level decoder on the King James Bible.

The text comes from Debian: package bible-kjv-text holds the compressed
KJV (/usr/lib/bible.data) and package bible-kjv its reader, /usr/bin/bible.
The script dumps every verse with `bible -f`, strips the "Ge1:1 " verse
references and writes one verse a line, with a blank line between chapters.
One token is one byte (vocab 256). The last 5% of the bytes are held out.

The model is models/demo-kjv.yaml, written in torch to match tfc's math
exactly (pre-norm LayerNorm blocks, causal attention with scale 1/sqrt(K),
gelu_tanh MLP, learned positions, final LayerNorm, logits = x tok_embed^T).
Parameters are kept in tfc's native orientation ([in, out], y = x W + b), so
the export is a plain dump of the tensors by their native names, as F32
safetensors written with json + struct (no safetensors package needed).

Only this script uses PyTorch (Debian's python3-torch). Run with Debian's
python3 (docs/demo-model.md has the exact command and results):

  /usr/bin/python3 scripts/train-demo-model.py \
      --out models/demo-kjv.safetensors

Debian's torch does its matrix products through the system libblas.so.3:
install libopenblas0-pthread, the reference BLAS is about 12x slower.
It is deterministic given --seed, --threads and the BLAS. --load W skips
training and only evaluates / samples / dumps logits of an existing file.
"""

import argparse
import json
import math
import os
import re
import struct
import subprocess
import sys
import time


def _threads_from_argv():
    """--threads, read before torch loads: OpenBLAS sizes its thread pool
    when the library is loaded."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv())
os.environ.setdefault("OMP_NUM_THREADS", _threads_from_argv())

import torch  # noqa: E402  (after the thread settings above)
import torch.nn.functional as F  # noqa: E402

# models/demo-kjv.yaml; keep the two in sync.
VOCAB = 256
D_MODEL = 256
N_LAYERS = 4
N_HEADS = 4
D_FF = 1024
MAX_SEQ = 256
EPS = 1e-5


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------
# Data

VERSE_REF = re.compile(r"^([0-9]?[A-Za-z]+)([0-9]+):([0-9]+) (.*)$")


def load_kjv_text(bible_bin):
    """The whole KJV as cleaned text, one verse a line."""
    if not os.path.exists(bible_bin):
        sys.exit("error: %s not found; install it with "
                 "`apt-get install -y bible-kjv bible-kjv-text`" % bible_bin)
    # -f turns pretty-printing off: one verse a line, prefixed "Book1:1 ".
    raw = subprocess.run([bible_bin, "-f", "gen1:1-rev22:21"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         check=True).stdout.decode("ascii")
    lines = []
    chapter = None
    for line in raw.splitlines():
        m = VERSE_REF.match(line)
        if not m:
            sys.exit("error: unexpected line from %s: %r" % (bible_bin, line))
        book_chapter = (m.group(1), m.group(2))
        if chapter is not None and book_chapter != chapter:
            lines.append("")  # a blank line between chapters
        chapter = book_chapter
        lines.append(m.group(4))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Model (native names and orientation, see docs/weights.md)

def init_params(gen):
    """Native-named parameters, GPT-2-style init (std 0.02; residual
    output projections scaled by 1/sqrt(2 M))."""
    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=gen) * std

    resid_std = 0.02 / math.sqrt(2 * N_LAYERS)
    p = {
        "tok_embed": normal(VOCAB, D_MODEL),
        "pos_embed": normal(MAX_SEQ, D_MODEL, std=0.01),
    }
    for i in range(N_LAYERS):
        pre = "layers.%d." % i
        p[pre + "attn_norm.gamma"] = torch.ones(D_MODEL)
        p[pre + "attn_norm.beta"] = torch.zeros(D_MODEL)
        for w in ("wq", "wk", "wv"):
            p[pre + "attn." + w] = normal(D_MODEL, D_MODEL)
        p[pre + "attn.wo"] = normal(D_MODEL, D_MODEL, std=resid_std)
        for b in ("bq", "bk", "bv", "bo"):
            p[pre + "attn." + b] = torch.zeros(D_MODEL)
        p[pre + "mlp_norm.gamma"] = torch.ones(D_MODEL)
        p[pre + "mlp_norm.beta"] = torch.zeros(D_MODEL)
        p[pre + "mlp.w1"] = normal(D_MODEL, D_FF)
        p[pre + "mlp.b1"] = torch.zeros(D_FF)
        p[pre + "mlp.w2"] = normal(D_FF, D_MODEL, std=resid_std)
        p[pre + "mlp.b2"] = torch.zeros(D_MODEL)
    p["final_norm.gamma"] = torch.ones(D_MODEL)
    p["final_norm.beta"] = torch.zeros(D_MODEL)
    for t in p.values():
        t.requires_grad_(True)
    return p


def forward(p, tokens):
    """tokens [B, N] int64 -> logits [B, N, V]."""
    B, N = tokens.shape
    H, K = N_HEADS, D_MODEL // N_HEADS
    x = p["tok_embed"][tokens] + p["pos_embed"][:N]
    mask = torch.ones(N, N, dtype=torch.bool).triu(1)
    for i in range(N_LAYERS):
        pre = "layers.%d." % i
        h = F.layer_norm(x, (D_MODEL,), p[pre + "attn_norm.gamma"],
                         p[pre + "attn_norm.beta"], EPS)
        q = (h @ p[pre + "attn.wq"] + p[pre + "attn.bq"])
        k = (h @ p[pre + "attn.wk"] + p[pre + "attn.bk"])
        v = (h @ p[pre + "attn.wv"] + p[pre + "attn.bv"])
        q = q.view(B, N, H, K).transpose(1, 2)
        k = k.view(B, N, H, K).transpose(1, 2)
        v = v.view(B, N, H, K).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(K))
        s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v            # [B, H, N, K]
        a = a.transpose(1, 2).reshape(B, N, H * K)  # heads in order
        x = x + a @ p[pre + "attn.wo"] + p[pre + "attn.bo"]
        h = F.layer_norm(x, (D_MODEL,), p[pre + "mlp_norm.gamma"],
                         p[pre + "mlp_norm.beta"], EPS)
        h = F.gelu(h @ p[pre + "mlp.w1"] + p[pre + "mlp.b1"],
                   approximate="tanh")
        x = x + h @ p[pre + "mlp.w2"] + p[pre + "mlp.b2"]
    x = F.layer_norm(x, (D_MODEL,), p["final_norm.gamma"],
                     p["final_norm.beta"], EPS)
    return x @ p["tok_embed"].t()


# --------------------------------------------------------------------------
# safetensors (F32, native names), written and read by hand

def save_safetensors(path, params):
    header = {"__metadata__": {"format": "pt", "tfc.layout": "native"}}
    blobs = []
    offset = 0
    for name, t in params.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    params = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit("error: %s: tensor %s: expected dtype F32, found %s"
                     % (path, name, info["dtype"]))
        lo, hi = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32)
        params[name] = t.reshape(info["shape"]).clone()
    return params


# --------------------------------------------------------------------------
# Training and evaluation

def lr_at(step, steps, lr, warmup):
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))


@torch.no_grad()
def evaluate(p, data, seq, max_windows=None, batch=16):
    """Mean nats/byte over non-overlapping windows of seq+1 bytes."""
    n_windows = (len(data) - 1) // seq
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    total, count = 0.0, 0
    for w0 in range(0, n_windows, batch):
        rows = [data[w * seq: w * seq + seq + 1]
                for w in range(w0, min(n_windows, w0 + batch))]
        xy = torch.stack(rows)
        logits = forward(p, xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB),
                               xy[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += xy[:, 1:].numel()
    return total / count


@torch.no_grad()
def generate(p, prompt, n, seed, temperature=0.8, top_k=40):
    gen = torch.Generator().manual_seed(seed)
    ids = list(prompt.encode("ascii"))
    for _ in range(n):
        ctx = torch.tensor([ids[-MAX_SEQ:]])
        logits = forward(p, ctx)[0, -1]
        if temperature == 0:
            ids.append(int(logits.argmax()))
            continue
        logits = logits / temperature
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        ids.append(int(torch.multinomial(probs, 1, generator=gen)))
    return bytes(ids).decode("latin-1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/demo-kjv.safetensors")
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=MAX_SEQ)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--bible", default="/usr/bin/bible")
    ap.add_argument("--save-text", help="also write the cleaned text here")
    ap.add_argument("--load", help="skip training: evaluate this file")
    ap.add_argument("--prompt", default="And God said, ")
    ap.add_argument("--sample-bytes", type=int, default=400)
    ap.add_argument("--dump-logits",
                    help="write the prompt's logits (raw f32, a row a byte)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.seq > MAX_SEQ:
        sys.exit("error: --seq %d exceeds max_seq %d" % (args.seq, MAX_SEQ))

    text = load_kjv_text(args.bible)
    if args.save_text:
        with open(args.save_text, "w") as f:
            f.write(text)
    data = torch.frombuffer(bytearray(text.encode("ascii")),
                            dtype=torch.uint8).long()
    split = int(len(data) * 0.95)
    train, val = data[:split], data[split:]
    log("text: %d bytes, %d lines; train %d, val %d (last 5%%)"
        % (len(data), text.count("\n"), len(train), len(val)))

    if args.load:
        p = load_safetensors(args.load)
        log("loaded %s (%d tensors)" % (args.load, len(p)))
    else:
        gen = torch.Generator().manual_seed(args.seed)
        p = init_params(gen)
        n_params = sum(t.numel() for t in p.values())
        log("model: D=%d M=%d H=%d F=%d max_seq=%d, %d parameters"
            % (D_MODEL, N_LAYERS, N_HEADS, D_FF, MAX_SEQ, n_params))
        decay = [t for n, t in p.items() if t.dim() == 2]
        no_decay = [t for n, t in p.items() if t.dim() != 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": args.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
        t0 = time.time()
        run_loss = None
        for step in range(args.steps):
            lr = lr_at(step, args.steps, args.lr, args.warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            starts = torch.randint(0, len(train) - args.seq - 1,
                                   (args.batch,), generator=gen)
            xy = torch.stack([train[s:s + args.seq + 1] for s in starts])
            logits = forward(p, xy[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, VOCAB),
                                   xy[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
            opt.step()
            run_loss = loss.item() if run_loss is None \
                else 0.95 * run_loss + 0.05 * loss.item()
            last = step + 1 == args.steps
            if (step + 1) % 25 == 0 or step == 0 or last:
                el = time.time() - t0
                log("step %5d/%d  lr %.2e  train %.4f nats/byte "
                    "(%.3f bits/byte)  %.0fs elapsed, %.2fs/step"
                    % (step + 1, args.steps, lr, run_loss,
                       run_loss / math.log(2), el, el / (step + 1)))
            if (step + 1) % args.eval_every == 0 and not last:
                v = evaluate(p, val, args.seq, max_windows=64)
                log("  val (64 windows) %.4f nats/byte (%.3f bits/byte)"
                    % (v, v / math.log(2)))
        log("training: %d steps in %.0fs" % (args.steps, time.time() - t0))
        save_safetensors(args.out, p)
        log("wrote %s (%d bytes)" % (args.out, os.path.getsize(args.out)))
        # Evaluate what was written, as tfc will read it.
        p = load_safetensors(args.out)

    t1 = time.time()
    v = evaluate(p, val, MAX_SEQ)
    log("final val (all %d held-out bytes, windows of %d): %.4f nats/byte "
        "(%.3f bits/byte)  [%.0fs]"
        % (len(val), MAX_SEQ, v, v / math.log(2), time.time() - t1))

    prompt_ids = list(args.prompt.encode("ascii"))
    log("prompt %r = bytes \"%s\"" % (args.prompt,
                                       " ".join(map(str, prompt_ids))))
    with torch.no_grad():
        logits = forward(p, torch.tensor([prompt_ids]))[0]
    last_row = logits[-1]
    top = int(last_row.argmax())
    log("last row: argmax %d (%r), logit %.6f"
        % (top, chr(top), float(last_row[top])))
    if args.dump_logits:
        with open(args.dump_logits, "wb") as f:
            f.write(logits.to(torch.float32).contiguous().numpy().tobytes())
        log("wrote %s (%d x %d f32)" % (args.dump_logits, *logits.shape))
    log("greedy:\n" + generate(p, args.prompt, args.sample_bytes, args.seed,
                               temperature=0))
    log("sample (temperature 0.8, top-k 40, seed %d):\n" % args.seed
        + generate(p, args.prompt, args.sample_bytes, args.seed))


if __name__ == "__main__":
    main()
