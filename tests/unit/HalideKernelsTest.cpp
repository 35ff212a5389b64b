//===- HalideKernelsTest.cpp - Halide kernels against the reference ------===//
//
// Each kernel kind and flag combination is JIT-compiled for the host (the
// same pipeline and schedule the AOT path compiles) and run at several N on
// random inputs; results must match the double-precision reference kernels
// to max |a - b| <= 1e-4 * max(1, |ref|). Embed and QKV also run at
// position offsets (pos > 0, as when decoding with a KV cache), and
// attention with more keys than queries. The AOT entry points are checked
// through the object files they write (symbols, ELF machine) and by calling
// NAME_argv.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideKernels.h"
#include "reference/RefKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <dlfcn.h>
#include <fstream>
#include <random>
#include <unistd.h>

using namespace tfc;

namespace {

// Small model dims of the tests.
constexpr int64_t kD = 32, kH = 4, kK = 8, kF = 48, kV = 64, kMaxSeq = 128;
const std::vector<int64_t> kRows = {1, 7, 13, 64};

RefTensor randomTensor(std::vector<int64_t> shape, std::mt19937 &rng,
                       double lo = -1.0, double hi = 1.0) {
  RefTensor t(std::move(shape));
  std::uniform_real_distribution<double> dist(lo, hi);
  for (double &x : t.data)
    x = static_cast<float>(dist(rng)); // exactly representable in f32
  return t;
}

Halide::Buffer<float> toBuffer(const RefTensor &t) {
  std::vector<int> dims(t.shape.rbegin(), t.shape.rend());
  Halide::Buffer<float> b(dims);
  for (int64_t i = 0; i < t.numel(); ++i)
    b.data()[i] = static_cast<float>(t[i]);
  return b;
}

Halide::Target hostTarget() {
  std::string error;
  std::optional<Halide::Target> t = parseKernelTarget("host", error);
  EXPECT_TRUE(t) << error;
  return *t;
}

bool takesPos(KernelKind kind) {
  return kind == KernelKind::Embed || kind == KernelKind::QKV;
}

/// Builds `desc` for the host, binds `in` (argument order; an int tensor is
/// passed as tokens) and `pos` (kinds that take it), and returns the
/// outputs with the given widths.
struct Runner {
  BuiltKernel kernel;
  explicit Runner(const KernelDesc &desc) {
    std::string error;
    std::optional<BuiltKernel> k = buildKernel(desc, hostTarget(), error);
    EXPECT_TRUE(k) << error;
    if (k)
      kernel = *k;
    EXPECT_EQ(kernel.pos.has_value(), takesPos(desc.kind)) << desc.symbol();
  }
  std::vector<RefTensor> run(const std::vector<RefTensor> &in,
                             const std::vector<int64_t> &widths, int64_t rows,
                             const std::vector<int32_t> *tokens = nullptr,
                             int32_t pos = 0) {
    EXPECT_EQ(kernel.inputs.size(), in.size() + (tokens ? 1 : 0));
    if (kernel.pos)
      kernel.pos->set(pos);
    else
      EXPECT_EQ(pos, 0) << "pos given to a kernel without it";
    size_t next = 0;
    Halide::Buffer<int32_t> tok;
    if (tokens) {
      tok = Halide::Buffer<int32_t>(static_cast<int>(tokens->size()));
      for (size_t i = 0; i < tokens->size(); ++i)
        tok(static_cast<int>(i)) = (*tokens)[i];
      kernel.inputs[next++].set(tok);
    }
    std::vector<Halide::Buffer<float>> keep;
    for (const RefTensor &t : in) {
      keep.push_back(toBuffer(t));
      kernel.inputs[next++].set(keep.back());
    }
    std::vector<Halide::Buffer<void>> outs;
    for (int64_t w : widths)
      outs.push_back(
          Halide::Buffer<float>(static_cast<int>(w), static_cast<int>(rows)));
    Halide::Realization r(outs);
    kernel.pipeline.realize(
        r, hostTarget().without_feature(Halide::Target::NoRuntime));
    std::vector<RefTensor> result;
    for (size_t o = 0; o < outs.size(); ++o) {
      Halide::Buffer<float> b = outs[o];
      RefTensor t({rows, widths[o]});
      for (int64_t i = 0; i < t.numel(); ++i)
        t[i] = b.data()[i];
      result.push_back(std::move(t));
    }
    return result;
  }
};

/// max |a - b| / max(1, |ref|) over all elements.
void expectClose(const RefTensor &got, const RefTensor &ref,
                 const std::string &what) {
  ASSERT_EQ(got.shape, ref.shape) << what;
  double worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double err = std::fabs(got[i] - ref[i]) / std::max(1.0, std::fabs(ref[i]));
    if (!(err <= worst)) { // NaN counts as the worst
      worst = std::isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  EXPECT_LE(worst, 1e-4) << what << ": element " << at << " got " << got[at]
                         << " expected " << ref[at];
}

RefTensor firstRows(const RefTensor &t, int64_t rows) {
  return ref::slice(t, 0, 0, rows);
}

RefTensor applyNorm(const RefTensor &x, KernelNorm norm, const RefTensor &g,
                    const RefTensor &b, double eps) {
  switch (norm) {
  case KernelNorm::None:
    return x;
  case KernelNorm::Layer:
    return ref::layerNorm(x, g, &b, eps);
  case KernelNorm::RMS:
    return ref::rmsNorm(x, g, eps);
  }
  return x;
}

/// Appends gamma (and beta) in argument order.
void pushNorm(std::vector<RefTensor> &args, KernelNorm norm, const RefTensor &g,
              const RefTensor &b) {
  if (norm != KernelNorm::None)
    args.push_back(g);
  if (norm == KernelNorm::Layer)
    args.push_back(b);
}

std::string label(const KernelDesc &d, int64_t rows) {
  return d.symbol() + " N=" + std::to_string(rows);
}

//===----------------------------------------------------------------------===//
// Kinds against the reference
//===----------------------------------------------------------------------===//

TEST(HalideKernels, EmbedAllPositionKindsAtOffsets) {
  for (PositionKind pk :
       {PositionKind::Learned, PositionKind::Sinusoidal, PositionKind::None}) {
    KernelDesc d;
    d.kind = KernelKind::Embed;
    d.d = kD;
    d.vocab = kV;
    d.maxSeq = kMaxSeq;
    d.positions = pk;
    std::mt19937 rng(1);
    RefTensor table = randomTensor({kV, kD}, rng);
    RefTensor posTable = randomTensor({kMaxSeq, kD}, rng);
    Runner runner(d);
    for (int64_t rows : kRows)
      for (int64_t pos : {int64_t(0), int64_t(5), kMaxSeq - rows}) {
        std::vector<int32_t> ids;
        RefTensor idT({rows});
        for (int64_t i = 0; i < rows; ++i) {
          ids.push_back(static_cast<int32_t>((i * 37 + 5) % kV));
          idT[i] = ids.back();
        }
        std::vector<RefTensor> args = {table};
        if (pk == PositionKind::Learned)
          args.push_back(posTable);
        RefTensor expect;
        std::string error;
        ASSERT_TRUE(ref::gatherRows(table, idT, expect, error)) << error;
        // Rows pos .. pos+rows-1 of the learned or sinusoidal table.
        if (pk == PositionKind::Learned)
          expect = ref::binary(expect, ref::slice(posTable, 0, pos, rows),
                               ref::BinaryKind::Add);
        if (pk == PositionKind::Sinusoidal)
          expect = ref::binary(
              expect,
              ref::slice(ref::sinusoidalTable(pos + rows, kD), 0, pos, rows),
              ref::BinaryKind::Add);
        expectClose(
            runner.run(args, {kD}, rows, &ids, static_cast<int32_t>(pos))[0],
            expect, label(d, rows) + " pos=" + std::to_string(pos));
      }
  }
}

TEST(HalideKernels, EmbedClampsPositions) {
  // The runtime rejects pos + N > P; the kernel must still stay inside the
  // table: positions past the end read the last row, negative ones row 0.
  KernelDesc d;
  d.kind = KernelKind::Embed;
  d.d = kD;
  d.vocab = kV;
  d.maxSeq = 4;
  d.positions = PositionKind::Learned;
  std::mt19937 rng(10);
  RefTensor table({kV, kD}); // zeros: the output is the position rows
  RefTensor posTable = randomTensor({4, kD}, rng);
  Runner runner(d);
  std::vector<int32_t> ids(4, 0);
  struct Case {
    int32_t pos;
    int64_t rows[4];
  };
  for (Case cs : {Case{2, {2, 3, 3, 3}}, Case{-3, {0, 0, 0, 0}}}) {
    RefTensor out = runner.run({table, posTable}, {kD}, 4, &ids, cs.pos)[0];
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t c = 0; c < kD; ++c)
        ASSERT_EQ(out[n * kD + c], posTable[cs.rows[n] * kD + c])
            << "pos " << cs.pos << " row " << n << " col " << c;
  }
}

TEST(HalideKernels, EmbedClampsTokenIds) {
  KernelDesc d;
  d.kind = KernelKind::Embed;
  d.d = kD;
  d.vocab = kV;
  std::mt19937 rng(2);
  RefTensor table = randomTensor({kV, kD}, rng);
  Runner runner(d);
  std::vector<int32_t> ids = {-5, kV, 1 << 30, 3};
  RefTensor out = runner.run({table}, {kD}, 4, &ids)[0];
  int64_t expectRow[] = {0, kV - 1, kV - 1, 3};
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < kD; ++c)
      ASSERT_EQ(out[n * kD + c], table[expectRow[n] * kD + c])
          << "row " << n << " col " << c;
}

TEST(HalideKernels, SinusoidalEmbedAtLongPositions) {
  // Angles near 1000 radians: a float angle alone would miss by ~6e-5.
  KernelDesc d;
  d.kind = KernelKind::Embed;
  d.d = 16;
  d.vocab = 4;
  d.positions = PositionKind::Sinusoidal;
  RefTensor table({4, 16});
  Runner runner(d);
  RefTensor expect = ref::sinusoidalTable(1024, 16);
  // All 1024 rows at once, and the last 24 as a decode step at pos 1000.
  for (int64_t pos : {0, 1000}) {
    int64_t rows = 1024 - pos;
    std::vector<int32_t> ids(rows, 0);
    RefTensor out =
        runner.run({table}, {16}, rows, &ids, static_cast<int32_t>(pos))[0];
    double worst = 0;
    for (int64_t i = 0; i < out.numel(); ++i)
      worst = std::max(worst, std::fabs(out[i] - expect[pos * 16 + i]));
    EXPECT_LE(worst, 1e-6) << "pos " << pos;
  }
}

struct QKVCase {
  KernelNorm norm;
  bool bias, rope;
  int64_t kvHeads;
};

/// Random inputs of a QKV kernel, its arguments and the reference outputs.
struct QKVData {
  KernelDesc d;
  int64_t qw, kw;
  RefTensor x, g, b, wq, wk, wv, bq, bk, bv;

  explicit QKVData(QKVCase qc) {
    d.kind = KernelKind::QKV;
    d.d = kD;
    d.heads = kH;
    d.kvHeads = qc.kvHeads;
    d.headDim = kK;
    d.norm = qc.norm;
    d.eps = 1e-5;
    d.bias = qc.bias;
    d.rope = qc.rope;
    d.ropeTheta = 500.0;
    qw = kH * kK;
    kw = qc.kvHeads * kK;
    std::mt19937 rng(3);
    x = randomTensor({64, kD}, rng, -2, 3);
    g = randomTensor({kD}, rng, 0.5, 1.5);
    b = randomTensor({kD}, rng);
    wq = randomTensor({kD, qw}, rng);
    wk = randomTensor({kD, kw}, rng);
    wv = randomTensor({kD, kw}, rng);
    bq = randomTensor({qw}, rng);
    bk = randomTensor({kw}, rng);
    bv = randomTensor({kw}, rng);
  }
  /// Rows first .. first+rows-1 of x.
  RefTensor rowsOf(int64_t first, int64_t rows) const {
    return ref::slice(x, 0, first, rows);
  }
  std::vector<RefTensor> args(const RefTensor &xr) const {
    std::vector<RefTensor> a = {xr};
    pushNorm(a, d.norm, g, b);
    for (const RefTensor *t : {&wq, &wk, &wv})
      a.push_back(*t);
    if (d.bias)
      for (const RefTensor *t : {&bq, &bk, &bv})
        a.push_back(*t);
    return a;
  }
  std::vector<RefTensor> expect(const RefTensor &xr, int64_t pos) const {
    RefTensor xn = applyNorm(xr, d.norm, g, b, d.eps);
    RefTensor q = ref::linear(xn, wq, d.bias ? &bq : nullptr);
    RefTensor k = ref::linear(xn, wk, d.bias ? &bk : nullptr);
    RefTensor v = ref::linear(xn, wv, d.bias ? &bv : nullptr);
    if (d.rope) {
      q = ref::rope(q, kH, kK, d.ropeTheta, pos);
      k = ref::rope(k, d.kvHeads, kK, d.ropeTheta, pos);
    }
    return {q, k, v};
  }
};

TEST(HalideKernels, QKVFlagCombinationsAtOffsets) {
  for (QKVCase qc : {QKVCase{KernelNorm::None, false, false, kH},
                     QKVCase{KernelNorm::Layer, true, true, 2},
                     QKVCase{KernelNorm::RMS, false, true, kH},
                     QKVCase{KernelNorm::Layer, true, false, 2}}) {
    QKVData t(qc);
    Runner runner(t.d);
    for (int64_t rows : kRows)
      for (int32_t pos : {0, 9}) {
        RefTensor xr = t.rowsOf(0, rows);
        std::vector<RefTensor> expect = t.expect(xr, pos);
        std::vector<RefTensor> got =
            runner.run(t.args(xr), {t.qw, t.kw, t.kw}, rows, nullptr, pos);
        std::string what =
            label(t.d, rows) + " pos=" + std::to_string(pos) + " ";
        expectClose(got[0], expect[0], what + "q");
        expectClose(got[1], expect[1], what + "k");
        expectClose(got[2], expect[2], what + "v");
      }
  }
}

TEST(HalideKernels, QKVDecodeStepsMatchPrefill) {
  // Decoding with a KV cache computes q/k/v of the new rows only, at
  // pos = the rows already cached; they must be the rows a full pass over
  // the whole sequence computes.
  for (QKVCase qc : {QKVCase{KernelNorm::Layer, true, true, 2},
                     QKVCase{KernelNorm::RMS, false, true, kH},
                     QKVCase{KernelNorm::None, false, false, kH}}) {
    QKVData t(qc);
    Runner runner(t.d);
    std::vector<int64_t> widths = {t.qw, t.kw, t.kw};
    std::vector<RefTensor> full =
        runner.run(t.args(t.rowsOf(0, 8)), widths, 8, nullptr, 0);
    // The last 3 rows at pos 5, and the last row alone at pos 7.
    for (int64_t first : {5, 7}) {
      int64_t rows = 8 - first;
      std::vector<RefTensor> step =
          runner.run(t.args(t.rowsOf(first, rows)), widths, rows, nullptr,
                     static_cast<int32_t>(first));
      for (size_t o = 0; o < 3; ++o) {
        RefTensor want = ref::slice(full[o], 0, first, rows);
        double worst = 0;
        for (int64_t i = 0; i < want.numel(); ++i)
          worst = std::max(worst, std::fabs(step[o][i] - want[i]));
        EXPECT_LE(worst, 1e-6)
            << t.d.symbol() << " output " << o << " rows " << first << "..7";
      }
    }
  }
}

TEST(HalideKernels, QKVCrossAttentionParts) {
  // Cross-attention projects the decoder's rows to queries (parts Q) and the
  // encoder output to keys and values (parts KV): each kernel takes only
  // its own weights and computes what the full QKV kernel computes for
  // those outputs.
  for (QKVCase qc : {QKVCase{KernelNorm::Layer, true, false, 2},
                     QKVCase{KernelNorm::None, false, false, kH},
                     QKVCase{KernelNorm::RMS, true, true, kH}}) {
    QKVData t(qc);
    for (QKVParts parts : {QKVParts::Q, QKVParts::KV}) {
      KernelDesc d = t.d;
      d.parts = parts;
      Runner runner(d);
      for (int64_t rows : {int64_t(1), int64_t(13)})
        for (int32_t pos : {0, 5}) {
          RefTensor xr = t.rowsOf(0, rows);
          std::vector<RefTensor> args = {xr};
          pushNorm(args, d.norm, t.g, t.b);
          if (parts == QKVParts::Q)
            args.push_back(t.wq);
          else
            args.insert(args.end(), {t.wk, t.wv});
          if (d.bias && parts == QKVParts::Q)
            args.push_back(t.bq);
          else if (d.bias)
            args.insert(args.end(), {t.bk, t.bv});
          std::vector<RefTensor> expect = t.expect(xr, pos);
          std::string what =
              label(d, rows) + " pos=" + std::to_string(pos) + " ";
          if (parts == QKVParts::Q) {
            std::vector<RefTensor> got =
                runner.run(args, {t.qw}, rows, nullptr, pos);
            ASSERT_EQ(got.size(), 1u);
            expectClose(got[0], expect[0], what + "q");
          } else {
            std::vector<RefTensor> got =
                runner.run(args, {t.kw, t.kw}, rows, nullptr, pos);
            ASSERT_EQ(got.size(), 2u);
            expectClose(got[0], expect[1], what + "k");
            expectClose(got[1], expect[2], what + "v");
          }
        }
    }
  }
}

TEST(HalideKernels, AttentionCausalAndGroupedQuery) {
  for (bool causal : {true, false})
    for (int64_t kvHeads : {kH, int64_t(2)}) {
      KernelDesc d;
      d.kind = KernelKind::Attention;
      d.heads = kH;
      d.kvHeads = kvHeads;
      d.headDim = kK;
      d.causal = causal;
      std::mt19937 rng(4);
      // Wide scores (|s| up to ~ 8*9/sqrt(8)) exercise the max subtraction.
      RefTensor q = randomTensor({64, kH * kK}, rng, -3, 3);
      RefTensor k = randomTensor({64, kvHeads * kK}, rng, -3, 3);
      RefTensor v = randomTensor({64, kvHeads * kK}, rng);
      Runner runner(d);
      for (int64_t rows : kRows) {
        RefTensor qr = firstRows(q, rows), kr = firstRows(k, rows),
                  vr = firstRows(v, rows);
        RefTensor expect = ref::attention(qr, kr, vr, kH, kvHeads, kK, causal);
        expectClose(runner.run({qr, kr, vr}, {kH * kK}, rows)[0], expect,
                    label(d, rows));
      }
      // More keys than queries (a KV cache): the queries are the last N of
      // M positions, so causal query i sees keys 0 .. i + M - N. N = 1 is a
      // decode step; N = M = 1 the first token.
      for (auto [rows, keys] : {std::pair<int64_t, int64_t>{7, 13},
                                {1, 13},
                                {7, 20},
                                {1, 1},
                                {13, 64}}) {
        RefTensor qr = firstRows(q, rows), kr = firstRows(k, keys),
                  vr = firstRows(v, keys);
        RefTensor expect = ref::attention(qr, kr, vr, kH, kvHeads, kK, causal);
        std::string what = d.symbol() + " N=" + std::to_string(rows) +
                           " M=" + std::to_string(keys);
        expectClose(runner.run({qr, kr, vr}, {kH * kK}, rows)[0], expect, what);
      }
    }
}

TEST(HalideKernels, AttentionDecodeStepMatchesFullPass) {
  // Query rows taken from the end of a causal full pass equal the same
  // queries run alone against all keys; and the mask really applies: the
  // first of 7 queries over 20 keys must not see the last 6 keys.
  KernelDesc d;
  d.kind = KernelKind::Attention;
  d.heads = kH;
  d.kvHeads = 2;
  d.headDim = kK;
  d.causal = true;
  std::mt19937 rng(11);
  int64_t M = 20, HK = kH * kK;
  RefTensor q = randomTensor({M, HK}, rng, -3, 3);
  RefTensor k = randomTensor({M, 2 * kK}, rng, -3, 3);
  RefTensor v = randomTensor({M, 2 * kK}, rng);
  Runner runner(d);
  RefTensor full = runner.run({q, k, v}, {HK}, M)[0];
  for (int64_t rows : {1, 7}) {
    RefTensor step =
        runner.run({ref::slice(q, 0, M - rows, rows), k, v}, {HK}, rows)[0];
    expectClose(step, ref::slice(full, 0, M - rows, rows),
                "last " + std::to_string(rows) + " of " + std::to_string(M));
  }
  // Changing the keys/values a query must not see leaves its output alone.
  RefTensor k2 = k, v2 = v;
  for (int64_t j = 14; j < M; ++j)
    for (int64_t c = 0; c < 2 * kK; ++c) {
      k2[j * 2 * kK + c] = 5.0;
      v2[j * 2 * kK + c] = 100.0;
    }
  RefTensor qr = ref::slice(q, 0, M - 7, 7);
  RefTensor a = runner.run({qr, k, v}, {HK}, 7)[0];
  RefTensor b = runner.run({qr, k2, v2}, {HK}, 7)[0];
  for (int64_t c = 0; c < HK; ++c)
    ASSERT_EQ(a[c], b[c]) << "query 0 (position 13) saw a key past 13, col "
                          << c;
  EXPECT_NE(a[HK], b[HK]) << "query 1 (position 14) must see key 14";
}

TEST(HalideKernels, AttentionOneQueryAtModelWidths) {
  // One query row (a decode step) has a loop nest of its own: keys in blocks
  // of 16 summed across vector lanes. Head widths of a real model (64 = 4
  // vectors), key counts on and off the block size, grouped queries, and a
  // key mask (encoders), against the reference.
  constexpr int64_t H = 3, K = 64;
  for (int64_t kvHeads : {H, int64_t(1)})
    for (bool causal : {true, false})
      for (bool masked : {false, true}) {
        if (masked && causal)
          continue; // masks come with non-causal encoders
        KernelDesc d;
        d.kind = KernelKind::Attention;
        d.heads = H;
        d.kvHeads = kvHeads;
        d.headDim = K;
        d.causal = causal;
        d.keyMask = masked;
        std::mt19937 rng(21);
        std::string error;
        std::optional<BuiltKernel> kernel =
            buildKernel(d, hostTarget(), error);
        ASSERT_TRUE(kernel) << error;
        for (int64_t keys : {1, 15, 16, 17, 37}) {
          RefTensor q = randomTensor({1, H * K}, rng, -2, 2);
          RefTensor k = randomTensor({keys, kvHeads * K}, rng, -2, 2);
          RefTensor v = randomTensor({keys, kvHeads * K}, rng);
          RefTensor mask({keys});
          Halide::Buffer<int32_t> maskBuf(static_cast<int>(keys));
          for (int64_t j = 0; j < keys; ++j) {
            // Every third key masked, but never all of them.
            int32_t on = keys == 1 || j % 3 != 1;
            mask[j] = on;
            maskBuf(static_cast<int>(j)) = on;
          }
          std::vector<Halide::Buffer<float>> in = {toBuffer(q), toBuffer(k),
                                                   toBuffer(v)};
          for (size_t i = 0; i < in.size(); ++i)
            kernel->inputs[i].set(in[i]);
          if (masked)
            kernel->inputs[3].set(maskBuf);
          Halide::Buffer<float> out(static_cast<int>(H * K), 1);
          kernel->pipeline.realize(
              out, hostTarget().without_feature(Halide::Target::NoRuntime));
          RefTensor got({1, H * K});
          for (int64_t i = 0; i < got.numel(); ++i)
            got[i] = out.data()[i];
          RefTensor expect = ref::attention(q, k, v, H, kvHeads, K, causal,
                                            masked ? &mask : nullptr);
          expectClose(got, expect,
                      d.symbol() + " N=1 M=" + std::to_string(keys));
        }
      }
}

struct ProjCase {
  int64_t in, d;
  bool bias;
  KernelNorm norm;
};

TEST(HalideKernels, ProjResidualWithPostNorm) {
  for (ProjCase pc : {ProjCase{kH * kK, kD, true, KernelNorm::None},
                      ProjCase{kF, kD, false, KernelNorm::None},
                      ProjCase{kF, 40, true, KernelNorm::Layer},
                      ProjCase{kH * kK, kD, false, KernelNorm::RMS}}) {
    KernelDesc d;
    d.kind = KernelKind::ProjResidual;
    d.in = pc.in;
    d.d = pc.d;
    d.bias = pc.bias;
    d.norm = pc.norm;
    d.eps = 1e-6;
    std::mt19937 rng(5);
    RefTensor a = randomTensor({64, pc.in}, rng),
              r = randomTensor({64, pc.d}, rng);
    RefTensor w = randomTensor({pc.in, pc.d}, rng),
              b = randomTensor({pc.d}, rng);
    RefTensor g = randomTensor({pc.d}, rng, 0.5, 1.5),
              beta = randomTensor({pc.d}, rng);
    Runner runner(d);
    for (int64_t rows : kRows) {
      RefTensor ar = firstRows(a, rows), rr = firstRows(r, rows);
      std::vector<RefTensor> args = {ar, w};
      if (pc.bias)
        args.push_back(b);
      args.push_back(rr);
      pushNorm(args, pc.norm, g, beta);
      RefTensor y = ref::binary(rr, ref::linear(ar, w, pc.bias ? &b : nullptr),
                                ref::BinaryKind::Add);
      y = applyNorm(y, pc.norm, g, beta, d.eps);
      expectClose(runner.run(args, {pc.d}, rows)[0], y, label(d, rows));
    }
  }
}

TEST(HalideKernels, MLPUpEachActivationGatedAndNot) {
  struct Act {
    Activation spec;
    ref::ActKind ref;
  };
  int variant = 0;
  for (Act act : {Act{Activation::ReLU, ref::ActKind::ReLU},
                  Act{Activation::GELU, ref::ActKind::GELU},
                  Act{Activation::GELUTanh, ref::ActKind::GELUTanh},
                  Act{Activation::SiLU, ref::ActKind::SiLU}})
    for (bool gated : {false, true}) {
      KernelDesc d;
      d.kind = KernelKind::MLPUp;
      d.d = kD;
      d.dFF = kF;
      d.activation = act.spec;
      d.gated = gated;
      // Cycle norm and bias through the variants.
      d.norm = variant % 3 == 0   ? KernelNorm::None
               : variant % 3 == 1 ? KernelNorm::Layer
                                  : KernelNorm::RMS;
      d.bias = variant % 2 == 0;
      ++variant;
      std::mt19937 rng(6);
      RefTensor x = randomTensor({64, kD}, rng, -2, 2);
      RefTensor g = randomTensor({kD}, rng, 0.5, 1.5),
                be = randomTensor({kD}, rng);
      RefTensor w1 = randomTensor({kD, kF}, rng),
                w3 = randomTensor({kD, kF}, rng);
      RefTensor b1 = randomTensor({kF}, rng), b3 = randomTensor({kF}, rng);
      Runner runner(d);
      for (int64_t rows : kRows) {
        RefTensor xr = firstRows(x, rows);
        std::vector<RefTensor> args = {xr};
        pushNorm(args, d.norm, g, be);
        args.push_back(w1);
        if (d.bias)
          args.push_back(b1);
        if (gated) {
          args.push_back(w3);
          if (d.bias)
            args.push_back(b3);
        }
        RefTensor xn = applyNorm(xr, d.norm, g, be, d.eps);
        RefTensor h = ref::activation(
            ref::linear(xn, w1, d.bias ? &b1 : nullptr), act.ref);
        if (gated)
          h = ref::binary(h, ref::linear(xn, w3, d.bias ? &b3 : nullptr),
                          ref::BinaryKind::Mul);
        expectClose(runner.run(args, {kF}, rows)[0], h, label(d, rows));
      }
    }
}

TEST(HalideKernels, HeadTiedAndUntied) {
  struct HeadCase {
    KernelNorm norm;
    bool tied;
    int64_t vocab;
  };
  for (HeadCase hc : {HeadCase{KernelNorm::Layer, false, kV},
                      HeadCase{KernelNorm::RMS, true, kV},
                      HeadCase{KernelNorm::None, true, 61},
                      HeadCase{KernelNorm::None, false, 61}}) {
    KernelDesc d;
    d.kind = KernelKind::Head;
    d.d = kD;
    d.vocab = hc.vocab;
    d.norm = hc.norm;
    d.tied = hc.tied;
    std::mt19937 rng(7);
    RefTensor x = randomTensor({64, kD}, rng, -2, 2);
    RefTensor g = randomTensor({kD}, rng, 0.5, 1.5),
              be = randomTensor({kD}, rng);
    RefTensor w = hc.tied ? randomTensor({hc.vocab, kD}, rng)
                          : randomTensor({kD, hc.vocab}, rng);
    Runner runner(d);
    for (int64_t rows : kRows) {
      RefTensor xr = firstRows(x, rows);
      std::vector<RefTensor> args = {xr};
      pushNorm(args, d.norm, g, be);
      args.push_back(w);
      RefTensor xn = applyNorm(xr, d.norm, g, be, d.eps);
      RefTensor logits = hc.tied ? ref::matmul(xn, w, /*transposeB=*/true)
                                 : ref::linear(xn, w, nullptr);
      expectClose(runner.run(args, {hc.vocab}, rows)[0], logits,
                  label(d, rows));
    }
  }
}

//===----------------------------------------------------------------------===//
// AOT and errors
//===----------------------------------------------------------------------===//

std::string tempPath(const std::string &name) {
  const char *tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/tfc-hk-test-" +
         std::to_string(getpid()) + "-" + name;
}

std::string definedSymbols(const std::string &object) {
  std::string out;
  FILE *p = popen(("nm -g --defined-only " + object).c_str(), "r");
  if (!p)
    return out;
  char buf[512];
  while (fgets(buf, sizeof buf, p))
    out += buf;
  pclose(p);
  return out;
}

KernelDesc smallProj() {
  KernelDesc d;
  d.kind = KernelKind::ProjResidual;
  d.in = kF;
  d.d = kD;
  d.bias = true;
  return d;
}

KernelDesc smallAttention() {
  KernelDesc d;
  d.kind = KernelKind::Attention;
  d.heads = kH;
  d.kvHeads = 2;
  d.headDim = kK;
  d.causal = true;
  return d;
}

std::vector<std::string> argumentNames(const KernelDesc &d) {
  std::string error;
  std::optional<BuiltKernel> k = buildKernel(d, hostTarget(), error);
  EXPECT_TRUE(k) << error;
  std::vector<std::string> names;
  if (!k)
    return names;
  for (const Halide::Argument &a : k->arguments) {
    names.push_back(a.name);
    // Buffers, except the scalar pos (int32).
    EXPECT_EQ(a.is_scalar(), a.name == "pos") << a.name;
    if (a.is_scalar())
      EXPECT_EQ(a.type, Halide::Int(32));
  }
  return names;
}

TEST(HalideKernelsAOT, ArgumentOrderEndsInputsWithPos) {
  using Names = std::vector<std::string>;
  KernelDesc e;
  e.kind = KernelKind::Embed;
  e.d = kD;
  e.vocab = kV;
  e.maxSeq = kMaxSeq;
  e.positions = PositionKind::Learned;
  EXPECT_EQ(argumentNames(e),
            (Names{"tokens", "tok_embed", "pos_embed", "pos"}));
  e.positions = PositionKind::None; // unused, still taken
  EXPECT_EQ(argumentNames(e), (Names{"tokens", "tok_embed", "pos"}));
  QKVData full(QKVCase{KernelNorm::Layer, true, true, 2});
  EXPECT_EQ(argumentNames(full.d), (Names{"x", "gamma", "beta", "wq", "wk",
                                          "wv", "bq", "bk", "bv", "pos"}));
  QKVData bare(QKVCase{KernelNorm::None, false, false, kH});
  EXPECT_EQ(argumentNames(bare.d), (Names{"x", "wq", "wk", "wv", "pos"}));
  EXPECT_EQ(argumentNames(smallAttention()), (Names{"q", "k", "v"}));
  EXPECT_EQ(argumentNames(smallProj()), (Names{"a", "w", "b", "r"}));
}

TEST(HalideKernelsAOT, ObjectDefinesKernelAndArgv) {
  std::string error, path = tempPath("proj.o");
  KernelDesc d = smallProj();
  ASSERT_TRUE(compileKernelObject(d, hostTarget(), path, error)) << error;
  std::string syms = definedSymbols(path);
  EXPECT_NE(syms.find(" T " + d.symbol() + "\n"), std::string::npos) << syms;
  EXPECT_NE(syms.find(" T " + d.symbol() + "_argv\n"), std::string::npos)
      << syms;
  // no_runtime: the runtime is compiled once, separately.
  EXPECT_EQ(syms.find(" halide_malloc\n"), std::string::npos) << syms;
  std::remove(path.c_str());
}

TEST(HalideKernelsAOT, SeveralKernelsInOneObject) {
  std::string error, path = tempPath("two.o");
  KernelDesc a = smallProj(), b = smallAttention();
  ASSERT_TRUE(compileKernelsObject({a, b, a}, hostTarget(), path, error))
      << error;
  std::string syms = definedSymbols(path);
  for (const KernelDesc &d : {a, b}) {
    EXPECT_NE(syms.find(" T " + d.symbol() + "\n"), std::string::npos) << syms;
    EXPECT_NE(syms.find(" T " + d.symbol() + "_argv\n"), std::string::npos);
  }
  std::remove(path.c_str());
}

TEST(HalideKernelsAOT, CrossCompilesForAArch64) {
  std::string error, path = tempPath("arm.o");
  std::optional<Halide::Target> arm = parseKernelTarget("arm-64-linux", error);
  ASSERT_TRUE(arm) << error;
  EXPECT_TRUE(arm->has_feature(Halide::Target::NoRuntime));
  KernelDesc d = smallAttention();
  ASSERT_TRUE(compileKernelObject(d, *arm, path, error)) << error;
  std::ifstream in(path, std::ios::binary);
  unsigned char header[20] = {};
  in.read(reinterpret_cast<char *>(header), sizeof header);
  ASSERT_TRUE(in) << path;
  EXPECT_EQ(header[0], 0x7f);
  EXPECT_EQ(header[1], 'E');
  EXPECT_EQ(header[18] | (header[19] << 8), 183); // EM_AARCH64
  std::remove(path.c_str());
}

/// The AOT object, linked with the standalone runtime into a shared
/// library, computes what the JIT pipeline computes; `pos` goes through
/// NAME_argv as a pointer to an int32, after the input buffers.
TEST(HalideKernelsAOT, RuntimeAndObjectLinkAndRun) {
  std::string error, kobj = tempPath("k.o"), robj = tempPath("rt.o"),
                     so = tempPath("k.so");
  KernelDesc d = smallProj();
  QKVData qkv(QKVCase{KernelNorm::None, false, true, 2});
  ASSERT_TRUE(compileKernelsObject({d, qkv.d}, hostTarget(), kobj, error))
      << error;
  ASSERT_TRUE(compileHalideRuntime(hostTarget(), robj, error)) << error;
  EXPECT_NE(definedSymbols(robj).find(" halide_set_error_handler\n"),
            std::string::npos);
  std::string link =
      "c++ -shared -o " + so + " " + kobj + " " + robj + " -lpthread -ldl";
  ASSERT_EQ(std::system(link.c_str()), 0) << link;
  void *lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  using ArgvFn = int (*)(void **);
  auto fn =
      reinterpret_cast<ArgvFn>(dlsym(lib, (d.symbol() + "_argv").c_str()));
  ASSERT_NE(fn, nullptr);

  std::mt19937 rng(8);
  int64_t rows = 9;
  RefTensor a = randomTensor({rows, kF}, rng), w = randomTensor({kF, kD}, rng),
            b = randomTensor({kD}, rng), r = randomTensor({rows, kD}, rng);
  Halide::Buffer<float> ab = toBuffer(a), wb = toBuffer(w), bb = toBuffer(b),
                        rb = toBuffer(r), yb(kD, static_cast<int>(rows));
  void *args[] = {ab.raw_buffer(), wb.raw_buffer(), bb.raw_buffer(),
                  rb.raw_buffer(), yb.raw_buffer()};
  ASSERT_EQ(fn(args), 0);
  RefTensor got({rows, kD});
  for (int64_t i = 0; i < got.numel(); ++i)
    got[i] = yb.data()[i];
  expectClose(got, ref::binary(r, ref::linear(a, w, &b), ref::BinaryKind::Add),
              "AOT " + d.symbol());

  auto qkvFn =
      reinterpret_cast<ArgvFn>(dlsym(lib, (qkv.d.symbol() + "_argv").c_str()));
  ASSERT_NE(qkvFn, nullptr);
  int64_t steps = 3;
  int32_t pos = 9;
  RefTensor xr = qkv.rowsOf(pos, steps);
  Halide::Buffer<float> xb = toBuffer(xr), wqb = toBuffer(qkv.wq),
                        wkb = toBuffer(qkv.wk), wvb = toBuffer(qkv.wv);
  int s = static_cast<int>(steps);
  Halide::Buffer<float> qb(static_cast<int>(qkv.qw), s),
      kb(static_cast<int>(qkv.kw), s), vb(static_cast<int>(qkv.kw), s);
  void *qkvArgs[] = {xb.raw_buffer(),
                     wqb.raw_buffer(),
                     wkb.raw_buffer(),
                     wvb.raw_buffer(),
                     &pos,
                     qb.raw_buffer(),
                     kb.raw_buffer(),
                     vb.raw_buffer()};
  ASSERT_EQ(qkvFn(qkvArgs), 0);
  std::vector<RefTensor> expect = qkv.expect(xr, pos);
  const Halide::Buffer<float> *outs[] = {&qb, &kb, &vb};
  for (size_t o = 0; o < 3; ++o) {
    RefTensor t({steps, expect[o].shape[1]});
    for (int64_t i = 0; i < t.numel(); ++i)
      t[i] = outs[o]->data()[i];
    expectClose(t, expect[o],
                "AOT " + qkv.d.symbol() + " output " + std::to_string(o));
  }
  dlclose(lib);
  for (const std::string &f : {kobj, robj, so})
    std::remove(f.c_str());
}

TEST(HalideKernelsAOT, KernelTextNamesThePipeline) {
  std::string error, text;
  KernelDesc d = smallProj();
  ASSERT_TRUE(kernelText(d, hostTarget(), "stmt", text, error)) << error;
  EXPECT_NE(text.find(d.symbol()), std::string::npos);
  // The register-tiled product, with its accumulator allocation.
  EXPECT_NE(text.find("allocate prod"), std::string::npos) << text;
  ASSERT_TRUE(kernelText(d, hostTarget(), "llvm", text, error)) << error;
  EXPECT_NE(text.find("define"), std::string::npos);
  EXPECT_NE(text.find(d.symbol()), std::string::npos);
  EXPECT_FALSE(kernelText(d, hostTarget(), "ptx", text, error));
  EXPECT_EQ(error, "--emit=ptx needs --target cuda");
  EXPECT_FALSE(kernelText(d, hostTarget(), "sass", text, error));
  EXPECT_EQ(error, "kernel text kind 'sass' is unknown (expected stmt, llvm, "
                   "asm, ptx or opencl)");
}

// GPU targets: the device code is taken out of the kernel's object file
// whole (PTX for CUDA, OpenCL C for OpenCL), each with its kernel entries.
TEST(HalideKernelsAOT, DeviceCodeOfGpuTargets) {
  std::string error, text;
  KernelDesc d = smallProj();
  Halide::Target cuda = hostTarget()
                            .with_feature(Halide::Target::CUDA)
                            .with_feature(Halide::Target::CUDACapability86);
  ASSERT_TRUE(kernelText(d, cuda, "ptx", text, error)) << error;
  EXPECT_EQ(text.find("//"), 0u) << text.substr(0, 200);
  EXPECT_NE(text.find(".version"), std::string::npos);
  EXPECT_NE(text.find(".target sm_86"), std::string::npos);
  EXPECT_NE(text.find(".entry"), std::string::npos);
  EXPECT_EQ(text.find('\0'), std::string::npos);
  Halide::Target opencl = hostTarget().with_feature(Halide::Target::OpenCL);
  ASSERT_TRUE(kernelText(d, opencl, "opencl", text, error)) << error;
  EXPECT_EQ(text.find("/*OpenCL C"), 0u) << text.substr(0, 200);
  EXPECT_NE(text.find("__kernel void"), std::string::npos);
  EXPECT_FALSE(kernelText(d, opencl, "ptx", text, error));
}

// Halide 14's link_modules keeps one module's device code: GPU kernels are
// written one object each, and the one-object entry refuses GPU targets.
TEST(HalideKernelsAOT, GpuKernelsGetAnObjectEach) {
  std::string error;
  Halide::Target opencl = hostTarget().with_feature(Halide::Target::OpenCL);
  std::vector<std::string> objects;
  ASSERT_TRUE(compileKernelObjects({smallProj(), smallAttention(), smallProj()},
                                   opencl, tempPath("gpu.o"), objects, error))
      << error;
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0], tempPath("gpu.0.o"));
  EXPECT_EQ(objects[1], tempPath("gpu.1.o"));
  for (const std::string &o : objects) {
    std::ifstream in(o, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.substr(0, 4), "\x7f" "ELF") << o;
    EXPECT_NE(bytes.find("/*OpenCL C"), std::string::npos) << o;
  }
  EXPECT_FALSE(compileKernelsObject({smallProj()}, opencl, tempPath("g.o"),
                                    error));
  EXPECT_NE(error.find("GPU kernels need an object each"), std::string::npos)
      << error;
  objects.clear();
  ASSERT_TRUE(compileKernelObjects({smallProj(), smallAttention()},
                                   hostTarget(), tempPath("cpu.o"), objects,
                                   error))
      << error;
  EXPECT_EQ(objects, std::vector<std::string>{tempPath("cpu.o")});
}

TEST(HalideKernelsErrors, BadTargetString) {
  std::string error;
  EXPECT_FALSE(parseKernelTarget("banana", error));
  EXPECT_NE(error.find("kernel target 'banana' is not a Halide target string"),
            std::string::npos)
      << error;
  std::optional<Halide::Target> avx2 =
      parseKernelTarget("x86-64-linux-avx2-fma", error);
  ASSERT_TRUE(avx2) << error;
  EXPECT_TRUE(avx2->has_feature(Halide::Target::AVX2));
  EXPECT_TRUE(avx2->has_feature(Halide::Target::NoRuntime));
  // GPU targets: OpenCL and CUDA have schedules; other device APIs do not.
  EXPECT_TRUE(parseKernelTarget("x86-64-linux-avx2-opencl", error)) << error;
  EXPECT_TRUE(parseKernelTarget("x86-64-linux-cuda", error)) << error;
  EXPECT_FALSE(parseKernelTarget("x86-64-osx-metal", error));
  EXPECT_NE(error.find("has a device API tfc has no schedules for"),
            std::string::npos)
      << error;
  EXPECT_FALSE(parseKernelTarget("x86-64-linux-opencl-cuda", error));
  EXPECT_NE(error.find("names both opencl and cuda"), std::string::npos)
      << error;
}

TEST(HalideKernelsErrors, InconsistentDescriptor) {
  KernelDesc d = smallAttention();
  d.heads = 3;
  std::string error;
  EXPECT_FALSE(buildKernel(d, hostTarget(), error));
  EXPECT_NE(error.find("heads (3) must be a multiple of kvHeads (2)"),
            std::string::npos)
      << error;
  d = smallProj();
  d.in = 0;
  EXPECT_FALSE(compileKernelObject(d, hostTarget(), tempPath("x.o"), error));
  EXPECT_NE(error.find("in must be in [1, 2^30], found 0"), std::string::npos)
      << error;
}

TEST(HalideKernelsErrors, RuntimeBoundsErrorIsCaughtByCaller) {
  // A learned position table shorter than the descriptor's maxSeq: the
  // kernel reports a bounds error instead of reading past the table.
  KernelDesc d;
  d.kind = KernelKind::Embed;
  d.d = kD;
  d.vocab = kV;
  d.maxSeq = 4;
  d.positions = PositionKind::Learned;
  Runner runner(d);
  std::mt19937 rng(9);
  std::vector<int32_t> ids(2, 1);
  EXPECT_THROW(
      runner.run({randomTensor({kV, kD}, rng), randomTensor({3, kD}, rng)},
                 {kD}, 2, &ids),
      Halide::RuntimeError);
}

} // namespace
