"""image_to_raw.py IN OUT HEIGHT WIDTH CHANNELS MEAN STD RESIZE: a PNG
(8 or 16 bits, gray/RGB with or without alpha, not interlaced) or binary
PPM/PGM (P5/P6) as the raw f32 HEIGHT x WIDTH x CHANNELS image a ViT reads,
prepared independently of runtime/Image.cpp but by its documented rules
(runtime/Image.h), so tfc classify can be checked against the reference
interpreter on images of another size:

  - samples / maxval; gray replicated to RGB, RGB to gray by 0.299 R +
    0.587 G + 0.114 B; alpha dropped;
  - RESIZE crop: scaled by max(HEIGHT / h, WIDTH / w), the other side
    rounded down, the window's offset Python's round(excess / 2);
    RESIZE stretch: each axis scaled to HEIGHT and WIDTH on its own;
  - separable triangle filter of radius max(1, source / scaled) pixels
    around (i + offset + 0.5) * source / scaled, weights normalised over
    the pixels inside the image (bilinear when enlarging, PIL's antialiased
    bilinear when shrinking), in double precision;
  - (x - MEAN) / STD, the same MEAN and STD for every channel."""
import math
import struct
import sys
import zlib


def read_png(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = header
    assert depth in (8, 16) and interlace == 0, header
    per_pixel = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    bpp = per_pixel * depth // 8
    stride = width * bpp
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
            else:
                assert f == 0, f
        rows.append(line)
        prev = line
    flat = b"".join(rows)
    if depth == 8:
        samples = list(flat)
    else:
        samples = list(struct.unpack(">%dH" % (len(flat) // 2), flat))
    return width, height, per_pixel, (1 << depth) - 1, samples


def read_pnm(data):
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] in (b"P5", b"P6"), fields[0]
    width, height, maxval = int(fields[1]), int(fields[2]), int(fields[3])
    per_pixel = 3 if fields[0] == b"P6" else 1
    n = width * height * per_pixel
    raster = data[pos + 1:]
    if maxval < 256:
        samples = list(raster[:n])
    else:
        samples = list(struct.unpack(">%dH" % n, raster[:2 * n]))
    return width, height, per_pixel, maxval, samples


def axis_taps(src, scaled, offset, out):
    scale = src / scaled
    radius = max(scale, 1.0)
    taps = []
    for i in range(out):
        centre = (i + offset + 0.5) * scale

        def weight(j):
            return max(0.0, 1.0 - abs((j + 0.5 - centre) / radius))

        lo = max(0, math.floor(centre - radius + 0.5))
        hi = min(src, math.floor(centre + radius + 0.5))
        while lo < hi and weight(lo) == 0:
            lo += 1
        while hi > lo and weight(hi - 1) == 0:
            hi -= 1
        total = 0.0
        for j in range(lo, hi):
            total += weight(j)
        taps.append([(j, weight(j) / total) for j in range(lo, hi)])
    return taps


def half_round_even(d):
    q = d // 2
    if d % 2 == 1 and q % 2 == 1:
        q += 1
    return q


def main():
    src_path, out_path = sys.argv[1], sys.argv[2]
    out_h, out_w, channels = (int(v) for v in sys.argv[3:6])
    mean, std, resize = float(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
    assert channels in (1, 3) and resize in ("crop", "stretch")
    data = open(src_path, "rb").read()
    read = read_png if data[:4] == b"\x89PNG" else read_pnm
    w, h, per_pixel, maxval, samples = read(data)

    def pixel(y, x):
        base = (y * w + x) * per_pixel
        if per_pixel <= 2:
            return [samples[base] / maxval] * channels
        r, g, b = (samples[base + k] / maxval for k in range(3))
        return [r, g, b] if channels == 3 else [0.299 * r + 0.587 * g +
                                                0.114 * b]

    scaled_h, scaled_w, off_y, off_x = out_h, out_w, 0, 0
    if resize == "crop":
        if out_h * w >= out_w * h:
            scaled_w = max(out_w, w * out_h // h)
        else:
            scaled_h = max(out_h, h * out_w // w)
        off_y = half_round_even(scaled_h - out_h)
        off_x = half_round_even(scaled_w - out_w)
    rows = axis_taps(h, scaled_h, off_y, out_h)
    cols = axis_taps(w, scaled_w, off_x, out_w)

    vals = []
    for y in range(out_h):
        # Each row filtered horizontally, then the rows summed: the order
        # of Image.cpp's additions, so the doubles agree to the last bit.
        acc = [[0.0] * channels for _ in range(out_w)]
        for sy, wy in rows[y]:
            for x in range(out_w):
                o = [0.0] * channels
                for sx, wx in cols[x]:
                    p = pixel(sy, sx)
                    for c in range(channels):
                        o[c] += wx * p[c]
                for c in range(channels):
                    acc[x][c] += wy * o[c]
        for x in range(out_w):
            vals.extend((v - mean) / std for v in acc[x])
    open(out_path, "wb").write(struct.pack("<%df" % len(vals), *vals))


if __name__ == "__main__":
    main()
