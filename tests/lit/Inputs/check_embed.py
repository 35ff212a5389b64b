"""check_embed.py EMBED_OUT REF1.bin REF2.bin COLS: checks `tfc embed`'s
printed vectors against the mean of the reference interpreter's hidden
states (f32 tolerance 1e-4 * max(1, |ref|)) and its cosine similarity
against the one computed from those means (1e-5)."""
import math
import struct
import sys

out, ref_paths, cols = sys.argv[1], sys.argv[2:4], int(sys.argv[4])
lines = open(out).read().splitlines()
vectors = [list(map(float, lines[i + 1].split()))
           for i, l in enumerate(lines) if l.startswith("text ")]
cosine = [float(l.split(":")[1]) for l in lines
          if l.startswith("cosine similarity:")]
assert len(vectors) == 2 and len(cosine) == 1, lines
means = []
for path in ref_paths:
    raw = open(path, "rb").read()
    v = struct.unpack("<%df" % (len(raw) // 4), raw)
    rows = len(v) // cols
    means.append([sum(v[r * cols + c] for r in range(rows)) / rows
                  for c in range(cols)])
for k, (got, want) in enumerate(zip(vectors, means)):
    assert len(got) == cols, (len(got), cols)
    worst = max(abs(a - b) / (1e-4 * max(1.0, abs(b)))
                for a, b in zip(got, want))
    print("text %d: mean-pooled vector ok (worst %.3f of the tolerance)"
          % (k + 1, worst) if worst <= 1 else "text %d: FAIL %.3f" % (k + 1, worst))
dot = sum(a * b for a, b in zip(*means))
want = dot / math.sqrt(sum(a * a for a in means[0]) *
                       sum(b * b for b in means[1]))
print("cosine ok" if abs(cosine[0] - want) <= 1e-5 else
      "cosine FAIL: %f vs %f" % (cosine[0], want))
