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

    def tensors():
        """The good file's tensors in data order: [name, entry, bytes]."""
        items = [(k, v) for k, v in header.items() if k != "__metadata__"]
        items.sort(key=lambda kv: kv[1]["data_offsets"])
        return [[k, dict(v), body[v["data_offsets"][0]:v["data_offsets"][1]]]
                for k, v in items]

    def packed(name, items):
        """A file holding `items` ([name, entry, bytes]) back to back, as a
        writer must (the reader refuses bytes that no tensor covers)."""
        h = {k: v for k, v in header.items() if k == "__metadata__"}
        offset = 0
        for k, entry, data_bytes in items:
            entry = dict(entry)
            entry["data_offsets"] = [offset, offset + len(data_bytes)]
            h[k] = entry
            offset += len(data_bytes)
        st(name, h, b"".join(d for _, _, d in items))

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
    packed("missing-tensor.safetensors",
           [t for t in tensors() if t[0] != "layers.1.mlp.w1"])

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

    # wq as F64, with one value beyond f32's range.
    def f64():
        count = 32 * 32
        values = list(struct.unpack("<%df" % count, body[b:e]))
        values[5] = 1e300
        items = tensors()
        for t in items:
            if t[0] == wq:
                t[1]["dtype"] = "F64"
                t[2] = struct.pack("<%dd" % count, *values)
        packed("f64-beyond-f32.safetensors", items)
    f64()

    # --- safetensors: bytes that no tensor covers -------------------------
    st("trailing-bytes.safetensors", header, body + bytes(64))

    def gap(h):  # 64 stray bytes just before wq's data
        for v in h.values():
            if "data_offsets" in v and v["data_offsets"][0] >= b:
                v["data_offsets"] = [o + 64 for o in v["data_offsets"]]
        st("offsets-gap.safetensors", h, body[:b] + bytes(64) + body[b:])
    gap(json.loads(json.dumps(header)))
    # wk's entry points at wq's bytes (overlap is named before wk's gap).
    edit("offsets-alias.safetensors",
         lambda h: h[other].__setitem__("data_offsets", [b, e]))

    # --- safetensors: names with control characters -----------------------
    # A NUL (valid JSON as \u0000) in an extra tensor's name reaches the
    # loader's "unexpected tensor" message; a newline in a name with a bad
    # dtype reaches the reader's. Both must be escaped, on one line.
    packed("name-nul.safetensors", tensors() + [
        ["layers.0.attn.x\0y", {"dtype": "F32", "shape": [4]}, bytes(16)]])
    edit("name-newline.safetensors",
         lambda h: h.__setitem__(wq + "\nINJECTED",
                                 dict(h.pop(wq), dtype="F8")))

    # Not a regular file: a directory, and a FIFO with no writer (opening
    # one for reading blocks until a writer comes, unless done non-blocking).
    os.makedirs(os.path.join(out, "a-directory.safetensors"), exist_ok=True)
    fifo = os.path.join(out, "a-fifo.safetensors")
    if os.path.lexists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo)


if __name__ == "__main__":
    main()
