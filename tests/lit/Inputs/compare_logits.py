"""compare_logits.py COMPILED REFERENCE COLS [LAST]: checks two raw f32
[N, COLS] outputs against the f32 tolerance max|a-b| <= 1e-4 * max(1, |ref|)
and prints the largest error relative to that bound. With LAST, only the
last LAST rows of REFERENCE are compared with all rows of COMPILED."""
import struct
import sys

a_path, b_path, cols = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = open(a_path, "rb").read()
b = open(b_path, "rb").read()
if len(sys.argv) > 4:
    last = int(sys.argv[4])
    b = b[len(b) - last * cols * 4:]
if len(a) != len(b) or len(a) % (4 * cols):
    sys.exit("size mismatch: %d vs %d bytes (cols %d)" % (len(a), len(b), cols))
va = struct.unpack("<%df" % (len(a) // 4), a)
vb = struct.unpack("<%df" % (len(b) // 4), b)
worst, where = 0.0, 0
for i, (x, y) in enumerate(zip(va, vb)):
    if x != x:
        sys.exit("NaN in the compiled output at %d" % i)
    ratio = abs(x - y) / (1e-4 * max(1.0, abs(y)))
    if ratio > worst:
        worst, where = ratio, i
status = "ok" if worst <= 1.0 else "FAIL"
print("%s: rows %d, worst error %.3f of the tolerance (row %d, col %d)" %
      (status, len(va) // cols, worst, where // cols, where % cols))
sys.exit(0 if worst <= 1.0 else 1)
