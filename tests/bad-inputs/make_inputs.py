"""make_inputs.py GOOD.safetensors OUTDIR: writes the generated inputs of
the bad-input catalogue (CATALOGUE.tsv) into OUTDIR: binary and deeply
nested specs, and broken copies of GOOD (a tiny-decoder weights file from
`tfc init-weights`). Generated at test time so that no opaque binary is
committed; each file is named after the one damage it carries."""
import json
import math
import os
import struct
import sys


def main():
    good, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    data = open(good, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]

    def raw(name, content):
        with open(os.path.join(out, name), "wb") as f:
            f.write(content)

    def st(name, hdr, data_section=body, length=None):
        """A safetensors file from a header (dict, or bytes taken as is)."""
        text = hdr if isinstance(hdr, bytes) else json.dumps(hdr).encode()
        text += b" " * (-len(text) % 8)
        size = len(text) if length is None else length
        raw(name, struct.pack("<Q", size) + text + data_section)

    def edit(name, fn):
        h = json.loads(json.dumps(header))
        fn(h)
        st(name, h)

    # --- specs that are not text, or nest without end ---------------------
    raw("garbage.yaml", bytes((i * 167 + 13) % 256 for i in range(4096)))
    raw("nul-bytes.yaml", b"name: x\0\0\0\ndims: {d_model: 8}\n")
    raw("deep-flow.yaml", b"name: " + b"[" * 20000 + b"]" * 20000 + b"\n")
    raw("deep-block.yaml",
        b"name: x\n" + b"".join(b"  " * i + b"k%d:\n" % i for i in range(3000))
        + b"  " * 3000 + b"v: 1\n")
    raw("long-line.yaml", b"name: " + b"x" * (8 << 20) + b"\nnmae: 1\n")
    raw("over-16mib.yaml", b"name: x\n#" + b"x" * (16 << 20) + b"\n")

    # --- safetensors: the container ---------------------------------------
    raw("zero-bytes.safetensors", b"")
    raw("four-bytes.safetensors", b"\x10\0\0\0")
    st("header-past-eof.safetensors", b"{}", b"", length=1000)
    st("header-2p63.safetensors", b"{}", b"", length=1 << 63)
    st("header-2p64-1.safetensors", b"{}", b"", length=(1 << 64) - 1)
    st("header-not-json.safetensors", b"{tok_embed: 1}")
    st("header-cut-json.safetensors", b'{"tok_embed": {"dtype": "F32"')
    st("header-array.safetensors", b"[]")
    st("header-empty.safetensors", b"")
    st("header-deep.safetensors",
       b'{"x": ' + b"[" * 100 + b"]" * 100 + b"}")
    dup = json.dumps(header).encode()
    first = dup.index(b'"layers.0.attn.wq"')
    entry_end = dup.index(b"}", first) + 1
    st("header-duplicate-tensor.safetensors",
       dup[:-1] + b", " + dup[first:entry_end] + b"}")
    st("header-bad-utf8.safetensors", b'{"tok\xff\xfe": {}}')
    st("header-trailing.safetensors", json.dumps(header).encode() + b" x")
    edit("metadata-not-strings.safetensors",
         lambda h: h.update({"__metadata__": {"format": 1}}))

    # --- safetensors: one tensor's entry ----------------------------------
    wq = "layers.0.attn.wq"

    def put(key, value):
        return lambda h: h[wq].__setitem__(key, value)

    edit("entry-extra-key.safetensors", put("offsets", [0, 4]))
    edit("entry-not-object.safetensors", lambda h: h.__setitem__(wq, [1]))
    edit("dtype-unknown.safetensors", put("dtype", "F8"))
    edit("dtype-int32.safetensors", put("dtype", "I32"))
    edit("shape-transposed.safetensors", put("shape", [16, 64]))
    edit("shape-negative.safetensors", put("shape", [-32, 32]))
    edit("shape-overflow.safetensors", put("shape", [1 << 62, 8]))
    edit("shape-not-array.safetensors", put("shape", "32x32"))
    b, e = header[wq]["data_offsets"]
    edit("offsets-past-end.safetensors",
         put("data_offsets", [len(body), len(body) + (e - b)]))
    edit("offsets-reversed.safetensors", put("data_offsets", [e, b]))
    edit("offsets-negative.safetensors", put("data_offsets", [-4, e - b - 4]))
    edit("offsets-wrong-size.safetensors", put("data_offsets", [b, e - 4]))
    edit("offsets-near-2p63.safetensors",
         put("data_offsets", [(1 << 63) - 1 - (e - b), (1 << 63) - 1]))
    edit("offsets-beyond-int64.safetensors",
         put("data_offsets", [1 << 63, (1 << 63) + (e - b)]))
    other = "layers.0.attn.wk"

    def overlap(h):
        ob, oe = h[other]["data_offsets"]
        h[wq]["data_offsets"] = [ob + 4, ob + 4 + (e - b)]
    edit("offsets-overlap.safetensors", overlap)

    # --- safetensors: the model's tensors ---------------------------------
    edit("missing-tensor.safetensors",
         lambda h: h.pop("layers.1.mlp.w1"))

    def extra(h):
        h2 = json.loads(json.dumps(h))
        end = len(body) + 16
        h2["layers.0.attn.extra"] = {"dtype": "F32", "shape": [4],
                                     "data_offsets": [len(body), end]}
        st("extra-tensor.safetensors", h2, body + bytes(16))
    extra(header)
    st("truncated-data.safetensors", header, body[:len(body) // 2])

    def poisoned(name, value, index):
        start = header[wq]["data_offsets"][0] + 4 * index
        patched = body[:start] + struct.pack("<f", value) + body[start + 4:]
        st(name, header, patched)
    poisoned("nan-weight.safetensors", math.nan, 33)
    poisoned("inf-weight.safetensors", -math.inf, 0)

    # An F64 copy of wq with one value beyond f32's range.
    def f64(h):
        h2 = json.loads(json.dumps(h))
        count = 32 * 32
        values = list(struct.unpack("<%df" % count, body[b:e]))
        values[5] = 1e300
        extra_bytes = struct.pack("<%dd" % count, *values)
        h2[wq] = {"dtype": "F64", "shape": [32, 32],
                  "data_offsets": [len(body), len(body) + len(extra_bytes)]}
        st("f64-beyond-f32.safetensors", h2, body + extra_bytes)
    f64(header)

    # Not a regular file.
    os.makedirs(os.path.join(out, "a-directory.safetensors"), exist_ok=True)


if __name__ == "__main__":
    main()
