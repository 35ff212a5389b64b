"""prefix_rows.py FILE COLS: prints a raw f32 matrix one row a line (6
significant digits), so that tests can compare rows of two outputs."""
import struct
import sys

path, cols = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
values = struct.unpack("<%df" % (len(data) // 4), data)
for r in range(len(values) // cols):
    print(" ".join("%.6g" % v for v in values[r * cols:(r + 1) * cols]))
