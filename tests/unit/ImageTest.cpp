//===- ImageTest.cpp - Image input for vision models ----------------------===//
//
// Images small enough to work out by hand: PPM/PGM written as text here,
// PNGs built here with zlib stored blocks (no compressor needed), and the
// files of tests/data (tests/data/make-images.py, whose pixel formulas are
// repeated below). Expected values are computed in double and rounded to
// float, as the implementation does, so most comparisons are exact.
//
//===----------------------------------------------------------------------===//
#include "Image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using tfc::ImagePrep;
using tfc::ImageResize;

// --- Helpers -----------------------------------------------------------------

ImagePrep prep(int64_t h, int64_t w, int64_t c = 3,
               ImageResize resize = ImageResize::Crop) {
  ImagePrep p;
  p.height = h;
  p.width = w;
  p.channels = c;
  p.mean.assign(static_cast<size_t>(c), 0.0f);
  p.std.assign(static_cast<size_t>(c), 1.0f);
  p.resize = resize;
  return p;
}

/// Runs prepareImageBytes on `bytes`; expects success.
std::vector<float> run(const std::string &bytes, const ImagePrep &p) {
  std::vector<float> out;
  std::string error;
  EXPECT_TRUE(tfc::prepareImageBytes(
      reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size(),
      "test image", p, out, error))
      << error;
  return out;
}

/// Runs prepareImageBytes on `bytes`; expects failure and returns the error.
std::string fail(const std::string &bytes, const ImagePrep &p,
                 const std::string &what = "bad.img") {
  std::vector<float> out;
  std::string error;
  EXPECT_FALSE(tfc::prepareImageBytes(
      reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size(), what,
      p, out, error));
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_NE(error.find(what), std::string::npos) << error;
  return error;
}

/// (v / maxval - mean) / std, as the implementation computes it.
float norm(double v, double maxval, double mean = 0, double std = 1) {
  return static_cast<float>((v / maxval - static_cast<double>(float(mean))) /
                            static_cast<double>(float(std)));
}

// PNG writing: chunks with CRC-32, IDAT a zlib stream of stored blocks.
uint32_t crc32(const std::string &bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string chunk(const std::string &type, const std::string &data) {
  return be32(static_cast<uint32_t>(data.size())) + type + data +
         be32(crc32(type + data));
}

std::string zlibStored(const std::string &raw) {
  std::string z = "\x78\x01";
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(raw.size() - pos, 65535);
    bool last = pos + n == raw.size();
    z += static_cast<char>(last ? 1 : 0);
    z += static_cast<char>(n & 0xff);
    z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xff);
    z += static_cast<char>((~n >> 8) & 0xff);
    z += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return z + be32(b << 16 | a);
}

/// A PNG of `width` x `height`; `rows` is the raster without filter bytes
/// (each row is prefixed with filter 0 here).
std::string png(uint32_t width, uint32_t height, int colorType, int depth,
                const std::string &rows, const std::string &plte = "") {
  std::string ihdr = be32(width) + be32(height);
  ihdr += static_cast<char>(depth);
  ihdr += static_cast<char>(colorType);
  ihdr += std::string(3, '\0'); // deflate, filter 0, no interlace
  const size_t rowBytes = height ? rows.size() / height : 0;
  std::string raw;
  for (uint32_t y = 0; y < height; ++y)
    raw += '\0' + rows.substr(y * rowBytes, rowBytes);
  std::string out = "\x89PNG\r\n\x1a\n" + chunk("IHDR", ihdr);
  if (!plte.empty())
    out += chunk("PLTE", plte);
  return out + chunk("IDAT", zlibStored(raw)) + chunk("IEND", "");
}

std::string bytesOf(std::initializer_list<int> values) {
  std::string s;
  for (int v : values)
    s += static_cast<char>(v);
  return s;
}

std::string dataPath(const std::string &name) {
  return std::string(TFC_SOURCE_DIR) + "/tests/data/" + name;
}

// A 2 x 2 RGB image used by several tests, row-major:
//   (0, 0) = (255, 0, 51)   (1, 0) = (0, 128, 255)
//   (0, 1) = (10, 20, 30)   (1, 1) = (200, 100, 0)
const int kPix[2][2][3] = {{{255, 0, 51}, {0, 128, 255}},
                           {{10, 20, 30}, {200, 100, 0}}};
const char *const kP3 = "P3\n# a comment\n2 2\n255\n"
                        "255 0 51   0 128 255\n"
                        "10 20 30   200 100 0\n";

std::string p6Bytes() {
  std::string s = "P6 2 2 255\n";
  for (auto &row : kPix)
    for (auto &px : row)
      for (int v : px)
        s += static_cast<char>(v);
  return s;
}

// --- Formats -----------------------------------------------------------------

TEST(Image, AsciiPpmExactNormalisedHwc) {
  ImagePrep p = prep(2, 2);
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  std::vector<float> out = run(kP3, p);
  ASSERT_EQ(out.size(), 12u);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(out[(y * 2 + x) * 3 + c],
                  norm(kPix[y][x][c], 255, p.mean[c], p.std[c]))
            << "y " << y << " x " << x << " c " << c;
  // Spot checks with numbers written out: (255/255 - 0.485) / 0.229 and
  // (128/255 - 0.456) / 0.224.
  EXPECT_FLOAT_EQ(out[0], (1.0f - 0.485f) / 0.229f);
  EXPECT_NEAR(out[4], (128.0 / 255 - 0.456) / 0.224, 1e-5);
}

TEST(Image, BinaryPpmMatchesAscii) {
  ImagePrep p = prep(2, 2);
  p.mean = {0.5f, 0.5f, 0.5f};
  p.std = {0.5f, 0.5f, 0.5f};
  std::vector<float> ascii = run(kP3, p);
  std::vector<float> binary = run(p6Bytes(), p);
  EXPECT_EQ(ascii, binary);
  EXPECT_EQ(binary[0], 1.0f);  // 255 -> (1 - 0.5) / 0.5
  EXPECT_EQ(binary[1], -1.0f); // 0 -> (0 - 0.5) / 0.5
}

TEST(Image, BinaryPpmRasterStartingWithWhitespaceByte) {
  // Only one whitespace byte follows maxval; a raster byte 10 ('\n') or 32
  // (' ') is a sample, not more header.
  std::string s = std::string("P6\n1 1\n255\n") + bytesOf({10, 32, 9});
  std::vector<float> out = run(s, prep(1, 1));
  EXPECT_EQ(out,
            (std::vector<float>{norm(10, 255), norm(32, 255), norm(9, 255)}));
}

TEST(Image, PgmGrayIsReplicatedToRgb) {
  std::string s = std::string("P5\n2 1\n255\n") + bytesOf({0, 51});
  ImagePrep p = prep(1, 2);
  p.mean = {0.0f, 0.1f, 0.2f};
  std::vector<float> out = run(s, p);
  ASSERT_EQ(out.size(), 6u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(out[c], norm(0, 255, p.mean[c]));
    EXPECT_EQ(out[3 + c], norm(51, 255, p.mean[c]));
  }
}

TEST(Image, AsciiPgmWithSmallMaxvalAndComments) {
  // maxval 15: 15 is 1.0, 3 is 0.2. Comments may sit between any tokens.
  std::string s = "P2 # gray\n3 # width\n1\n15\n0 3 15\n";
  std::vector<float> out = run(s, prep(1, 3, 1));
  EXPECT_EQ(out, (std::vector<float>{0.0f, norm(3, 15), 1.0f}));
}

TEST(Image, SixteenBitPpmIsBigEndian) {
  // maxval 1000 (> 255): two bytes per sample, most significant first.
  std::string s = std::string("P6 1 1 1000\n") +
                  bytesOf({0x03, 0xe8, 0x01, 0xf4, 0x00, 0x64});
  std::vector<float> out = run(s, prep(1, 1));
  EXPECT_EQ(out, (std::vector<float>{1.0f, 0.5f, norm(100, 1000)}));
}

TEST(Image, RgbToGrayIsBt601Luma) {
  std::vector<float> out = run(kP3, prep(2, 2, 1));
  ASSERT_EQ(out.size(), 4u);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) {
      const int *px = kPix[y][x];
      double luma = 0.299 * (px[0] / 255.0) + 0.587 * (px[1] / 255.0) +
                    0.114 * (px[2] / 255.0);
      EXPECT_EQ(out[y * 2 + x], static_cast<float>(luma));
    }
  // (255, 0, 51): 0.299 + 0.114 * 0.2.
  EXPECT_FLOAT_EQ(out[0], 0.299f + 0.114f * 0.2f);
}

TEST(Image, PngRgb) {
  std::string rows;
  for (auto &row : kPix)
    for (auto &px : row)
      for (int v : px)
        rows += static_cast<char>(v);
  std::vector<float> fromPng = run(png(2, 2, 2, 8, rows), prep(2, 2));
  EXPECT_EQ(fromPng, run(kP3, prep(2, 2)));
  EXPECT_EQ(fromPng[2], norm(51, 255));
}

TEST(Image, PngRgbaDropsAlpha) {
  // Alpha 0 and 77: dropped, not composited over anything.
  std::string rows = bytesOf({255, 0, 51, 0, 0, 128, 255, 77});
  std::vector<float> out = run(png(2, 1, 6, 8, rows), prep(1, 2));
  EXPECT_EQ(out, (std::vector<float>{1.0f, 0.0f, norm(51, 255), 0.0f,
                                     norm(128, 255), 1.0f}));
}

TEST(Image, PngGrayAlphaToGray) {
  std::string rows = bytesOf({51, 0, 255, 255});
  std::vector<float> out = run(png(2, 1, 4, 8, rows), prep(1, 2, 1));
  EXPECT_EQ(out, (std::vector<float>{norm(51, 255), 1.0f}));
}

TEST(Image, Png16BitScalesBy65535) {
  // 16-bit RGB, big-endian samples: 65535, 32768, 257.
  std::string rows = bytesOf({0xff, 0xff, 0x80, 0x00, 0x01, 0x01});
  std::vector<float> out = run(png(1, 1, 2, 16, rows), prep(1, 1));
  EXPECT_EQ(out,
            (std::vector<float>{1.0f, norm(32768, 65535), norm(257, 65535)}));
  // 257 / 65535 is 1 / 255: not rounded to 8 bits on the way.
  EXPECT_FLOAT_EQ(out[2], 1.0f / 255);
  EXPECT_NE(out[1], norm(128, 255));
}

TEST(Image, Png16BitGray) {
  std::string rows = bytesOf({0x12, 0x34});
  std::vector<float> out = run(png(1, 1, 0, 16, rows), prep(1, 1, 3));
  float v = norm(0x1234, 65535);
  EXPECT_EQ(out, (std::vector<float>{v, v, v}));
}

TEST(Image, PngPalette) {
  // Indices 1, 0 into a two-colour palette.
  std::string plte = bytesOf({10, 20, 30, 200, 100, 0});
  std::vector<float> out =
      run(png(2, 1, 3, 8, bytesOf({1, 0}), plte), prep(1, 2));
  EXPECT_EQ(out,
            (std::vector<float>{norm(200, 255), norm(100, 255), 0.0f,
                                norm(10, 255), norm(20, 255), norm(30, 255)}));
}

// --- Files in tests/data -----------------------------------------------------

TEST(Image, DataPngIdentityIsExact) {
  // tests/data/make-images.py: 20 wide, 24 high.
  std::vector<float> out;
  std::string error;
  ASSERT_TRUE(tfc::prepareImage(dataPath("tiny-rgb-20x24.png"), prep(24, 20),
                                out, error))
      << error;
  ASSERT_EQ(out.size(), 24u * 20 * 3);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 20; ++x) {
      bool square = x >= 6 && x < 14 && y >= 8 && y < 16;
      int r = square ? 255 : 255 * x / 19;
      int g = square ? 255 : 255 * y / 23;
      int b = square ? 255 - 8 * x : 64;
      const float *px = &out[(y * 20 + x) * 3];
      ASSERT_EQ(px[0], norm(r, 255)) << x << "," << y;
      ASSERT_EQ(px[1], norm(g, 255)) << x << "," << y;
      ASSERT_EQ(px[2], norm(b, 255)) << x << "," << y;
    }
}

TEST(Image, DataPpmIdentityIsExact) {
  std::vector<float> out;
  std::string error;
  ImagePrep p = prep(16, 16, 3, ImageResize::Stretch);
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  ASSERT_TRUE(tfc::prepareImage(dataPath("tiny-rgb-16x16.ppm"), p, out, error))
      << error;
  ASSERT_EQ(out.size(), 16u * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      const int v[3] = {16 * x, 16 * y, 8 * (x + y)};
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(out[(y * 16 + x) * 3 + c],
                  norm(v[c], 255, p.mean[c], p.std[c]))
            << x << "," << y << "," << c;
    }
}

TEST(Image, DataPgmHalvedIsAntialiased) {
  // v = x + 16 y, a plane. Halving with the widened triangle filter (4
  // taps per axis, weights 1/8, 3/8, 3/8, 1/8 away from the edges) gives the
  // plane at the output pixel's centre: source position 2 i + 0.5.
  std::vector<float> out;
  std::string error;
  ASSERT_TRUE(tfc::prepareImage(dataPath("tiny-gray-16x16.pgm"), prep(8, 8, 3),
                                out, error))
      << error;
  ASSERT_EQ(out.size(), 8u * 8 * 3);
  for (int y = 1; y < 7; ++y)
    for (int x = 1; x < 7; ++x)
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(out[(y * 8 + x) * 3 + c],
                    ((2 * x + 0.5) + 16 * (2 * y + 0.5)) / 255, 1e-6)
            << x << "," << y;
  // At the edge the window is cut and renormalised: columns 0, 1, 2 with
  // weights 3/4, 3/4, 1/4 (sum 7/4), rows the same: x part 1.25 / 1.75.
  EXPECT_NEAR(out[0], (1.25 / 1.75 + 16 * 1.25 / 1.75) / 255, 1e-6);
}

// --- Resizing ----------------------------------------------------------------

// A P2 image (maxval 255) whose pixel (x, y) is 10 x + y.
std::string columnRamp(int width, int height) {
  std::string s =
      "P2 " + std::to_string(width) + " " + std::to_string(height) + " 255\n";
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      s += std::to_string(x * 10 + y) + " ";
  return s;
}

TEST(Image, CropAtScaleOneTakesTheCentreColumns) {
  // 4 wide, 2 high -> 2 x 2: no scaling, columns 1 and 2.
  std::vector<float> out = run(columnRamp(4, 2), prep(2, 2, 1));
  EXPECT_EQ(out, (std::vector<float>{norm(10, 255), norm(20, 255),
                                     norm(11, 255), norm(21, 255)}));
}

TEST(Image, CropAtScaleOneTakesTheCentreRows) {
  // 2 wide, 4 high -> rows 1 and 2.
  std::vector<float> out = run(columnRamp(2, 4), prep(2, 2, 1));
  EXPECT_EQ(out, (std::vector<float>{norm(1, 255), norm(11, 255), norm(2, 255),
                                     norm(12, 255)}));
}

TEST(Image, CropOffsetRoundsHalfToEven) {
  // Excess 3 columns: Python's round(1.5) = 2 (torchvision's CenterCrop),
  // so columns 2 and 3. Excess 5: round(2.5) = 2, columns 2 and 3 of 7.
  EXPECT_EQ(run(columnRamp(5, 2), prep(2, 2, 1)),
            (std::vector<float>{norm(20, 255), norm(30, 255), norm(21, 255),
                                norm(31, 255)}));
  EXPECT_EQ(run(columnRamp(7, 2), prep(2, 2, 1)),
            (std::vector<float>{norm(20, 255), norm(30, 255), norm(21, 255),
                                norm(31, 255)}));
  // Excess 1: round(0.5) = 0, columns 0 and 1.
  EXPECT_EQ(run(columnRamp(3, 2), prep(2, 2, 1)),
            (std::vector<float>{norm(0, 255), norm(10, 255), norm(1, 255),
                                norm(11, 255)}));
}

TEST(Image, CropScalesTheShorterSideThenCentres) {
  // 8 wide, 4 high -> 2 x 2: scale 1/2 (shorter side 4 -> 2), scaled width
  // 4, window at scaled column 1. Each output column spans source columns
  // with weights 1/8, 3/8, 3/8, 1/8: output column 0 is source columns
  // 1..4 (centre 2.5), column 1 is 3..6 (centre 4.5). Values here depend
  // on the column only.
  std::string s = "P2 8 4 7\n";
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x)
      s += std::to_string(x) + " ";
  std::vector<float> out = run(s, prep(2, 2, 1));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FLOAT_EQ(out[0], 2.5f / 7);
  EXPECT_FLOAT_EQ(out[1], 4.5f / 7);
  EXPECT_FLOAT_EQ(out[2], 2.5f / 7);
  EXPECT_FLOAT_EQ(out[3], 4.5f / 7);
  // Stretch squeezes all 8 columns into 2 instead: scale 4, so a triangle
  // of radius 4 around source position 2 - 0.5 = 1.5 (columns 0..5, weights
  // .625, .875, .875, .625, .375, .125; the left part is cut off by the
  // edge) and mirrored for output column 1.
  std::vector<float> st = run(s, prep(2, 2, 1, ImageResize::Stretch));
  ASSERT_EQ(st.size(), 4u);
  const double left =
      (0.875 * 1 + 0.875 * 2 + 0.625 * 3 + 0.375 * 4 + 0.125 * 5) / 3.5;
  EXPECT_NEAR(st[0], left / 7, 1e-7);
  EXPECT_NEAR(st[1], (7 - left) / 7, 1e-7);
  EXPECT_EQ(st[2], st[0]);
}

TEST(Image, StretchEnlargesBilinearly) {
  // 2 x 2 gray -> 4 x 4. Output index i samples source (i + 0.5) / 2 - 0.5
  // = -0.25, 0.25, 0.75, 1.25: clamped to 0, 1/4 of the way, 3/4 of the
  // way, clamped to 1.
  std::string s = "P2 2 2 255\n0 100\n200 40\n";
  std::vector<float> out = run(s, prep(4, 4, 1, ImageResize::Stretch));
  ASSERT_EQ(out.size(), 16u);
  const double src[2][2] = {{0, 100}, {200, 40}};
  const double pos[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      double v = 0;
      for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 2; ++i)
          v += pos[y][j] * pos[x][i] * src[j][i];
      EXPECT_NEAR(out[y * 4 + x], v / 255, 1e-6) << x << "," << y;
    }
  // Written out: row 0 is 0, 25, 75, 100; (1, 1) is
  // .75 * (.75 * 0 + .25 * 100) + .25 * (.75 * 200 + .25 * 40) = 58.75.
  EXPECT_FLOAT_EQ(out[1], 25.0f / 255);
  EXPECT_FLOAT_EQ(out[2], 75.0f / 255);
  EXPECT_FLOAT_EQ(out[5], 58.75f / 255);
  EXPECT_FLOAT_EQ(out[15], 40.0f / 255);
}

TEST(Image, ShrinkingAveragesWithAWideTriangle) {
  // 4 x 1 -> 2 x 1: scale 2, the triangle spans 2 source pixels each side.
  // Output 0 (centre 1.0): columns 0, 1, 2 with weights .75, .75, .25
  // (column -1 is outside); output 1 (centre 3.0): columns 1, 2, 3 with
  // .25, .75, .75. Plain bilinear would give (0 + 51) / 2 and
  // (102 + 153) / 2 instead. PIL's Image.resize(BILINEAR) uses the same
  // weights (its 8-bit result is then rounded).
  std::string s = "P2 4 1 255\n0 51 102 153\n";
  std::vector<float> out = run(s, prep(1, 2, 1, ImageResize::Stretch));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(out[0], (0.75 * 0 + 0.75 * 51 + 0.25 * 102) / 1.75 / 255, 1e-7);
  EXPECT_NEAR(out[1], (0.25 * 51 + 0.75 * 102 + 0.75 * 153) / 1.75 / 255, 1e-7);
}

TEST(Image, IdentitySizeIsExactForArbitraryValues) {
  // 7 wide, 5 high, values all over 0..255, both resize modes.
  std::string s = "P6 7 5 255\n";
  std::vector<int> values;
  for (int i = 0; i < 7 * 5 * 3; ++i) {
    values.push_back((i * 97 + 13) % 256);
    s += static_cast<char>(values.back());
  }
  for (ImageResize mode : {ImageResize::Crop, ImageResize::Stretch}) {
    ImagePrep p = prep(5, 7, 3, mode);
    p.mean = {0.3f, 0.2f, 0.1f};
    p.std = {0.7f, 0.3f, 0.9f};
    std::vector<float> out = run(s, p);
    ASSERT_EQ(out.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i)
      ASSERT_EQ(out[i], norm(values[i], 255, p.mean[i % 3], p.std[i % 3])) << i;
  }
}

TEST(Image, OutputLargerThanTheImageInBothModes) {
  // A uniform image stays uniform at any size.
  std::string s = "P5 3 2 255\n";
  s += std::string(6, static_cast<char>(77));
  for (ImageResize mode : {ImageResize::Crop, ImageResize::Stretch}) {
    std::vector<float> out = run(s, prep(5, 9, 3, mode));
    ASSERT_EQ(out.size(), 5u * 9 * 3);
    for (float v : out)
      ASSERT_FLOAT_EQ(v, 77.0f / 255);
  }
}

// --- Errors ------------------------------------------------------------------

TEST(ImageErrors, MissingFileNamesThePath) {
  std::vector<float> out;
  std::string error;
  std::string path = "/nonexistent/dir/cat.png";
  EXPECT_FALSE(tfc::prepareImage(path, prep(2, 2), out, error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

TEST(ImageErrors, DirectoryIsNotAnImage) {
  std::vector<float> out;
  std::string error;
  EXPECT_FALSE(tfc::prepareImage(TFC_SOURCE_DIR, prep(2, 2), out, error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

TEST(ImageErrors, TruncatedPng) {
  std::string rows;
  for (int i = 0; i < 16 * 16 * 3; ++i)
    rows += static_cast<char>(i);
  std::string whole = png(16, 16, 2, 8, rows);
  run(whole, prep(16, 16)); // the whole file is fine
  for (size_t cut :
       {size_t(10), size_t(30), whole.size() / 2, whole.size() - 20}) {
    std::string e = fail(whole.substr(0, cut), prep(16, 16));
    EXPECT_NE(e.find("PNG"), std::string::npos) << e;
  }
}

TEST(ImageErrors, CorruptPngData) {
  std::string whole = png(2, 2, 2, 8, std::string(12, 'x'));
  // The zlib header (first IDAT data bytes) made invalid.
  size_t idat = whole.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  whole[idat + 4] = 0x00;
  std::string e = fail(whole, prep(2, 2));
  EXPECT_NE(e.find("corrupt"), std::string::npos) << e;
}

TEST(ImageErrors, GarbageNamesTheSupportedFormats) {
  std::string e = fail("hello, this is text", prep(2, 2), "notes.txt");
  EXPECT_NE(e.find("PNG"), std::string::npos) << e;
  EXPECT_NE(e.find("PPM"), std::string::npos) << e;
  e = fail(bytesOf({0xff, 0xd8, 0xff, 0xe0, 0, 0x10}), prep(2, 2), "a.jpg");
  EXPECT_NE(e.find("JPEG"), std::string::npos) << e;
  e = fail("", prep(2, 2), "empty.png");
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
  e = fail("P4\n2 2\n\x00\x00", prep(2, 2), "bits.pbm");
  EXPECT_NE(e.find("P4"), std::string::npos) << e;
}

TEST(ImageErrors, ZeroAndHugeSizes) {
  std::string e = fail("P6 0 2 255\n", prep(2, 2), "zero.ppm");
  EXPECT_NE(e.find("0 x 2"), std::string::npos) << e;
  e = fail("P5 20000 1 255\n", prep(2, 2), "wide.pgm");
  EXPECT_NE(e.find("limit"), std::string::npos) << e;
  e = fail("P5 1 16385 255\n", prep(2, 2), "tall.pgm");
  EXPECT_NE(e.find("limit"), std::string::npos) << e;
  // 16384 x 16384 (2^28 pixels) is the largest size accepted: this one
  // fails for want of a raster, and without allocating 256 MiB for it.
  e = fail("P5 16384 16384 255\n", prep(2, 2), "big.pgm");
  EXPECT_NE(e.find("0 of 268435456 bytes"), std::string::npos) << e;
  e = fail("P5 99999999999999999999 1 255\n", prep(2, 2), "overflow.pgm");
  EXPECT_NE(e.find("width"), std::string::npos) << e;
  e = fail(png(20000, 1, 0, 8, ""), prep(2, 2), "wide.png");
  EXPECT_NE(e.find("limit"), std::string::npos) << e;
  e = fail(png(0, 0, 0, 8, ""), prep(2, 2), "zero.png");
}

TEST(ImageErrors, TruncatedOrBadPnmRaster) {
  std::string e = fail("P6 2 2 255\n" + std::string(11, 'x'), prep(2, 2));
  EXPECT_NE(e.find("11 of 12"), std::string::npos) << e;
  e = fail("P3 1 1 255\n1 2", prep(2, 2));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = fail("P2 2 1 15\n3 16\n", prep(2, 2));
  EXPECT_NE(e.find("above maxval"), std::string::npos) << e;
  e = fail("P2 2 1 15\n3 x\n", prep(2, 2));
  EXPECT_NE(e.find("'x'"), std::string::npos) << e;
  e = fail("P5 1 1 0\n\x00", prep(2, 2));
  EXPECT_NE(e.find("maxval"), std::string::npos) << e;
  e = fail("P5 1 1 255", prep(2, 2));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = fail(std::string("P5 2 1 10\n") + bytesOf({3, 11}), prep(2, 2));
  EXPECT_NE(e.find("above maxval"), std::string::npos) << e;
}

TEST(ImageErrors, BadPrep) {
  ImagePrep p = prep(2, 2);
  p.mean = {0.5f};
  std::string e = fail(kP3, p, "x.ppm");
  EXPECT_NE(e.find("mean has 1"), std::string::npos) << e;
  p = prep(2, 2);
  p.std = {1.0f, 0.0f, 1.0f};
  e = fail(kP3, p, "x.ppm");
  EXPECT_NE(e.find("std > 0"), std::string::npos) << e;
  p = prep(2, 2);
  p.std = {1.0f, -2.0f, 1.0f};
  fail(kP3, p, "x.ppm");
  fail(kP3, prep(2, 2, 4), "x.ppm");
  fail(kP3, prep(0, 2), "x.ppm");
  fail(kP3, prep(2, 20000), "x.ppm");
  // Checked before the file is opened.
  std::vector<float> out;
  std::string error;
  p = prep(2, 2);
  p.mean.clear();
  EXPECT_FALSE(tfc::prepareImage("/nonexistent.png", p, out, error));
  EXPECT_NE(error.find("mean has 0"), std::string::npos) << error;
}

// Found by tests/fuzz/FuzzImage: stb_image reports an unknown critical
// chunk with its raw type bytes as the reason (here a newline broke the
// message in two), and a PNG cut before IEND makes it read a zero type and
// report an empty reason. Both are caught before stb, with our messages.
TEST(ImageErrors, PngUnknownCriticalChunkIsOneLine) {
  std::string whole = png(2, 2, 2, 8, std::string(12, 'x'));
  const size_t idat = whole.find("IDAT") - 4; // the chunk's length field
  std::string bad =
      whole.substr(0, idat) + chunk("A\nBC", "xyz") + whole.substr(idat);
  EXPECT_EQ(fail(bad, prep(2, 2)),
            "bad.img: unsupported PNG: unknown critical chunk 'A\\x0aBC' at "
            "byte 33");
  // The fuzzer's input: a 16-bit RGBA header, then a chunk typed "\x02P5\n".
  const std::string fuzzed = bytesOf(
      {0x89, 'P',  'N',  'G',  0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
       0x0d, 'I',  'H',  'D',  'R',  0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
       0x00, 0x02, 0x10, 0x06, 0x00, 0x00, 0x00, 0xcd, 0xe4, 0xba, 0x00,
       0x00, 0x00, 0xb9, 0x45, 0x02, 'P',  '5',  0x0a, 0x01, 0x00, 0x00,
       0x00, 0x0a, '1',  '5',  '3',  '5',  0x0a, 0x12, 0x34, 0xff, 0xff});
  for (ImageResize mode : {ImageResize::Crop, ImageResize::Stretch})
    EXPECT_EQ(fail(fuzzed, prep(8, 8, 3, mode)),
              "bad.img: unsupported PNG: unknown critical chunk '\\x02P5\\x0a' "
              "at byte 33");
  // Ancillary chunks (first letter lowercase) are skipped, whatever their
  // type: the same pixels as without.
  std::string ancillary =
      whole.substr(0, idat) + chunk("x\n\x01y", "data") + whole.substr(idat);
  EXPECT_EQ(run(ancillary, prep(2, 2)), run(whole, prep(2, 2)));
}

TEST(ImageErrors, PngWithoutIEnd) {
  std::string whole = png(2, 2, 2, 8, std::string(12, 'x'));
  const std::string iend = chunk("IEND", "");
  ASSERT_EQ(whole.substr(whole.size() - iend.size()), iend);
  EXPECT_EQ(fail(whole.substr(0, whole.size() - iend.size()), prep(2, 2)),
            "bad.img: truncated PNG: the file ends before the IEND chunk");
  // Cut inside IEND's length or type: the same.
  EXPECT_EQ(fail(whole.substr(0, whole.size() - 6), prep(2, 2)),
            "bad.img: truncated PNG: the file ends before the IEND chunk");
  // IEND's CRC is never read (stb_image stops at the type): still fine.
  run(whole.substr(0, whole.size() - 4), prep(2, 2));
  // Cut inside IDAT's data.
  const size_t idatEnd = whole.size() - iend.size();
  EXPECT_EQ(fail(whole.substr(0, idatEnd - 6), prep(2, 2)),
            "bad.img: truncated PNG: the file ends inside chunk 'IDAT'");
}

// Image.h promises concurrent calls are safe. stb_image's unknown-chunk
// error writes the type into one static buffer, so before the chunk check
// threads could read each other's type (and ThreadSanitizer reports the
// race); each must see its own.
TEST(ImageErrors, ConcurrentBadPngsKeepTheirOwnMessages) {
  const std::string whole = png(2, 2, 2, 8, std::string(12, 'x'));
  const size_t idat = whole.find("IDAT") - 4;
  std::vector<std::thread> threads;
  std::vector<int> wrong(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string type = std::string("QQQ") + char('A' + t);
      const std::string bad =
          whole.substr(0, idat) + chunk(type, "") + whole.substr(idat);
      for (int i = 0; i < 200; ++i) {
        std::vector<float> out;
        std::string error;
        if (tfc::prepareImageBytes(
                reinterpret_cast<const unsigned char *>(bad.data()), bad.size(),
                "t.png", prep(2, 2), out, error) ||
            error.find("'" + type + "'") == std::string::npos)
          ++wrong[static_cast<size_t>(t)];
      }
    });
  }
  for (std::thread &th : threads)
    th.join();
  for (int t = 0; t < 8; ++t)
    EXPECT_EQ(wrong[static_cast<size_t>(t)], 0) << "thread " << t;
}

// Found by tests/fuzz/FuzzImage (UBSan): stb_image copied an empty IDAT
// chunk before the first non-empty one to a NULL buffer. Empty IDATs are
// valid and add nothing; the image is the same with them. (A release build
// passes without the fix too; the sanitizer builds catch the memcpy.)
TEST(Image, PngEmptyIdatChunksAreIgnored) {
  std::string rows;
  for (int i = 0; i < 3 * 2 * 3; ++i)
    rows += static_cast<char>(i * 13);
  const std::string whole = png(3, 2, 2, 8, rows);
  const size_t idat = whole.find("IDAT") - 4;
  const size_t iend = whole.find("IEND") - 4;
  const std::string empty = chunk("IDAT", "");
  const std::string withEmpty = whole.substr(0, idat) + empty + empty +
                                whole.substr(idat, iend - idat) + empty +
                                whole.substr(iend);
  std::vector<float> want = run(whole, prep(2, 3));
  ASSERT_EQ(want.size(), 18u);
  EXPECT_EQ(want[1], norm(13, 255));
  EXPECT_EQ(run(withEmpty, prep(2, 3)), want);
  // Only empty IDATs: no image data at all.
  std::string e =
      fail(whole.substr(0, idat) + empty + whole.substr(iend), prep(2, 3));
  EXPECT_NE(e.find("no IDAT"), std::string::npos) << e;
}

} // namespace
