"""ppm_to_raw.py IN.ppm OUT.raw MEAN STD: a binary P6 PPM (maxval 255) as
the raw f32 H x W x 3 image a ViT reads, normalised (x / 255 - mean) / std;
for images already the model's size (no resampling)."""
import struct
import sys

data = open(sys.argv[1], "rb").read()
fields, pos = [], 0
while len(fields) < 4:
    while data[pos:pos + 1].isspace():
        pos += 1
    end = pos
    while not data[end:end + 1].isspace():
        end += 1
    fields.append(data[pos:end])
    pos = end
assert fields[0] == b"P6" and fields[3] == b"255", fields
width, height = int(fields[1]), int(fields[2])
pixels = data[pos + 1:pos + 1 + width * height * 3]
mean, std = float(sys.argv[3]), float(sys.argv[4])
vals = [(b / 255.0 - mean) / std for b in pixels]
open(sys.argv[2], "wb").write(struct.pack("<%df" % len(vals), *vals))
