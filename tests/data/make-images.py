#!/usr/bin/env python3
"""Writes the small test images of tests/data (standard library only).

The pixels are simple formulas that tests/unit/ImageTest.cpp repeats, so a
test can check every decoded value:

  tiny-rgb-20x24.png  8-bit RGB PNG, 20 wide x 24 high: a gradient
                      R = 255 * x // 19, G = 255 * y // 23, B = 64, with a
                      square (x in 6..13, y in 8..15) of (255, 255, 255 - 8*x).
  tiny-gray-16x16.pgm binary PGM (P5), maxval 255: v = x + 16 * y.
  tiny-rgb-16x16.ppm  binary PPM (P6), maxval 255:
                      (16 * x, 16 * y, 8 * (x + y)).

Run from anywhere: python3 tests/data/make-images.py. The output is the
same on every run (no timestamps); only the PNG's compressed bytes may
differ with another zlib version, never its pixels.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def png_rgb(width, height, pixel):
    """An 8-bit RGB PNG; pixel(x, y) -> (r, g, b)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for x in range(width):
            raw.extend(pixel(x, y))

    def chunk(kind, data):
        body = kind + data
        return (struct.pack(">I", len(data)) + body +
                struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) +
            chunk(b"IEND", b""))


def rgb_20x24(x, y):
    if 6 <= x < 14 and 8 <= y < 16:
        return (255, 255, 255 - 8 * x)
    return (255 * x // 19, 255 * y // 23, 64)


def main():
    images = {
        "tiny-rgb-20x24.png": png_rgb(20, 24, rgb_20x24),
        "tiny-gray-16x16.pgm": b"P5\n16 16\n255\n" + bytes(
            x + 16 * y for y in range(16) for x in range(16)),
        "tiny-rgb-16x16.ppm": b"P6\n16 16\n255\n" + bytes(
            v for y in range(16) for x in range(16)
            for v in (16 * x, 16 * y, 8 * (x + y))),
    }
    for name, data in images.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
