"""compare_quantized.py COMPILED REFERENCE COLS REL TOP1: checks the raw f32
[N, COLS] logits of a model compiled with reduced-precision weights against
the f32 reference: the largest error relative to the largest reference
magnitude, max|a-b| / max|ref|, must be <= REL, and the rows whose largest
logit is at the same column must be a fraction >= TOP1 of all rows.
Prints both figures."""
import struct
import sys

a_path, b_path = sys.argv[1], sys.argv[2]
cols, rel_limit, top1_limit = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
a = open(a_path, "rb").read()
b = open(b_path, "rb").read()
if len(a) != len(b) or len(a) % (4 * cols):
    sys.exit("size mismatch: %d vs %d bytes (cols %d)" % (len(a), len(b), cols))
va = struct.unpack("<%df" % (len(a) // 4), a)
vb = struct.unpack("<%df" % (len(b) // 4), b)
if any(x != x for x in va):
    sys.exit("NaN in the compiled output")
scale = max(abs(y) for y in vb) or 1.0
worst = max(abs(x - y) for x, y in zip(va, vb)) / scale
rows = len(va) // cols
agree = 0
for r in range(rows):
    ra, rb = va[r * cols:(r + 1) * cols], vb[r * cols:(r + 1) * cols]
    agree += ra.index(max(ra)) == rb.index(max(rb))
top1 = agree / rows
ok = worst <= rel_limit and top1 >= top1_limit
print("%s: rows %d, max|a-b|/max|ref| %.2e (limit %.0e), top-1 agreement "
      "%d/%d = %.4f (limit %.2f)" % ("ok" if ok else "FAIL", rows, worst,
                                      rel_limit, agree, rows, top1, top1_limit))
sys.exit(0 if ok else 1)
