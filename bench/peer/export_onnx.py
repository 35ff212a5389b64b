#!/usr/bin/python3
"""Export a tfc decoder spec + native safetensors weights to ONNX.

Builds a small PyTorch module from the YAML spec and the weights file (read
here with numpy: 8-byte little-endian header length, JSON header, raw data),
then exports two graphs with torch.onnx.export into OUT_DIR:

  prefill.onnx  ids [1, N] -> logits [1, N, V], present.{i}.{key,value}
  decode.onnx   ids [1, N], past.{i}.{key,value} [1, Hkv, P, K]
                -> logits [1, N, V], present.{i}.{key,value} [1, Hkv, P+N, K]

plus meta.json (sizes and names the node runner needs). Both graphs compute
what tfc computes (docs/weights.md for the names, compiler/reference for the
maths): pre- or post-norm blocks, LayerNorm/RMSNorm, learned/sinusoidal/
RoPE (rotate-half) positions, grouped-query attention, (gated) MLPs, a tied
or untied LM head. Models over 2 GB are written with external data (one file
per weight, shared by the two graphs since the names are the same).

  /usr/bin/python3 bench/peer/export_onnx.py SPEC.yaml W.safetensors OUT_DIR
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import yaml


def fail(msg):
    sys.exit(f"export_onnx.py: error: {msg}")


def read_safetensors(path):
    """name -> float32 numpy array (memory-mapped where already f32)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            fail(f"{path}: shorter than the 8-byte header length")
        n = int.from_bytes(head, "little")
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        dt = info["dtype"]
        if dt == "F32":
            arr = raw.view("<f4")
        elif dt == "F16":
            arr = raw.view("<f2").astype(np.float32)
        elif dt == "F64":
            arr = raw.view("<f8").astype(np.float32)
        elif dt == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            fail(f"{path}: tensor '{name}': dtype {dt} is not a weight dtype")
        out[name] = arr.reshape(info["shape"])
    return out


class Spec:
    """The keys of a decoder spec this exporter needs, defaults filled in
    as docs/spec.md states them."""

    def __init__(self, path):
        with open(path) as f:
            y = yaml.safe_load(f)
        if y.get("family", "decoder") != "decoder":
            fail(f"{path}: family: expected decoder, found {y.get('family')}")
        d = y["dims"]
        self.name = y["name"]
        self.vocab = d["vocab"]
        self.d = d["d_model"]
        self.layers = d["n_layers"]
        self.heads = d["n_heads"]
        self.head_dim = d.get("head_dim", self.d // self.heads)
        self.kv_heads = d.get("n_kv_heads", self.heads)
        self.d_ff = d.get("d_ff", 4 * self.d)
        self.max_seq = d["max_seq"]
        b = y.get("block", {}) or {}
        self.norm = b.get("norm", "layernorm")
        self.eps = float(b.get("norm_eps", 1e-5))
        self.post = b.get("placement", "pre") == "post"
        att = b.get("attention", {}) or {}
        self.causal = att.get("causal", True)
        self.attn_bias = att.get("bias", True)
        mlp = b.get("mlp", {}) or {}
        self.act = mlp.get("activation", "gelu_tanh")
        self.gated = mlp.get("gated", False)
        self.mlp_bias = mlp.get("bias", True)
        pos = y.get("positions", {}) or {}
        self.pos = pos.get("kind", "learned")
        self.theta = float(pos.get("rope_theta", 10000.0))
        head = y.get("head", {}) or {}
        if head.get("kind", "lm") != "lm":
            fail(f"{path}: head.kind: expected lm, found {head.get('kind')}")
        self.tied = head.get("tie_embeddings", True)
        self.final_norm = y.get("final_norm", True)
        if y.get("embedding_norm", False):
            fail(f"{path}: embedding_norm: not supported by the exporter")


def key(name):
    # Parameter names may not contain '.'; '__' keeps them readable.
    return name.replace(".", "__")


class Decoder(torch.nn.Module):
    def __init__(self, spec, weights):
        super().__init__()
        self.s = spec
        for name, arr in weights.items():
            t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
            self.register_parameter(
                key(name), torch.nn.Parameter(t, requires_grad=False))
        if spec.tied:
            # The head as its own [D, V] matrix: a plain MatMul for ORT.
            head = np.ascontiguousarray(weights["tok_embed"].T,
                                        dtype=np.float32)
            self.register_parameter(
                "lm_head__w",
                torch.nn.Parameter(torch.from_numpy(head), requires_grad=False))
        k = spec.head_dim
        pos = np.arange(spec.max_seq, dtype=np.float64)[:, None]
        if spec.pos == "rope":
            freq = spec.theta ** (-2.0 * np.arange(k // 2) / k)
            ang = pos * freq[None, :]
            self.register_buffer("rope_cos",
                                 torch.from_numpy(np.cos(ang).astype("f4")))
            self.register_buffer("rope_sin",
                                 torch.from_numpy(np.sin(ang).astype("f4")))
        elif spec.pos == "sinusoidal":
            j = np.arange(spec.d)
            ang = pos / np.power(10000.0, (j - j % 2) / spec.d)[None, :]
            table = np.where(j % 2 == 0, np.sin(ang), np.cos(ang))
            self.register_buffer("sin_pos",
                                 torch.from_numpy(table.astype("f4")))

    def w(self, name):
        return getattr(self, key(name))

    def has(self, name):
        return hasattr(self, key(name))

    def norm(self, x, prefix):
        s = self.s
        if s.norm == "rmsnorm":
            var = (x * x).mean(-1, keepdim=True)
            return x * torch.rsqrt(var + s.eps) * self.w(prefix + ".gamma")
        return F.layer_norm(x, (s.d,), self.w(prefix + ".gamma"),
                            self.w(prefix + ".beta"), s.eps)

    def linear(self, x, wname, bname, use_bias):
        y = torch.matmul(x, self.w(wname))
        return y + self.w(bname) if use_bias else y

    def rope(self, x, cos, sin):
        # x [1, heads, N, K]; rotate-half pairs j and j + K/2.
        half = self.s.head_dim // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def act(self, x):
        a = self.s.act
        if a == "gelu_tanh":
            return F.gelu(x, approximate="tanh")
        if a == "gelu":
            return F.gelu(x)
        if a == "silu":
            return x * torch.sigmoid(x)
        return torch.relu(x)

    def attention(self, x, i, past, positions, cos, sin):
        s = self.s
        h, hkv, k = s.heads, s.kv_heads, s.head_dim
        p = f"layers.{i}.attn."
        n = x.shape[1]
        q = self.linear(x, p + "wq", p + "bq", s.attn_bias)
        kk = self.linear(x, p + "wk", p + "bk", s.attn_bias)
        v = self.linear(x, p + "wv", p + "bv", s.attn_bias)
        q = q.reshape(1, n, h, k).transpose(1, 2)
        kk = kk.reshape(1, n, hkv, k).transpose(1, 2)
        v = v.reshape(1, n, hkv, k).transpose(1, 2)
        if cos is not None:
            q = self.rope(q, cos, sin)
            kk = self.rope(kk, cos, sin)
        if past is not None:
            kk = torch.cat([past[0], kk], dim=2)
            v = torch.cat([past[1], v], dim=2)
        t = kk.shape[2]
        # Query heads g*group .. g*group+group-1 share key/value head g:
        # broadcast instead of copying K and V.
        group = h // hkv
        qg = q.reshape(1, hkv, group * n, k)
        scores = torch.matmul(qg, kk.transpose(2, 3)) * (1.0 / math.sqrt(k))
        scores = scores.reshape(1, hkv, group, n, t)
        if s.causal:
            rows = positions.reshape(n, 1)
            cols = torch.arange(t).reshape(1, t)
            scores = scores.masked_fill(cols > rows, float("-inf"))
        probs = torch.softmax(scores, dim=-1).reshape(1, hkv, group * n, t)
        out = torch.matmul(probs, v).reshape(1, h, n, k)
        out = out.transpose(1, 2).reshape(1, n, h * k)
        return self.linear(out, p + "wo", p + "bo", s.attn_bias), (kk, v)

    def mlp(self, x, i):
        s = self.s
        p = f"layers.{i}.mlp."
        a = self.act(self.linear(x, p + "w1", p + "b1", s.mlp_bias))
        if s.gated:
            a = a * self.linear(x, p + "w3", p + "b3", s.mlp_bias)
        return self.linear(a, p + "w2", p + "b2", s.mlp_bias)

    def run(self, ids, pasts):
        s = self.s
        n = ids.shape[1]
        start = pasts[0][0].shape[2] if pasts is not None else 0
        positions = torch.arange(n) + start
        x = F.embedding(ids, self.w("tok_embed"))
        if s.pos == "learned":
            x = x + F.embedding(positions, self.w("pos_embed")).unsqueeze(0)
        elif s.pos == "sinusoidal":
            x = x + F.embedding(positions, self.sin_pos).unsqueeze(0)
        cos = sin = None
        if s.pos == "rope":
            cos = F.embedding(positions, self.rope_cos)
            sin = F.embedding(positions, self.rope_sin)
        presents = []
        for i in range(s.layers):
            past = pasts[i] if pasts is not None else None
            pre = f"layers.{i}."
            if s.post:
                a, kv = self.attention(x, i, past, positions, cos, sin)
                x = self.norm(x + a, pre + "attn_norm")
                x = self.norm(x + self.mlp(x, i), pre + "mlp_norm")
            else:
                a, kv = self.attention(self.norm(x, pre + "attn_norm"), i,
                                       past, positions, cos, sin)
                x = x + a
                x = x + self.mlp(self.norm(x, pre + "mlp_norm"), i)
            presents.extend(kv)
        if s.final_norm:
            x = self.norm(x, "final_norm")
        return (torch.matmul(x, self.w("lm_head.w")), *presents)


class Prefill(torch.nn.Module):
    def __init__(self, core):
        super().__init__()
        self.core = core

    def forward(self, ids):
        return self.core.run(ids, None)


class Decode(torch.nn.Module):
    def __init__(self, core):
        super().__init__()
        self.core = core

    def forward(self, ids, *flat):
        pasts = [(flat[2 * i], flat[2 * i + 1])
                 for i in range(len(flat) // 2)]
        return self.core.run(ids, pasts)


def main():
    if len(sys.argv) != 4:
        fail("usage: export_onnx.py SPEC.yaml W.safetensors OUT_DIR")
    spec_path, weights_path, out_dir = sys.argv[1:]
    spec = Spec(spec_path)
    weights = read_safetensors(weights_path)
    if "layers.0.attn_norm.gamma" not in weights:
        fail(f"{weights_path}: no tensor 'layers.0.attn_norm.gamma': expected "
             f"the native layout (tfc init-weights --layout native)")
    os.makedirs(out_dir, exist_ok=True)
    core = Decoder(spec, weights).eval()
    kv_names = []
    for i in range(spec.layers):
        kv_names += [f"{i}.key", f"{i}.value"]
    present = ["present." + n for n in kv_names]
    past = ["past." + n for n in kv_names]
    axes = {"ids": {1: "n"}, "logits": {1: "n"}}
    for n in present:
        axes[n] = {2: "total"}
    ids = torch.tensor([[1, 2, 3, 4]], dtype=torch.int64) % spec.vocab
    with torch.no_grad():
        torch.onnx.export(Prefill(core), (ids,),
                          os.path.join(out_dir, "prefill.onnx"),
                          input_names=["ids"],
                          output_names=["logits"] + present,
                          dynamic_axes=axes, opset_version=17)
        for n in past:
            axes[n] = {2: "past"}
        kv = torch.zeros(1, spec.kv_heads, 3, spec.head_dim)
        torch.onnx.export(Decode(core),
                          (ids[:, :1], *([kv] * len(past))),
                          os.path.join(out_dir, "decode.onnx"),
                          input_names=["ids"] + past,
                          output_names=["logits"] + present,
                          dynamic_axes=axes, opset_version=17)
    meta = {"name": spec.name, "vocab": spec.vocab, "layers": spec.layers,
            "kv_heads": spec.kv_heads, "head_dim": spec.head_dim,
            "max_seq": spec.max_seq, "past": past, "present": present}
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"exported {spec.name} to {out_dir} (prefill.onnx, decode.onnx)")


if __name__ == "__main__":
    main()
