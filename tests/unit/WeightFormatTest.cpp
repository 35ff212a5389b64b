//===- WeightFormatTest.cpp - Weights in the form the kernels read --------===//
#include "WeightFormat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace tfc;

namespace {

float bitsToFloat(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

tfc_weight_info info(const char *name, std::vector<int64_t> dims,
                     int transposed, int dtype, int panel, int scales,
                     int group) {
  tfc_weight_info w{};
  w.name = name;
  w.rank = static_cast<int32_t>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    w.dims[i] = dims[i];
  w.transposed = transposed;
  w.dtype = dtype;
  w.panel = panel;
  w.scales = scales;
  w.group = group;
  return w;
}

} // namespace

TEST(WeightFormat, HalfKnownValues) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(0.1f), 0x2E66);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);  // largest half
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00);  // rounds past it: infinity
  EXPECT_EQ(floatToHalf(-1e30f), 0xFC00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalf(1e-8f), 0x0000);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
  // Ties go to even: 1 + 2^-11 is halfway between 0x3C00 and 0x3C01.
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  uint16_t nan = floatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

TEST(WeightFormat, HalfRoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) // NaN payloads
      continue;
    float f = halfToFloat(static_cast<uint16_t>(h));
    ASSERT_EQ(floatToHalf(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(WeightFormat, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBFloat16(bitsToFloat(0x3F808000u)), 0x3F80); // tie, even
  EXPECT_EQ(floatToBFloat16(bitsToFloat(0x3F818000u)), 0x3F82); // tie, odd
  EXPECT_EQ(floatToBFloat16(bitsToFloat(0x3F808001u)), 0x3F81);
  uint16_t nan = floatToBFloat16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x7F, 0);
}

TEST(WeightFormat, Int8Quantization) {
  EXPECT_FLOAT_EQ(int8Scale(127.0), 1.0f);
  EXPECT_EQ(int8Scale(0.0), 0.0f);
  EXPECT_EQ(quantizeInt8(63.5, 1.0f), 64); // ties to even
  EXPECT_EQ(quantizeInt8(62.5, 1.0f), 62);
  EXPECT_EQ(quantizeInt8(-3.2, 0.5f), -6);
  EXPECT_EQ(quantizeInt8(500.0, 1.0f), 127);
  EXPECT_EQ(quantizeInt8(-500.0, 1.0f), -127);
  EXPECT_EQ(quantizeInt8(3.0, 0.0f), 0);
}

TEST(WeightFormat, PacksColumnPanelsWithZeroPadding) {
  // A 3 x 6 matrix in panels of 4: [2, 3, 4], the last panel half padding.
  std::vector<float> m(18);
  for (int i = 0; i < 18; ++i)
    m[i] = i + 1;
  tfc_weight_info w = info("w", {2, 3, 4}, 0, TFC_DTYPE_F32, 4, 0, 0);
  WeightForm form;
  std::string error;
  ASSERT_TRUE(weightForm(w, {3, 6}, form, error)) << error;
  EXPECT_EQ(form.bytes, 2 * 3 * 4 * 4);
  std::vector<float> out(24, -1.0f);
  ASSERT_TRUE(storeWeight(w, form, m.data(), out.data(), error)) << error;
  std::vector<float> want = {1,  2,  3,  4,  7,  8,  9,  10, 13, 14, 15, 16,
                             5,  6,  0,  0,  11, 12, 0,  0,  17, 18, 0,  0};
  EXPECT_EQ(out, want);
}

TEST(WeightFormat, TransposedInt8WithGroupScales) {
  // File tensor [4, 2] used transposed: the logical matrix is 2 x 4
  // (rows = inputs, 4 columns), groups of 1 row, panels of 4.
  std::vector<float> file = {1.0, -2.0, 0.5, 4.0, -127.0, 8.0, 0.0, 0.0};
  // logical (k, c) = file[c][k]: row 0 = {1, 0.5, -127, 0},
  // row 1 = {-2, 4, 8, 0}.
  tfc_weight_info values = info("w", {1, 2, 4}, 1, TFC_DTYPE_I8, 4, 0, 1);
  tfc_weight_info scales = info("w", {1, 2, 4}, 1, TFC_DTYPE_F32, 4, 1, 1);
  WeightForm fv, fs;
  std::string error;
  ASSERT_TRUE(weightForm(values, {4, 2}, fv, error)) << error;
  ASSERT_TRUE(weightForm(scales, {4, 2}, fs, error)) << error;
  EXPECT_EQ(fv.bytes, 8);
  EXPECT_EQ(fs.bytes, 2 * 4 * 4);
  std::vector<int8_t> q(8);
  std::vector<float> s(8);
  ASSERT_TRUE(storeWeight(values, fv, file.data(), q.data(), error));
  ASSERT_TRUE(storeWeight(scales, fs, file.data(), s.data(), error));
  // Every column's scale is its group's max |w| / 127 (0 for zeros), and
  // each value quantizes against its own group's scale.
  std::vector<float> wantS = {1 / 127.f, 0.5f / 127, 1.0f, 0.0f,
                              2 / 127.f, 4 / 127.f,  8 / 127.f, 0.0f};
  for (int i = 0; i < 8; ++i)
    EXPECT_FLOAT_EQ(s[i], wantS[i]) << i;
  std::vector<int8_t> wantQ = {127, 127, -127, 0, -127, 127, 127, 0};
  EXPECT_EQ(q, wantQ);
}

TEST(WeightFormat, Int8ScalesFollowThePanels) {
  // A 4 x 6 matrix, panels of 4 (2 panels, the last padded), groups of 2
  // rows: the scales are [panels, groups, 4], each panel's block contiguous,
  // and a plan that expects the unpacked [groups, cols] shape is refused.
  std::vector<float> m(24);
  for (int k = 0; k < 4; ++k)
    for (int c = 0; c < 6; ++c)
      m[size_t(k * 6 + c)] = (k + 1) * (c + 1) * (c % 2 ? -1.0 : 1.0);
  tfc_weight_info scales = info("w", {2, 2, 4}, 0, TFC_DTYPE_F32, 4, 1, 2);
  WeightForm form;
  std::string error;
  ASSERT_TRUE(weightForm(scales, {4, 6}, form, error)) << error;
  EXPECT_EQ(form.bytes, 2 * 2 * 4 * 4);
  std::vector<float> s(16, -1.0f);
  ASSERT_TRUE(storeWeight(scales, form, m.data(), s.data(), error)) << error;
  // Group g of column c: max over rows 2g, 2g+1 of |(k+1)(c+1)| = (2g+2)(c+1).
  for (int panel = 0; panel < 2; ++panel)
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 4; ++i) {
        int c = panel * 4 + i;
        float want = c < 6 ? (2 * g + 2) * (c + 1) / 127.0f : 0.0f;
        EXPECT_FLOAT_EQ(s[size_t((panel * 2 + g) * 4 + i)], want)
            << "panel " << panel << " group " << g << " lane " << i;
      }
  tfc_weight_info flat = info("w", {2, 8}, 0, TFC_DTYPE_F32, 4, 1, 2);
  EXPECT_FALSE(weightForm(flat, {4, 6}, form, error));
  EXPECT_NE(error.find("[2, 2, 4]"), std::string::npos) << error;
}

TEST(WeightFormat, F16AndBF16Storage) {
  std::vector<float> m = {1.0, 0.1, -2.0, 65504.0};
  tfc_weight_info h = info("w", {2, 2}, 0, TFC_DTYPE_F16, 0, 0, 0);
  tfc_weight_info b = info("w", {2, 2}, 0, TFC_DTYPE_BF16, 0, 0, 0);
  WeightForm form;
  std::string error;
  ASSERT_TRUE(weightForm(h, {2, 2}, form, error)) << error;
  EXPECT_EQ(form.bytes, 8);
  std::vector<uint16_t> out(4);
  ASSERT_TRUE(storeWeight(h, form, m.data(), out.data(), error)) << error;
  EXPECT_EQ(out, (std::vector<uint16_t>{0x3C00, 0x2E66, 0xC000, 0x7BFF}));
  ASSERT_TRUE(storeWeight(b, form, m.data(), out.data(), error)) << error;
  // 65504 = 0x477FE000 rounds up to 65536 (0x4780) in bf16.
  EXPECT_EQ(out, (std::vector<uint16_t>{0x3F80, 0x3DCD, 0xC000, 0x4780}));
  // Past f16's largest finite value an f16 matrix is refused, by element;
  // bf16 takes it.
  m[3] = -70000.0;
  EXPECT_FALSE(storeWeight(h, form, m.data(), out.data(), error));
  EXPECT_NE(error.find("tensor 'w': element [1, 1] = -70000.000000 is beyond "
                       "f16's range (65504); compile with --quantize bf16 or "
                       "f32"),
            std::string::npos)
      << error;
  EXPECT_TRUE(storeWeight(b, form, m.data(), out.data(), error));
}

TEST(WeightFormat, ShapeErrorsNameTheTensor) {
  WeightForm form;
  std::string error;
  tfc_weight_info packed = info("layers.0.mlp.w1", {2, 3, 4}, 0,
                                TFC_DTYPE_F32, 4, 0, 0);
  EXPECT_FALSE(weightForm(packed, {3, 9}, form, error));
  EXPECT_NE(error.find("tensor 'layers.0.mlp.w1' [3, 9] gives [3, 3, 4], "
                       "the plan expects [2, 3, 4]"),
            std::string::npos)
      << error;
  tfc_weight_info plain = info("final_norm.gamma", {32}, 0, TFC_DTYPE_F32, 0,
                               0, 0);
  EXPECT_FALSE(weightForm(plain, {16}, form, error));
  EXPECT_NE(error.find("tensor 'final_norm.gamma': the plan expects shape "
                       "[32], found [16]"),
            std::string::npos)
      << error;
  tfc_weight_info grouped = info("w", {3, 4}, 0, TFC_DTYPE_I8, 0, 0, 2);
  EXPECT_FALSE(weightForm(grouped, {3, 4}, form, error));
  EXPECT_NE(error.find("int8 group 2 does not divide its 3 rows"),
            std::string::npos)
      << error;
  EXPECT_FALSE(weightForm(packed, {3, 4, 1}, form, error));
  EXPECT_NE(error.find("reads it as a matrix, found shape [3, 4, 1]"),
            std::string::npos)
      << error;
}
