//===- RefKernelsTest.cpp - Tests of the reference interpreter's kernels --===//
//
// The reference kernels are the oracle for every compiled kernel, so each is
// checked here against small cases worked out by hand (the computation is
// written next to the expected numbers), or, where hand values are
// impractical, against an identity that must hold exactly.
//
//===----------------------------------------------------------------------===//
#include "reference/RefKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace tfc;
using namespace tfc::ref;

namespace {

constexpr double kTol = 1e-12;
const double kInf = std::numeric_limits<double>::infinity();

void expectNear(const RefTensor &got, const std::vector<int64_t> &shape,
                const std::vector<double> &want, double tol = kTol) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.data.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isinf(want[i]))
      EXPECT_EQ(got.data[i], want[i]) << "at flat index " << i;
    else
      EXPECT_NEAR(got.data[i], want[i], tol) << "at flat index " << i;
  }
}

void expectSame(const RefTensor &got, const RefTensor &want,
                double tol = kTol) {
  expectNear(got, want.shape, want.data, tol);
}

/// Deterministic pseudo-random values in [-1, 1) (a fixed LCG, so failures
/// reproduce).
RefTensor pseudoRandom(std::vector<int64_t> shape, uint64_t seed) {
  RefTensor t(std::move(shape));
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (double &v : t.data) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<double>(s >> 11) / static_cast<double>(1ULL << 53) * 2.0 -
        1.0;
  }
  return t;
}

//===----------------------------------------------------------------------===//
// Softmax and norms
//===----------------------------------------------------------------------===//

TEST(RefKernels, SoftmaxHandValues) {
  // Row 0: [0, ln 3] -> [1, 3] / 4.
  // Row 1: [1000, 1001]: exp overflows unless the max is subtracted;
  //        [e^-1, 1] / (e^-1 + 1) = [1/(1+e), e/(1+e)].
  // Row 2: [-inf, 5]: exp(-inf - 5) = 0 -> [0, 1].
  // Row 3: all -inf (a query with no visible key) -> all zeros, not NaN.
  RefTensor x({4, 2},
              {0.0, std::log(3.0), 1000.0, 1001.0, -kInf, 5.0, -kInf, -kInf});
  double e = std::exp(1.0);
  expectNear(softmaxLastAxis(x), {4, 2},
             {0.25, 0.75, 1.0 / (1.0 + e), e / (1.0 + e), 0.0, 1.0, 0.0, 0.0});
  // 1/(1+e) written out: 0.2689414213699951.
  EXPECT_NEAR(softmaxLastAxis(x)[2], 0.2689414213699951, kTol);
}

TEST(RefKernels, SoftmaxRank3RowsAreIndependent) {
  // [2, 1, 3]: row [1, 1, 1] -> 1/3 each; row [0, 0, ln 2] -> [1, 1, 2] / 4.
  RefTensor x({2, 1, 3}, {1.0, 1.0, 1.0, 0.0, 0.0, std::log(2.0)});
  expectNear(softmaxLastAxis(x), {2, 1, 3},
             {1.0 / 3, 1.0 / 3, 1.0 / 3, 0.25, 0.25, 0.5});
}

TEST(RefKernels, LayerNormWithAndWithoutBeta) {
  // Row 0: x = [1, 2, 3, 4]: mean 2.5, deviations [-1.5, -0.5, 0.5, 1.5],
  //   biased variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25; with
  //   eps = 0.75 the denominator is sqrt(2), so the normalized row is
  //   [-1.5, -0.5, 0.5, 1.5] / sqrt(2).
  // Row 1: x = [5, 5, 5, 5]: variance 0, normalized row is 0 (eps keeps the
  //   division finite), so the output is beta.
  RefTensor x({2, 4}, {1, 2, 3, 4, 5, 5, 5, 5});
  RefTensor gamma({4}, {1, 2, 3, 4});
  RefTensor beta({4}, {0.5, 0.0, -0.5, 1.0});
  double r2 = std::sqrt(2.0);
  // y = n * gamma + beta.
  expectNear(layerNorm(x, gamma, &beta, 0.75), {2, 4},
             {-1.5 / r2 * 1 + 0.5, -0.5 / r2 * 2 + 0.0, 0.5 / r2 * 3 - 0.5,
              1.5 / r2 * 4 + 1.0, 0.5, 0.0, -0.5, 1.0});
  // -1.5/sqrt(2) + 0.5 written out: -0.5606601717798212.
  EXPECT_NEAR(layerNorm(x, gamma, &beta, 0.75)[0], -0.5606601717798212, kTol);
  expectNear(layerNorm(x, gamma, nullptr, 0.75), {2, 4},
             {-1.5 / r2, -1.0 / r2, 1.5 / r2, 6.0 / r2, 0, 0, 0, 0});
}

TEST(RefKernels, RmsNormHandValues) {
  // Row 0: x = [1, 7]: mean square (1 + 49) / 2 = 25, eps 0 -> rms 5;
  //   [0.2, 1.4] * gamma [2, 0.5] = [0.4, 0.7].
  // Row 1: x = [3, -4]: mean square (9 + 16) / 2 = 12.5, rms sqrt(12.5);
  //   [3, -4] / sqrt(12.5) * [2, 0.5].
  RefTensor x({2, 2}, {1, 7, 3, -4});
  RefTensor gamma({2}, {2.0, 0.5});
  double r = std::sqrt(12.5);
  expectNear(rmsNorm(x, gamma, 0.0), {2, 2},
             {0.4, 0.7, 3.0 / r * 2.0, -4.0 / r * 0.5});
  // No mean subtraction: unlike LayerNorm, [3, 4] with eps 3.5 gives
  // (9 + 16) / 2 + 3.5 = 16, rms 4: [0.75, 1.0] * gamma.
  RefTensor y({1, 2}, {3, 4});
  expectNear(rmsNorm(y, gamma, 3.5), {1, 2}, {1.5, 0.5});
}

TEST(RefKernels, NormalizeWithoutGainOrBias) {
  // LayerNorm: [1, 2, 3, 4], eps 0.75 -> [-1.5, -0.5, 0.5, 1.5] / sqrt(2)
  // (see LayerNormWithAndWithoutBeta).
  RefTensor x({1, 4}, {1, 2, 3, 4});
  double r2 = std::sqrt(2.0);
  expectNear(normalize(x, /*rms=*/false, 0.75), {1, 4},
             {-1.5 / r2, -0.5 / r2, 0.5 / r2, 1.5 / r2});
  // RMS: [3, 4], eps 3.5 -> mean square 12.5 + 3.5 = 16 -> [0.75, 1].
  RefTensor y({1, 2}, {3, 4});
  expectNear(normalize(y, /*rms=*/true, 3.5), {1, 2}, {0.75, 1.0});
  // Equal to the gamma = 1 versions.
  RefTensor z = pseudoRandom({3, 5}, 7);
  RefTensor ones({5}, {1, 1, 1, 1, 1});
  expectSame(normalize(z, false, 1e-5), layerNorm(z, ones, nullptr, 1e-5));
  expectSame(normalize(z, true, 1e-5), rmsNorm(z, ones, 1e-5));
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

// One head, K = 4 (scale 1/sqrt(4) = 1/2), three tokens:
//   q0 = [1,0,0,0]  q1 = [0,2,0,0]  q2 = [2,0,2,0]
//   k0 = [2,0,0,0]  k1 = [0,2,0,0]  k2 = [1,1,1,1]
//   v0 = [1,2,3,4]  v1 = [5,6,7,8]  v2 = [-1,0,1,2]
// Scaled scores q_i . k_j / 2:
//   row 0: [1, 0, 0.5]   row 1: [0, 2, 1]   row 2: [2, 0, 2]
RefTensor attnQ() {
  return RefTensor({3, 4}, {1, 0, 0, 0, 0, 2, 0, 0, 2, 0, 2, 0});
}
RefTensor attnK() {
  return RefTensor({3, 4}, {2, 0, 0, 0, 0, 2, 0, 0, 1, 1, 1, 1});
}
RefTensor attnV() {
  return RefTensor({3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, -1, 0, 1, 2});
}

TEST(RefKernels, CausalAttentionThreeTokens) {
  RefTensor out = attention(attnQ(), attnK(), attnV(), 1, 1, 4, true);
  double e2 = std::exp(2.0);
  // Row 0 sees key 0 only: weight 1, so the output is v0 exactly.
  // Row 1 sees keys 0, 1 with scores [0, 2]: weights [1, e^2] / (1 + e^2),
  //   out = (v0 + e^2 v1) / (1 + e^2).
  // Row 2 sees all with scores [2, 0, 2]: weights [e^2, 1, e^2]/(2e^2 + 1),
  //   out = (e^2 (v0 + v2) + v1) / (2e^2 + 1), v0 + v2 = [0, 2, 4, 6].
  double d1 = 1 + e2, d2 = 2 * e2 + 1;
  expectNear(out, {3, 4},
             {1, 2, 3, 4,                           //
              (1 + 5 * e2) / d1, (2 + 6 * e2) / d1, //
              (3 + 7 * e2) / d1, (4 + 8 * e2) / d1, //
              (0 * e2 + 5) / d2, (2 * e2 + 6) / d2, //
              (4 * e2 + 7) / d2, (6 * e2 + 8) / d2});
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(out[c], attnV()[c]) << "token 0 must equal v0 exactly";

  // Changing the future (token 2's key and value) leaves tokens 0 and 1
  // bit for bit unchanged, and does change token 2.
  RefTensor k2 = attnK(), v2 = attnV();
  for (int c = 0; c < 4; ++c) {
    k2[8 + c] = 10.0 - c;
    v2[8 + c] = -50.0 * c;
  }
  RefTensor changed = attention(attnQ(), k2, v2, 1, 1, 4, true);
  for (int e = 0; e < 8; ++e)
    EXPECT_EQ(changed[e], out[e]) << "at flat index " << e;
  EXPECT_GT(std::fabs(changed[8] - out[8]), 1e-3);

  // Decoding: one query at absolute position 2 (N = 1, M = 3) sees all
  // three keys and equals row 2 of the full pass.
  RefTensor q2({1, 4}, {2, 0, 2, 0});
  expectNear(attention(q2, attnK(), attnV(), 1, 1, 4, true), {1, 4},
             {out[8], out[9], out[10], out[11]});
}

TEST(RefKernels, NonCausalAttention) {
  RefTensor out = attention(attnQ(), attnK(), attnV(), 1, 1, 4, false);
  double e = std::exp(1.0), re = std::exp(0.5), e2 = std::exp(2.0);
  // Row 0: scores [1, 0, 0.5]: weights [e, 1, sqrt(e)] / (e + 1 + sqrt(e)).
  // Row 1: scores [0, 2, 1]:  weights [1, e^2, e] / (1 + e^2 + e).
  // Row 2: as in the causal case (it saw every key there too).
  double d0 = e + 1 + re, d1 = 1 + e2 + e, d2 = 2 * e2 + 1;
  expectNear(out, {3, 4},
             {(1 * e + 5 - 1 * re) / d0, (2 * e + 6 + 0 * re) / d0,
              (3 * e + 7 + 1 * re) / d0, (4 * e + 8 + 2 * re) / d0,
              (1 + 5 * e2 - 1 * e) / d1, (2 + 6 * e2 + 0 * e) / d1,
              (3 + 7 * e2 + 1 * e) / d1, (4 + 8 * e2 + 2 * e) / d1, 5 / d2,
              (2 * e2 + 6) / d2, (4 * e2 + 7) / d2, (6 * e2 + 8) / d2});
}

TEST(RefKernels, GroupedQueryEqualsDuplicatedHeads) {
  // H = 4 query heads share Hkv = 2 key/value heads: query heads 0, 1 use
  // kv head 0 and heads 2, 3 use kv head 1. Duplicating each kv head twice
  // (repeatInterleave on the head axis) gives the equivalent full MHA.
  const int64_t n = 3, m = 3, h = 4, hkv = 2, kd = 2;
  RefTensor q = pseudoRandom({n, h * kd}, 1);
  RefTensor k = pseudoRandom({m, hkv * kd}, 2);
  RefTensor v = pseudoRandom({m, hkv * kd}, 3);
  auto dup = [&](const RefTensor &t) {
    return reshape(repeatInterleave(reshape(t, {m, hkv, kd}), 1, h / hkv),
                   {m, h * kd});
  };
  for (bool causal : {true, false}) {
    RefTensor gqa = attention(q, k, v, h, hkv, kd, causal);
    expectSame(gqa, attention(q, dup(k), dup(v), h, h, kd, causal));
    // The pairing is h / (H/Hkv), not h % Hkv: tiling the kv heads
    // ([g0, g1, g0, g1]) gives a different result.
    RefTensor kTiled = concat(k, k, 1), vTiled = concat(v, v, 1);
    RefTensor tiled = attention(q, kTiled, vTiled, h, h, kd, causal);
    double diff = 0;
    for (int64_t e = 0; e < gqa.numel(); ++e)
      diff = std::max(diff, std::fabs(gqa[e] - tiled[e]));
    EXPECT_GT(diff, 1e-3);
  }
}

// The IR's decomposition pass lowers tfm.attention to exactly this chain of
// primitive ops (per line, the op and the shape it produces):
//   q' = reshape(q, [N, H, K]);      q' = transpose(q', [1, 0, 2])  [H, N, K]
//   k' = reshape(k, [M, Hkv, K]);    k' = transpose(k', [1, 0, 2])  [Hkv, M, K]
//   k' = repeatInterleave(k', 0, H/Hkv)    (only when Hkv < H)      [H, M, K]
//   (v' likewise)
//   s  = matmul(q', k', transposeB)                                 [H, N, M]
//   s  = scale(s, 1/sqrt(K));  s = causalMask(s)  (if causal)
//   p  = softmaxLastAxis(s)
//   o  = matmul(p, v')                                              [H, N, K]
//   o  = transpose(o, [1, 0, 2]);    o = reshape(o, [N, H*K])
// The fused kernel must agree with it.
RefTensor composedAttention(const RefTensor &q, const RefTensor &k,
                            const RefTensor &v, int64_t h, int64_t hkv,
                            int64_t kd, bool causal) {
  int64_t n = q.dim(0), m = k.dim(0);
  auto heads = [&](const RefTensor &t, int64_t rows, int64_t nh) {
    RefTensor r = transpose(reshape(t, {rows, nh, kd}), {1, 0, 2});
    return nh == h ? r : repeatInterleave(r, 0, h / nh);
  };
  RefTensor qh = heads(q, n, h), kh = heads(k, m, hkv), vh = heads(v, m, hkv);
  RefTensor s = scale(matmul(qh, kh, true), 1.0 / std::sqrt(double(kd)));
  if (causal)
    s = causalMask(s);
  RefTensor o = matmul(softmaxLastAxis(s), vh, false);
  return reshape(transpose(o, {1, 0, 2}), {n, h * kd});
}

TEST(RefKernels, AttentionEqualsPrimitiveComposition) {
  struct Case {
    int64_t n, m, h, hkv, kd;
  };
  for (Case c : {Case{3, 3, 1, 1, 4}, Case{5, 5, 2, 2, 4}, Case{2, 6, 4, 2, 3},
                 Case{4, 4, 6, 3, 2}}) {
    RefTensor q = pseudoRandom({c.n, c.h * c.kd}, 11);
    RefTensor k = pseudoRandom({c.m, c.hkv * c.kd}, 12);
    RefTensor v = pseudoRandom({c.m, c.hkv * c.kd}, 13);
    for (bool causal : {true, false})
      expectSame(attention(q, k, v, c.h, c.hkv, c.kd, causal),
                 composedAttention(q, k, v, c.h, c.hkv, c.kd, causal));
  }
}

//===----------------------------------------------------------------------===//
// RoPE
//===----------------------------------------------------------------------===//

TEST(RefKernels, RopePositionZeroIsIdentity) {
  RefTensor x = pseudoRandom({1, 2 * 4}, 5);
  RefTensor y = rope(x, 2, 4, 10000.0, 0);
  EXPECT_EQ(y.shape, x.shape);
  EXPECT_EQ(y.data, x.data); // cos 0 = 1, sin 0 = 0 exactly
}

TEST(RefKernels, RopeHandCaseAtPositionOne) {
  // K = 4, theta = 10000: pair i = 0 has frequency 10000^0 = 1, pair i = 1
  // has 10000^(-2/4) = 0.01. At position 1 the angles are 1 and 0.01.
  // x = [1, 2, 3, 4] pairs (x0, x2) = (1, 3) and (x1, x3) = (2, 4):
  //   y0 = 1 cos 1 - 3 sin 1        y2 = 3 cos 1 + 1 sin 1
  //   y1 = 2 cos .01 - 4 sin .01    y3 = 4 cos .01 + 2 sin .01
  double c1 = std::cos(1.0), s1 = std::sin(1.0);
  double c2 = std::cos(0.01), s2 = std::sin(0.01);
  std::vector<double> want = {c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + s1,
                              4 * c2 + 2 * s2};
  // Row 1 of a two-row input (position 1)...
  RefTensor two({2, 4}, {9, 9, 9, 9, 1, 2, 3, 4});
  RefTensor y = rope(two, 1, 4, 10000.0, 0);
  expectNear(slice(y, 0, 1, 1), {1, 4}, want);
  expectNear(slice(y, 0, 0, 1), {1, 4}, {9, 9, 9, 9});
  // ...equals row 0 with a position offset of 1 (a decode step).
  expectNear(rope(RefTensor({1, 4}, {1, 2, 3, 4}), 1, 4, 10000.0, 1), {1, 4},
             want);
  // y0 written out: cos 1 - 3 sin 1 = 0.5403023058681398 - 2.524412954423689
  //                                 = -1.9841106485555495.
  EXPECT_NEAR(y[4], -1.9841106485555495, kTol);
  // theta = 100: pair 1 has frequency 100^(-1/2) = 0.1.
  RefTensor z = rope(RefTensor({1, 4}, {0, 1, 0, 0}), 1, 4, 100.0, 1);
  expectNear(z, {1, 4}, {0, std::cos(0.1), 0, std::sin(0.1)});
}

TEST(RefKernels, RopePairsIWithIPlusHalf) {
  // Rotate-half: x = e_0 at position 1 mixes only indices 0 and K/2 = 2
  // (an interleaved convention would mix 0 with 1 instead).
  RefTensor y = rope(RefTensor({1, 4}, {1, 0, 0, 0}), 1, 4, 10000.0, 1);
  expectNear(y, {1, 4}, {std::cos(1.0), 0.0, std::sin(1.0), 0.0});
  EXPECT_EQ(y[1], 0.0);
  EXPECT_EQ(y[3], 0.0);
}

TEST(RefKernels, RopePreservesNormsAndLayouts) {
  const int64_t n = 5, h = 3, kd = 6;
  RefTensor x = pseudoRandom({n, h * kd}, 9);
  RefTensor y = rope(x, h, kd, 10000.0, 17);
  // A rotation of each pair keeps the norm of every head of every token.
  for (int64_t t = 0; t < n; ++t)
    for (int64_t hh = 0; hh < h; ++hh) {
      double nx = 0, ny = 0;
      for (int64_t c = 0; c < kd; ++c) {
        nx += x[t * h * kd + hh * kd + c] * x[t * h * kd + hh * kd + c];
        ny += y[t * h * kd + hh * kd + c] * y[t * h * kd + hh * kd + c];
      }
      EXPECT_NEAR(nx, ny, kTol);
    }
  // [N, H, K] gives the same numbers in its own shape.
  RefTensor y3 = rope(reshape(x, {n, h, kd}), h, kd, 10000.0, 17);
  expectNear(y3, {n, h, kd}, y.data);
  // Every head of a token is rotated by the same angles: head 1 of a copy
  // of head 0 equals head 0.
  RefTensor same({1, 2 * 4}, {1, 2, 3, 4, 1, 2, 3, 4});
  RefTensor ys = rope(same, 2, 4, 10000.0, 3);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(ys[c], ys[4 + c]);
}

//===----------------------------------------------------------------------===//
// Activations, linear, embedding, positions, patches
//===----------------------------------------------------------------------===//

TEST(RefKernels, Activations) {
  RefTensor x({4}, {-1, 0, 1, 3});
  // relu: max(x, 0).
  expectNear(activation(x, ActKind::ReLU), {4}, {0, 0, 1, 3});
  // gelu(x) = x Phi(x), Phi(x) = (1 + erf(x/sqrt2)) / 2;
  //   erf(1/sqrt2) = 0.6826894921370859 -> gelu(1) = 0.8413447460685429,
  //   gelu(-1) = -(1 - 0.8413447460685429) = -0.15865525393145705,
  //   erf(3/sqrt2) = 0.9973002039367398 -> gelu(3) = 1.5 * 1.99730020393674
  //   = 2.9959503059051097.
  expectNear(
      activation(x, ActKind::GELU), {4},
      {-0.15865525393145705, 0.0, 0.8413447460685429, 2.9959503059051097});
  // gelu_tanh: sqrt(2/pi) = 0.7978845608028654;
  //   x = 1: tanh(0.7978845608028654 * 1.044715) = 0.6823839812165534 ->
  //          0.5 * 1.6823839812165534 = 0.8411919906082767;
  //   x = -1: odd argument -> -0.5 * (1 - 0.6823839812165534)
  //          = -0.1588080093917233;
  //   x = 3: tanh(0.7978845608028654 * (3 + 0.044715 * 27)) =
  //          tanh(3.3569437020886994) = 0.9975750719454847 ->
  //          1.5 * 1.9975750719454847 = 2.996362607918227.
  expectNear(activation(x, ActKind::GELUTanh), {4},
             {-0.1588080093917233, 0.0, 0.8411919906082767, 2.996362607918227});
  // silu(x) = x / (1 + e^-x):
  //   silu(1) = 1 / (1 + 0.36787944117144233) = 0.7310585786300049,
  //   silu(-1) = -1 / (1 + e) = -0.2689414213699951,
  //   silu(3) = 3 / (1 + 0.049787068367863944) = 2.8577223804672997.
  expectNear(
      activation(x, ActKind::SiLU), {4},
      {-0.2689414213699951, 0.0, 0.7310585786300049, 2.8577223804672997});
}

TEST(RefKernels, LinearWithAndWithoutBias) {
  // x [2, 3] = [[1, 2, 3], [-1, 0, 2]], w [3, 2] = [[1, 0], [0, 1], [2, -1]]
  //   x0 w = [1 + 0 + 6, 0 + 2 - 3] = [7, -1]
  //   x1 w = [-1 + 0 + 4, 0 + 0 - 2] = [3, -2]
  // + bias [0.5, 10] -> [[7.5, 9], [3.5, 8]].
  RefTensor x({2, 3}, {1, 2, 3, -1, 0, 2});
  RefTensor w({3, 2}, {1, 0, 0, 1, 2, -1});
  RefTensor b({2}, {0.5, 10});
  expectNear(linear(x, w, &b), {2, 2}, {7.5, 9, 3.5, 8});
  expectNear(linear(x, w, nullptr), {2, 2}, {7, -1, 3, -2});
  // Equal to matmul + broadcast add.
  expectSame(linear(x, w, &b), binary(matmul(x, w, false), b, BinaryKind::Add));
}

TEST(RefKernels, GatherRows) {
  RefTensor table({4, 2}, {0, 1, 10, 11, 20, 21, 30, 31});
  RefTensor out;
  std::string error;
  ASSERT_TRUE(gatherRows(table, RefTensor({3}, {3, 0, 3}), out, error))
      << error;
  expectNear(out, {3, 2}, {30, 31, 0, 1, 30, 31});
}

TEST(RefKernels, GatherRowsRejectsBadIds) {
  RefTensor table({64, 2});
  RefTensor out;
  std::string error;
  EXPECT_FALSE(gatherRows(table, RefTensor({4}, {0, 1, 2, 70}), out, error));
  EXPECT_EQ(error, "token id 70 at position 3 is out of range [0, 64)");
  EXPECT_FALSE(gatherRows(table, RefTensor({1}, {64}), out, error));
  EXPECT_EQ(error, "token id 64 at position 0 is out of range [0, 64)");
  EXPECT_FALSE(gatherRows(table, RefTensor({2}, {5, -1}), out, error));
  EXPECT_EQ(error, "token id -1 at position 1 is out of range [0, 64)");
  EXPECT_FALSE(gatherRows(table, RefTensor({2}, {0, 2.5}), out, error));
  EXPECT_EQ(error, "token id 2.5 at position 1 is not an integer");
  EXPECT_FALSE(gatherRows(table, RefTensor({1}, {std::nan("")}), out, error));
  EXPECT_NE(error.find("at position 0 is not an integer"), std::string::npos)
      << error;
  EXPECT_FALSE(gatherRows(table, RefTensor({1}, {1e300}), out, error));
  EXPECT_EQ(error, "token id 1e+300 at position 0 is out of range [0, 64)");
}

TEST(RefKernels, SinusoidalTable) {
  // d = 4: frequencies 1/10000^(0/4) = 1 and 1/10000^(2/4) = 0.01.
  //   p = 0: [sin 0, cos 0, sin 0, cos 0] = [0, 1, 0, 1]
  //   p = 1: [sin 1, cos 1, sin 0.01, cos 0.01]
  expectNear(sinusoidalTable(2, 4), {2, 4},
             {0, 1, 0, 1, std::sin(1.0), std::cos(1.0), std::sin(0.01),
              std::cos(0.01)});
  // sin 1 = 0.8414709848078965, cos 1 = 0.5403023058681398.
  EXPECT_NEAR(sinusoidalTable(2, 4)[4], 0.8414709848078965, kTol);
  EXPECT_NEAR(sinusoidalTable(2, 4)[5], 0.5403023058681398, kTol);
  // d = 5 (odd): columns 0..4 use 2i = 0, 0, 2, 2, 4, i.e. divisors
  // 10000^(0/5) = 1, 10000^(2/5) = 10^1.6, 10000^(4/5) = 10^3.2; the last
  // column is a sine.
  double f1 = std::pow(10.0, -1.6), f2 = std::pow(10.0, -3.2);
  RefTensor t = sinusoidalTable(2, 5);
  expectNear(
      slice(t, 0, 1, 1), {1, 5},
      {std::sin(1.0), std::cos(1.0), std::sin(f1), std::cos(f1), std::sin(f2)});
}

TEST(RefKernels, PatchifyOrdering) {
  // image[y][x][c] = (y*4 + x)*2 + c, a 4x4x2 image, P = 2: a 2x2 grid of
  // patches, each a vector of 2*2*2 = 8 ordered (row, col, channel).
  //   patch (0,0): pixels (0,0) (0,1) (1,0) (1,1) -> 0 1 2 3 8 9 10 11
  //   patch (0,1): pixels (0,2) (0,3) (1,2) (1,3) -> 4 5 6 7 12 13 14 15
  //   patch (1,0): pixels (2,0) (2,1) (3,0) (3,1) -> 16 17 18 19 24 25 26 27
  //   patch (1,1): pixels (2,2) (2,3) (3,2) (3,3) -> 20 21 22 23 28 29 30 31
  RefTensor image({4, 4, 2});
  for (int64_t i = 0; i < 32; ++i)
    image[i] = static_cast<double>(i);
  expectNear(patchify(image, 2), {4, 8},
             {0,  1,  2,  3,  8,  9,  10, 11, 4,  5,  6,  7,  12, 13, 14, 15,
              16, 17, 18, 19, 24, 25, 26, 27, 20, 21, 22, 23, 28, 29, 30, 31});
}

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

TEST(RefKernels, MatmulPlainBatchedAndTransposed) {
  // [[1,2],[3,4]] x [[5,6],[7,8]] = [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]]
  //                             = [[19, 22], [43, 50]].
  RefTensor a({2, 2}, {1, 2, 3, 4});
  RefTensor b({2, 2}, {5, 6, 7, 8});
  expectNear(matmul(a, b, false), {2, 2}, {19, 22, 43, 50});
  // transposeB: b given as b^T = [[5,7],[6,8]].
  expectNear(matmul(a, RefTensor({2, 2}, {5, 7, 6, 8}), true), {2, 2},
             {19, 22, 43, 50});
  // Non-square: [1, 3] x [3, 2]: [1, 2, 3] . columns [1,0,-1] and [2,1,0]
  //   = [1 - 3, 2 + 2] = [-2, 4].
  expectNear(matmul(RefTensor({1, 3}, {1, 2, 3}),
                    RefTensor({3, 2}, {1, 2, 0, 1, -1, 0}), false),
             {1, 2}, {-2, 4});
  // Batched [2, 2, 2]: batch 0 as above, batch 1 is I x [[2,3],[4,5]].
  RefTensor ab({2, 2, 2}, {1, 2, 3, 4, 1, 0, 0, 1});
  RefTensor bb({2, 2, 2}, {5, 6, 7, 8, 2, 3, 4, 5});
  expectNear(matmul(ab, bb, false), {2, 2, 2}, {19, 22, 43, 50, 2, 3, 4, 5});
  // Batched transposeB [2, 1, 3] x [2, 2, 3]^T -> [2, 1, 2]:
  //   batch 0: [1,2,3] . [1,1,1] = 6, [1,2,3] . [0,1,0] = 2
  //   batch 1: [0,1,0] . [4,5,6] = 5, [0,1,0] . [1,0,0] = 0
  expectNear(matmul(RefTensor({2, 1, 3}, {1, 2, 3, 0, 1, 0}),
                    RefTensor({2, 2, 3}, {1, 1, 1, 0, 1, 0, 4, 5, 6, 1, 0, 0}),
                    true),
             {2, 1, 2}, {6, 2, 5, 0});
}

TEST(RefKernels, BinaryBroadcasting) {
  RefTensor a({2, 3}, {1, 2, 3, 4, 5, 6});
  // [2,3] + [3]: the row is added to each row.
  expectNear(binary(a, RefTensor({3}, {10, 20, 30}), BinaryKind::Add), {2, 3},
             {11, 22, 33, 14, 25, 36});
  // [2,3] * [2,1]: row 0 times 2, row 1 times -1.
  expectNear(binary(a, RefTensor({2, 1}, {2, -1}), BinaryKind::Mul), {2, 3},
             {2, 4, 6, -4, -5, -6});
  // [3] - [2,3]: broadcasting on the left operand too.
  expectNear(binary(RefTensor({3}, {10, 20, 30}), a, BinaryKind::Sub), {2, 3},
             {9, 18, 27, 6, 15, 24});
  // [2,1] + [1,3]: both broadcast -> outer sum [[1+10, 1+20, 1+30], ...].
  expectNear(binary(RefTensor({2, 1}, {1, 2}), RefTensor({1, 3}, {10, 20, 30}),
                    BinaryKind::Add),
             {2, 3}, {11, 21, 31, 12, 22, 32});
  // Equal shapes.
  expectNear(binary(a, a, BinaryKind::Sub), {2, 3}, {0, 0, 0, 0, 0, 0});
}

TEST(RefKernels, ScaleAndArange) {
  expectNear(scale(RefTensor({3}, {1, -2, 0.5}), 0.5), {3}, {0.5, -1, 0.25});
  expectNear(arange(4, 3), {4}, {3, 4, 5, 6});
  expectNear(arange(2, 0), {2}, {0, 1});
}

TEST(RefKernels, CausalMask) {
  // N = M = 3: strictly upper triangle masked.
  RefTensor sq({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectNear(causalMask(sq), {3, 3}, {1, -kInf, -kInf, 4, 5, -kInf, 7, 8, 9});
  // N = 2 queries, M = 4 keys (the queries are positions 2 and 3): query 0
  // sees keys j <= 0 + 2, query 1 sees j <= 3. Batched over 2.
  RefTensor x({2, 2, 4});
  for (int64_t i = 0; i < 16; ++i)
    x[i] = static_cast<double>(i);
  expectNear(causalMask(x), {2, 2, 4},
             {0, 1, 2, -kInf, 4, 5, 6, 7, 8, 9, 10, -kInf, 12, 13, 14, 15});
}

TEST(RefKernels, TransposeAndReshape) {
  RefTensor a({2, 3}, {1, 2, 3, 4, 5, 6});
  expectNear(transpose(a, {1, 0}), {3, 2}, {1, 4, 2, 5, 3, 6});
  // reshape keeps the row-major order.
  expectNear(reshape(a, {3, 2}), {3, 2}, {1, 2, 3, 4, 5, 6});
  expectNear(reshape(a, {6}), {6}, {1, 2, 3, 4, 5, 6});
  // Rank 3, x[i][j][k] = 100i + 10j + k over [2, 3, 2].
  RefTensor x({2, 3, 2});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k)
        x[(i * 3 + j) * 2 + k] = 100.0 * i + 10.0 * j + k;
  // perm [1, 0, 2]: out[j][i][k] = x[i][j][k], shape [3, 2, 2].
  expectNear(transpose(x, {1, 0, 2}), {3, 2, 2},
             {0, 1, 100, 101, 10, 11, 110, 111, 20, 21, 120, 121});
  // perm [2, 0, 1]: out[k][i][j] = x[i][j][k], shape [2, 2, 3].
  expectNear(transpose(x, {2, 0, 1}), {2, 2, 3},
             {0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121});
}

TEST(RefKernels, RepeatInterleave) {
  RefTensor a({2, 2}, {1, 2, 3, 4});
  expectNear(repeatInterleave(a, 1, 2), {2, 4}, {1, 1, 2, 2, 3, 3, 4, 4});
  expectNear(repeatInterleave(a, 0, 2), {4, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
  // GQA layout [Hkv = 2, M = 1, K = 2] -> heads [g0, g0, g1, g1].
  expectNear(repeatInterleave(RefTensor({2, 1, 2}, {1, 2, 3, 4}), 0, 2),
             {4, 1, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
}

TEST(RefKernels, ConcatSliceReduceMean) {
  RefTensor a({2, 2}, {1, 2, 3, 4});
  RefTensor b({2, 1}, {9, 8});
  expectNear(concat(a, b, 1), {2, 3}, {1, 2, 9, 3, 4, 8});
  expectNear(concat(a, RefTensor({1, 2}, {5, 6}), 0), {3, 2},
             {1, 2, 3, 4, 5, 6});
  expectNear(concat(a, b, -1), {2, 3}, {1, 2, 9, 3, 4, 8});

  RefTensor x({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  expectNear(slice(x, 1, 1, 2), {2, 2}, {1, 2, 5, 6});
  expectNear(slice(x, 0, 1, 1), {1, 4}, {4, 5, 6, 7});
  expectNear(slice(x, -1, 3, 1), {2, 1}, {3, 7});

  // Row means (0+1+2+3)/4 = 1.5, (4+5+6+7)/4 = 5.5; column means
  // (0+4)/2 = 2, 3, 4, 5. The reduced axis stays with extent 1.
  expectNear(reduceMean(x, 1), {2, 1}, {1.5, 5.5});
  expectNear(reduceMean(x, -1), {2, 1}, {1.5, 5.5});
  expectNear(reduceMean(x, 0), {1, 4}, {2, 3, 4, 5});
  RefTensor y({2, 3, 2});
  for (int64_t i = 0; i < 12; ++i)
    y[i] = static_cast<double>(i);
  // Middle axis: y[i][:][k] = 6i + k + {0, 2, 4} -> mean 6i + k + 2.
  expectNear(reduceMean(y, 1), {2, 1, 2}, {2, 3, 8, 9});
}

} // namespace
