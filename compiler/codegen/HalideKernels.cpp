//===- HalideKernels.cpp - Halide pipelines of the fused kernels ---------===//
//
// One builder per kernel kind: each writes the algorithm (the math of
// KernelDesc.h) and then its CPU schedule. Conventions:
//  - Halide dimension 0 (`c`) is the contiguous feature axis, dimension 1
//    (`n`) the token axis. N is dynamic (the rows of the call), the model
//    dimensions are static and declared as buffer bounds, so Halide knows
//    every extent except N and that dimension 0 is dense.
//  - Row n of a call is at absolute position pos + n. Embed and QKV take
//    the int32 scalar `pos` (a Param) as their last input, whether or not
//    they use it, so that every kernel of a kind has the same argument list
//    shape; Attention derives its causal offset from the key count instead
//    (the queries are the last N of M keys).
//  - Matrix products are register-tiled: an output tile of `cols` columns
//    (3 vectors) by `rows` rows of accumulators (`prod`, computed at the
//    tile), the reduction over the input dimension innermost. Column tails
//    shift inwards (recomputing a few columns is harmless); row tails are
//    guarded (GuardWithIf), so no row is computed twice and any N >= 1
//    works. The column tiles are the parallel loop, so N = 1 (decode) still
//    uses every core.
//  - Remaining per-call allocations outside tile scratch: the normalised
//    input of a norm prologue (N x D), the pre-RoPE q/k (N x H*K) and the
//    RoPE tables (N x K/2 each), the pre-norm rows of a post-norm
//    ProjResidual (N x D), and attention's transposed keys (M x K per head)
//    and its scores/probabilities (tq x M per query tile, heap-allocated by
//    Halide per tile: hoisting them with store_at + fold_storage removed
//    the allocations but ran 1.8x slower).
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideKernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <fcntl.h>
#include <unistd.h>

namespace tfc {
namespace {

using namespace Halide;

/// The largest power of two <= `limit` that divides `extent` (at least 1),
/// so a vectorised loop over a static extent has no tail.
int dividingWidth(int64_t extent, int limit) {
  int w = 1;
  while (w * 2 <= limit && extent % (w * 2) == 0)
    w *= 2;
  return w;
}

/// The largest power of two <= `limit` and <= `extent`.
int fittingWidth(int64_t extent, int limit) {
  int w = 1;
  while (w * 2 <= limit && w * 2 <= extent)
    w *= 2;
  return w;
}

class KernelBuilder {
public:
  KernelBuilder(const KernelDesc &desc, const Target &target)
      : d(desc), t(target) {
    vec = std::max(1, t.natural_vector_size<float>());
    // Accumulator rows of the matrix-product tile: 3 vectors x rows must
    // leave registers for the loads (32 vector registers on AVX-512 and
    // NEON, 16 on AVX2 and SSE).
    bool manyRegs = t.has_feature(Target::AVX512) || t.arch == Target::ARM;
    tileRows = d.tileRows > 0 ? static_cast<int>(d.tileRows)
                               : (manyRegs ? 8 : 4);
    estimateN = d.maxSeq > 0 ? static_cast<int>(d.maxSeq) : 512;
    gpu = t.has_gpu_feature();
  }

  /// Checks that the dimensions the kind uses are set and consistent.
  std::string check() const;
  BuiltKernel build();

private:
  const KernelDesc &d;
  Target t;
  int vec;
  int tileRows;
  int estimateN;
  /// The target runs the kernels on a GPU (OpenCL or CUDA): every stage
  /// gets a GPU schedule (gpuRows, gpuProducts, ...), and reads that a
  /// thread tile may take past the last row or column are clamped.
  bool gpu = false;
  std::vector<ImageParam> inputs;
  std::optional<Param<int32_t>> pos;
  Var c{"c"}, n{"n"};

  // --- Arguments ----------------------------------------------------------
  /// [N, width] rows (N dynamic, rows start at 0, dense).
  ImageParam rowsParam(const std::string &name, int64_t width) {
    ImageParam p(Float(32), 2, name);
    p.dim(0).set_bounds(0, static_cast<int>(width)).set_stride(1);
    p.dim(1).set_min(0).set_stride(static_cast<int>(width));
    p.dim(1).set_estimate(0, estimateN);
    inputs.push_back(p);
    if (!rows.defined()) {
      rows = p.dim(1).extent();
      oneRow = rows == 1;
    }
    return p;
  }
  /// The call has one row (a decode step): true when the first rows
  /// argument has one row. Products select their one-row algorithm on it,
  /// and tileProducts specializes on it (the same Expr, so that each branch
  /// keeps one algorithm).
  Expr oneRow;
  /// The call's row count (N): the first rows argument's extent.
  Expr rows;
  /// Product::packed of each product's rows Func (by name): one per Func.
  std::map<std::string, Func> packedRows;
  /// A weight [rows, cols] (Halide: cols x rows), fully static.
  ImageParam matrixParam(const std::string &name, int64_t rows, int64_t cols) {
    ImageParam p(Float(32), 2, name);
    p.dim(0).set_bounds(0, static_cast<int>(cols)).set_stride(1);
    p.dim(1)
        .set_bounds(0, static_cast<int>(rows))
        .set_stride(static_cast<int>(cols));
    inputs.push_back(p);
    return p;
  }
  /// A matrix weight [rows, cols] in the descriptor's storage type and
  /// layout (KernelDesc.h), with its int8 scales.
  struct Matrix {
    ImageParam data;
    std::optional<ImageParam> scale;
    int64_t cols = 0, panel = 0, group = 0;
    /// data is [cols, rows] read transposed (a tied head's embedding).
    bool transposed = false;
    /// GPU targets read 16-bit weights as their bits (uint16), f16 or bf16
    /// as `bits16` says, and decode them with integer operations: OpenCL
    /// devices need not support half (POCL does not), and Halide 14's NVPTX
    /// backend cannot convert bf16.
    WeightType bits16 = WeightType::F32;
    /// w[k, c] as f32 (int8: times its group's scale).
    Expr at(Expr c, Expr k) const {
      Expr v = unscaled(c, k);
      if (scale)
        v = v * scaleAt(c, k / static_cast<int>(group));
      return v;
    }
    /// int8: the scale of group g of column c.
    Expr scaleAt(Expr c, Expr g) const {
      return panel > 0 ? (*scale)(c % static_cast<int>(panel), g,
                                  c / static_cast<int>(panel))
                       : (*scale)(c, g);
    }
    /// w[k, c] as f32 before its int8 scale.
    Expr unscaled(Expr c, Expr k) const {
      Expr v = transposed  ? data(k, c)
               : panel > 0 ? data(c % static_cast<int>(panel), k,
                                  c / static_cast<int>(panel))
                           : data(c, k);
      if (bits16 == WeightType::BF16) // the high half of an f32
        return reinterpret(Float(32), cast<uint32_t>(v) << 16);
      if (v.type() == Float(16) || bits16 == WeightType::F16) {
        // Halide 14 converts f16 with a dozen integer instructions per
        // vector (no vcvtph2ps). Weights are finite (the loader refuses
        // NaN, infinity and f16 overflow), so a shift and one multiply do:
        // the f16 exponent and mantissa moved into f32's fields give
        // 2^-112 times the value (subnormals included), and the sign bit
        // moves along.
        Expr h = cast<uint32_t>(
            v.type() == UInt(16) ? v : reinterpret(UInt(16), v));
        Expr bits = ((h & 0x8000u) << 16) | ((h & 0x7fffu) << 13);
        v = reinterpret(Float(32), bits) * std::ldexp(1.0f, 112);
      } else if (v.type() != Float(32)) {
        v = cast<float>(v);
      }
      return v;
    }
  };
  Matrix matrix(const std::string &name, int64_t rows, int64_t cols) {
    Matrix m;
    m.cols = cols;
    m.panel = panelFor(d, cols);
    Type type = d.weightType == WeightType::F16    ? Float(16)
                : d.weightType == WeightType::BF16 ? BFloat(16)
                : d.weightType == WeightType::I8   ? Int(8)
                                                   : Float(32);
    if (gpu && type.bits() == 16) {
      m.bits16 = d.weightType;
      type = UInt(16);
    }
    int64_t padded = m.panel > 0 ? (cols + m.panel - 1) / m.panel * m.panel
                                 : cols;
    if (m.panel > 0) {
      int p = static_cast<int>(m.panel);
      m.data = ImageParam(type, 3, name);
      m.data.dim(0).set_bounds(0, p).set_stride(1);
      m.data.dim(1)
          .set_bounds(0, static_cast<int>(rows))
          .set_stride(p);
      m.data.dim(2)
          .set_bounds(0, static_cast<int>(padded / p))
          .set_stride(static_cast<int>(rows) * p);
    } else {
      m.data = ImageParam(type, 2, name);
      m.data.dim(0).set_bounds(0, static_cast<int>(cols)).set_stride(1);
      m.data.dim(1)
          .set_bounds(0, static_cast<int>(rows))
          .set_stride(static_cast<int>(cols));
    }
    inputs.push_back(m.data);
    if (d.weightType == WeightType::I8) {
      m.group = groupFor(d, rows);
      // Packed scales follow the panels: [panels, groups, P] (Halide: P x
      // groups x panels), so a tile reads its scales contiguously too.
      int groups = static_cast<int>(rows / m.group);
      ImageParam s(Float(32), m.panel > 0 ? 3 : 2, name + "_scale");
      if (m.panel > 0) {
        int p = static_cast<int>(m.panel);
        s.dim(0).set_bounds(0, p).set_stride(1);
        s.dim(1).set_bounds(0, groups).set_stride(p);
        s.dim(2)
            .set_bounds(0, static_cast<int>(padded / p))
            .set_stride(groups * p);
      } else {
        s.dim(0).set_bounds(0, static_cast<int>(padded)).set_stride(1);
        s.dim(1).set_bounds(0, groups).set_stride(static_cast<int>(padded));
      }
      inputs.push_back(s);
      m.scale = s;
    }
    return m;
  }
  ImageParam vectorParam(const std::string &name, int64_t len) {
    ImageParam p(Float(32), 1, name);
    p.dim(0).set_bounds(0, static_cast<int>(len)).set_stride(1);
    inputs.push_back(p);
    return p;
  }
  /// The position offset `pos`: the last input of Embed and QKV (call it
  /// after every buffer parameter). Unconstrained: the runtime validates it,
  /// and the kernels clamp the indices they derive from it.
  Expr positionParam() {
    pos = Param<int32_t>("pos");
    pos->set_estimate(0);
    return *pos;
  }
  void constrainOutput(Func f, int64_t width) {
    f.output_buffer()
        .dim(0)
        .set_bounds(0, static_cast<int>(width))
        .set_stride(1);
    f.output_buffer().dim(1).set_min(0).set_stride(static_cast<int>(width));
    f.set_estimates({{0, static_cast<int>(width)}, {0, estimateN}});
  }

  // --- Algorithm pieces ---------------------------------------------------
  Func wrap(ImageParam p, const std::string &name) {
    Func f(name);
    f(c, n) = p(c, n);
    return f;
  }
  /// norm(x) over the `width` features of each row, times gamma (+ beta).
  /// Stats are computed per row at y's row loop; y's own schedule is the
  /// caller's.
  Func normRows(Func x, int64_t width, ImageParam gamma,
                std::optional<ImageParam> beta, const std::string &name);
  /// A matrix product: prod(c, n) = sum_k a(k, n) * w(c, k), computed in a
  /// register tile; value(c, n) = init + prod (int8: init + scale * prod).
  /// A one-row call (decode) computes `one`, a product of its own over row
  /// 0 (see tileProducts); value selects it when the call has one row.
  struct Product {
    Func prod, one;
    Func packed; // the rows of `a` in tiles: packed(i, k, t) = a(k, t*T + i)
    Func oneGroup; // int8: one group's unscaled sums, at one's group loop
    RDom r, rOne, rGroup;
    ImageParam weights; // the matrix's data
    Expr value; // at (c, n)
  };
  Product product(const std::string &name, Func a, int64_t in, const Matrix &w,
                  Expr init);
  Expr activation(Expr x) const;
  /// Feature c of the sinusoidal position encoding of `position` (width
  /// D); defines `freq` (the per-pair inverse frequencies: compute_root it).
  Expr sinusoid(Expr position, int64_t D, Func freq) {
    // Angles in double: position / 10000^(2i/D) reaches ~1e3 radians, where
    // a float angle alone would be off by ~6e-5.
    Var i("i");
    Expr pair = cast<double>(i - i % 2);
    freq(i) =
        Halide::exp(pair * Expr(-std::log(10000.0) / static_cast<double>(D)));
    Expr angle = cast<double>(position) * freq(c);
    return cast<float>(
        select(c % 2 == 0, Halide::sin(angle), Halide::cos(angle)));
  }

  // --- Schedules ----------------------------------------------------------
  /// Register-tiles `out` (outCols columns) over the products it consumes.
  void tileProducts(Func out, int64_t outCols,
                    const std::vector<Product> &prods);
  /// Row-wise schedule of a pointwise or row-normalising stage.
  void rowwise(Func f, int64_t width) {
    if (gpu) {
      gpuTile(f, width);
      return;
    }
    int v = fittingWidth(width, vec);
    // One row (decode) runs on the calling thread: waking the thread pool
    // for a single row costs more than the row.
    if (oneRow.defined()) {
      Stage one = f.specialize(oneRow);
      if (v > 1)
        one.vectorize(c, v);
    }
    f.parallel(n);
    if (v > 1)
      f.vectorize(c, v);
  }
  void scheduleNormPrologue(Func xn, int64_t width) {
    xn.compute_root();
    rowwise(xn, width);
  }

  // --- GPU schedules (OpenCL and CUDA alike) ------------------------------
  /// A thread per element of f(c, n) (or f(i)), in blocks of up to 64
  /// columns by 256/64 rows; tails guarded. For stages that compute one
  /// value per element (pointwise, RoPE, norms applied).
  void gpuTile(Func f, int64_t width) {
    Var co("co"), ci("ci"), no("no"), ni("ni");
    std::vector<Var> args = f.args();
    int cw = fittingWidth(width, 64);
    if (args.size() == 1) {
      f.gpu_tile(args[0], co, ci, cw, TailStrategy::GuardWithIf);
      return;
    }
    f.gpu_tile(args[0], args[1], co, no, ci, ni, cw, std::max(1, 256 / cw),
               TailStrategy::GuardWithIf);
  }
  /// f computed at root on the GPU, a thread per element; a reduction is
  /// computed whole by the thread of its element (a wrapper takes the root,
  /// so that the reduction's loop runs inside one kernel).
  void gpuRoot(Func f, int64_t width) {
    Func g = f.has_update_definition() ? f.in() : f;
    g.compute_root();
    gpuTile(g, width);
    if (g.name() != f.name())
      f.compute_at(g, Var("ci"));
  }
  /// Matrix products on the GPU (gpuProducts, below).
  void gpuProducts(Func out, int64_t outCols,
                   const std::vector<Product> &prods);

  /// A small table at root (sinusoid frequencies, RoPE angles), if defined.
  void scheduleTable(Func f, int64_t width) {
    if (!f.defined())
      return;
    if (gpu)
      gpuRoot(f, width);
    else
      f.compute_root();
  }

  BuiltKernel finish(std::vector<Func> outs) {
    BuiltKernel k{Pipeline(outs), {}, inputs, pos, outs};
    for (const ImageParam &p : inputs)
      k.arguments.push_back(p);
    if (pos)
      k.arguments.push_back(*pos);
    return k;
  }

  BuiltKernel embed();
  BuiltKernel qkv();
  BuiltKernel attention();
  BuiltKernel attentionGpu(ImageParam q, ImageParam k, ImageParam v,
                           std::optional<ImageParam> mask);
  BuiltKernel projResidual();
  BuiltKernel mlpUp();
  BuiltKernel head();
  BuiltKernel patch();
  BuiltKernel classify();

  /// gamma and beta parameters of a norm prologue/epilogue, in order.
  void normParams(std::optional<ImageParam> &gamma,
                  std::optional<ImageParam> &beta, int64_t width) {
    if (d.norm == KernelNorm::None)
      return;
    gamma = vectorParam("gamma", width);
    if (d.norm == KernelNorm::Layer)
      beta = vectorParam("beta", width);
  }
};

std::string KernelBuilder::check() const {
  auto positive = [&](const char *what, int64_t v) -> std::string {
    if (v > 0 && v <= (int64_t(1) << 30))
      return "";
    return std::string(toString(d.kind)) + " kernel: " + what +
           " must be in [1, 2^30], found " + std::to_string(v);
  };
  std::string e;
  auto need = [&](const char *what, int64_t v) {
    if (e.empty())
      e = positive(what, v);
  };
  switch (d.kind) {
  case KernelKind::Embed:
    need("vocab", d.vocab);
    need("d", d.d);
    if (d.positions == PositionKind::Learned)
      need("maxSeq", d.maxSeq);
    break;
  case KernelKind::QKV:
  case KernelKind::Attention:
    if (d.kind == KernelKind::QKV)
      need("d", d.d);
    need("heads", d.heads);
    need("kvHeads", d.kvHeads);
    need("headDim", d.headDim);
    if (e.empty() && d.heads % d.kvHeads != 0)
      e = std::string(toString(d.kind)) + " kernel: heads (" +
          std::to_string(d.heads) + ") must be a multiple of kvHeads (" +
          std::to_string(d.kvHeads) + ")";
    if (e.empty() && d.kind == KernelKind::QKV && d.rope && d.headDim % 2)
      e = "qkv kernel: rope needs an even headDim, found " +
          std::to_string(d.headDim);
    break;
  case KernelKind::ProjResidual:
    need("in", d.in);
    need("d", d.d);
    break;
  case KernelKind::MLPUp:
    need("d", d.d);
    need("dFF", d.dFF);
    break;
  case KernelKind::Head:
    need("d", d.d);
    need("vocab", d.vocab);
    break;
  case KernelKind::Patch:
    need("height", d.imageH);
    need("width", d.imageW);
    need("channels", d.imageC);
    need("patch", d.patch);
    need("d", d.d);
    if (e.empty() && (d.imageH % d.patch || d.imageW % d.patch))
      e = "patch kernel: the patch (" + std::to_string(d.patch) +
          ") must divide the image's height and width";
    if (e.empty() &&
        d.maxSeq != 1 + (d.imageH / d.patch) * (d.imageW / d.patch))
      e = "patch kernel: maxSeq must be 1 + the number of patches";
    break;
  case KernelKind::Classify:
    need("d", d.d);
    need("classes", d.classes);
    break;
  }
  if (e.empty() && d.norm != KernelNorm::None && !(d.eps > 0))
    e = std::string(toString(d.kind)) + " kernel: eps must be > 0, found " +
        std::to_string(d.eps);
  return e;
}

Func KernelBuilder::normRows(Func x, int64_t width, ImageParam gamma,
                             std::optional<ImageParam> beta,
                             const std::string &name) {
  RDom r(0, static_cast<int>(width), name + "_r");
  float invWidth = 1.0f / static_cast<float>(width);
  float eps = static_cast<float>(d.eps);
  Func y(name), sum(name + "_sum"), mean(name + "_mean"), rstd(name + "_rstd");
  Func sq(name + "_sq");
  std::vector<Func> sums;
  if (d.norm == KernelNorm::Layer) {
    sum(n) = 0.0f;
    sum(n) += x(r, n);
    mean(n) = sum(n) * invWidth;
    // Two passes (mean, then the mean of squared deviations): the biased
    // variance without the cancellation of E[x^2] - E[x]^2.
    sq(n) = 0.0f;
    sq(n) += (x(r, n) - mean(n)) * (x(r, n) - mean(n));
    rstd(n) = 1.0f / Halide::sqrt(sq(n) * invWidth + eps);
    y(c, n) = (x(c, n) - mean(n)) * rstd(n) * gamma(c) + (*beta)(c);
    sums = {sum, sq};
  } else {
    sq(n) = 0.0f;
    sq(n) += x(r, n) * x(r, n);
    rstd(n) = 1.0f / Halide::sqrt(sq(n) * invWidth + eps);
    y(c, n) = x(c, n) * rstd(n) * gamma(c);
    sums = {sq};
  }
  if (gpu) {
    // A thread per row sums it (the row's statistics at root, mean and
    // rstd inlined into their readers).
    for (Func s : sums)
      gpuRoot(s, 1);
    return y;
  }
  if (d.norm == KernelNorm::Layer)
    mean.compute_at(y, n);
  rstd.compute_at(y, n);
  // Vectorised sums: each lane sums a strided slice, then the lanes add up.
  int v = dividingWidth(width, vec);
  for (Func s : sums) {
    s.compute_at(y, n);
    if (v > 1) {
      RVar ro("ro"), ri("ri");
      Var u("u");
      Func lanes = s.update().split(r.x, ro, ri, v).rfactor(ri, u);
      lanes.compute_at(y, n).vectorize(u);
      lanes.update().vectorize(u);
    }
  }
  return y;
}

KernelBuilder::Product KernelBuilder::product(const std::string &name, Func a,
                                              int64_t in, const Matrix &w,
                                              Expr init) {
  Product p;
  p.r = RDom(0, static_cast<int>(in), name + "_k");
  p.prod = Func(name);
  // A padded last panel computes columns past the width: its bias and
  // residual reads are clamped to the last column (the results are never
  // stored).
  // On the GPU a thread's tile may reach past the last column too: every
  // column read is clamped there.
  Expr lastCol = static_cast<int>(w.cols - 1);
  if ((w.panel > 0 && w.cols % w.panel != 0) || gpu)
    init = Internal::substitute(c.name(), min(c, lastCol), init);
  Expr wc = gpu ? min(c, lastCol) : c; // the column a weight read uses
  // The bias and residual start the accumulator. A tile computes all its
  // rows (tileProducts): those past the call's last read its last row.
  p.prod(c, n) =
      Internal::substitute(n.name(), min(n, rows - 1), init);
  // The rows of a tile, interleaved ([ceil(N/T), in, T]): one stream of
  // broadcasts per tile instead of one per row. One copy per rows Func,
  // shared by the products that read it (Q, K, V; a gated MLP's two).
  auto known = packedRows.find(a.name());
  if (gpu) {
    // The GPU reads the rows as they are (threads of a block share them
    // through the cache).
    p.prod(c, n) += a(p.r, min(n, rows - 1)) * w.at(wc, p.r);
  } else if (known != packedRows.end()) {
    p.packed = known->second;
  } else {
    Var i("i"), k("k"), t("t");
    p.packed = Func(a.name() + "_tiles");
    p.packed(i, k, t) = a(k, min(t * tileRows + i, rows - 1));
    packedRows.emplace(a.name(), p.packed);
    p.packed.compute_root()
        .reorder(i, k, t)
        .vectorize(k, vec)
        .unroll(i)
        .parallel(t);
  }
  if (!gpu)
    p.prod(c, n) += p.packed(n % tileRows, p.r, n / tileRows) * w.at(c, p.r);
  p.weights = w.data;
  if (gpu) {
    // The GPU's decode differs in its schedule only (gpuProducts): Halide
    // keeps a one-row Func computed in the many-row branch of a GPU kernel,
    // whose select it does not simplify there.
    p.value = p.prod(c, n);
    return p;
  }
  // The one-row product: the same sum over row 0, without a row dimension,
  // so that its tile can be wider (tileProducts).
  p.one = Func(name + "_one");
  p.one(c) = Internal::substitute(n.name(), Expr(0), init);
  if (w.scale) {
    // int8: each group's sum before its scale, so that a weight costs a
    // widening load, a conversion and an FMA (no multiply by its scale).
    int g = static_cast<int>(w.group);
    Var gv("g");
    p.rGroup = RDom(0, g, name + "_kg");
    RVar rk = p.rGroup.x;
    p.oneGroup = Func(name + "_one_group");
    p.oneGroup(c, gv) = 0.0f;
    p.oneGroup(c, gv) += a(gv * g + rk, 0) * w.unscaled(wc, gv * g + rk);
    p.rOne = RDom(0, static_cast<int>(in / g), name + "_g1");
    p.one(c) += p.oneGroup(c, p.rOne) * w.scaleAt(wc, p.rOne);
  } else {
    p.rOne = RDom(0, static_cast<int>(in), name + "_k1");
    p.one(c) += a(p.rOne, 0) * w.at(wc, p.rOne);
  }
  p.value = select(oneRow, p.one(c), p.prod(c, n));
  return p;
}

/// Weight rows a one-row product prefetches ahead of the row it reads.
constexpr int kPrefetchRows = 32;
/// Tasks of a one-row product's parallel loop, at most (tileProducts).
constexpr int64_t kOneRowTasks = 64;

void KernelBuilder::tileProducts(Func out, int64_t outCols,
                                 const std::vector<Product> &prods) {
  if (gpu) {
    gpuProducts(out, outCols, prods);
    return;
  }
  int v = fittingWidth(outCols, vec);
  int64_t panel = panelFor(d, outCols);
  int cols = panel > 0
                 ? static_cast<int>(panel)
                 : v * static_cast<int>(std::min<int64_t>(3, outCols / v));
  v = dividingWidth(cols, v);
  // A packed tile must start on a panel: no shifted tail. Widths that the
  // tile divides need no tail at all; others guard the last tile (it
  // computes its whole panel, whose padding is zeros, and stores only the
  // columns that exist).
  TailStrategy tail = outCols % cols == 0 ? TailStrategy::RoundUp
                      : panel > 0         ? TailStrategy::GuardWithIf
                                          : TailStrategy::ShiftInwards;
  Var co("co"), ci("ci"), ci2("ci2"), no("no"), ni("ni");
  out.split(c, co, ci, cols, tail)
      .split(n, no, ni, tileRows, TailStrategy::GuardWithIf)
      .reorder(ci, ni, no, co)
      .parallel(co);
  if (v > 1)
    out.vectorize(ci, v);
  out.unroll(ci).unroll(ni);
  // A product's register tile: its columns in vectors (and its rows, with
  // `rows`: n), unrolled inside the loop over `r`, which
  // prefetches `weights` kPrefetchRows ahead when given.
  auto registerTile = [&](Func f, bool rows, RVar r,
                          std::optional<ImageParam> weights) {
    if (v > 1)
      f.vectorize(c, v);
    f.unroll(c);
    if (rows)
      f.unroll(n);
    Stage u = f.update();
    if (rows)
      u.reorder(c, n, r);
    else
      u.reorder(c, r);
    if (weights)
      u.prefetch(*weights, r, r, kPrefetchRows,
                 PrefetchBoundStrategy::NonFaulting);
    if (v > 1)
      u.vectorize(c, v);
    u.unroll(c);
    if (rows)
      u.unroll(n);
  };
  for (Product p : prods) { // Halide handles: copies share the Funcs
    p.prod.compute_at(out, no)
        .bound_extent(c, cols)
        .align_bounds(n, tileRows)
        .bound_extent(n, tileRows);
    registerTile(p.prod, true, p.r.x, std::nullopt);
  }
  // Decode (one row) gets a loop nest of its own, in which the products'
  // one-row forms (product()) run in tiles of two panels when the panels
  // pair up: six accumulator vectors instead of three hide the FMA latency
  // of a loop that has one row to amortise each weight over. A one-row call
  // streams its weights once, so each tile also prefetches the weight rows
  // kPrefetchRows ahead (one int8 group; a panel's rows are contiguous, and
  // a tile's last rows prefetch the start of the next panel): one core's
  // hardware prefetcher alone left gpt2-small's int8 decode 12% slower
  // (4.2 against 3.7 ms/token) and f32 about 5%. Prefetches never fault,
  // so those past the matrix's end need no guard.
  Stage one = out.specialize(oneRow);
  int64_t tiles = (outCols + cols - 1) / cols;
  // (Only without a partial last tile: Halide 14 drops stores of a guarded
  // tail tile split this way.)
  int pair = panel > 0 && tiles % 2 == 0 && outCols % cols == 0 ? 2 : 1;
  if (pair > 1)
    one.split(co, co, ci2, pair).serial(ci2);
  // Each task streams a run of adjacent tiles: a tile's prefetches past its
  // end land on the next tile, which a task given one tile would leave to
  // another thread (cold), and a task of one short tile pays the loop's
  // overhead per tile. At most kOneRowTasks tasks per loop.
  int64_t units = (tiles + pair - 1) / pair;
  int run = static_cast<int>((units + kOneRowTasks - 1) / kOneRowTasks);
  if (run > 1) {
    Var ct("ct");
    one.split(co, ct, co, run, TailStrategy::GuardWithIf)
        .parallel(ct)
        .serial(co);
  }
  for (Product p : prods) {
    Func f = p.one;
    // A fixed extent keeps the accumulators in registers. (Paired tiles get
    // theirs from the consumer: a bound here would also apply to the
    // generic branch's one-panel tiles, whose last would then reach past
    // the matrix.)
    f.compute_at(out, co);
    if (pair == 1)
      f.bound_extent(c, cols);
    // The loop that reads the weights prefetches them: the group sums'
    // (int8), else the product's own.
    bool grouped = p.oneGroup.defined();
    registerTile(f, false, p.rOne.x,
                 grouped ? std::nullopt : std::optional(p.weights));
    if (grouped) {
      p.oneGroup.compute_at(f, p.rOne.x);
      registerTile(p.oneGroup, false, p.rGroup.x, p.weights);
    }
  }
}

/// GPU matrix products. Prefill: a block of 16 x 8 threads computes 64
/// columns by 32 rows, each thread a register tile of 4 columns by 4 rows
/// whose sum over the input runs in the thread (rows and weights through
/// the cache). Decode (one row, a specialization of the same product): a
/// matrix-vector product, a thread per column and a block per
/// kGpuColumnsPerBlock columns, so the threads of a warp read adjacent
/// weights of each input row.
constexpr int kGpuTileCols = 4, kGpuTileRows = 4;
constexpr int kGpuThreadsX = 16, kGpuThreadsY = 8;
constexpr int kGpuColumnsPerBlock = 128;

void KernelBuilder::gpuProducts(Func out, int64_t outCols,
                                const std::vector<Product> &prods) {
  Var co("co"), ct("ct"), cr("cr"), ci("ci"), no("no"), nt("nt"), nr("nr"),
      ni("ni");
  int cols = static_cast<int>(
      std::min<int64_t>(kGpuColumnsPerBlock, fittingWidth(outCols, 1024)));
  Stage one = out.specialize(oneRow);
  one.split(c, co, ct, cols, TailStrategy::GuardWithIf)
      .reorder(ct, co, n)
      .gpu_blocks(co, n)
      .gpu_threads(ct);
  out.split(c, co, ci, kGpuThreadsX * kGpuTileCols, TailStrategy::GuardWithIf)
      .split(n, no, ni, kGpuThreadsY * kGpuTileRows, TailStrategy::GuardWithIf)
      .split(ci, ct, cr, kGpuTileCols)
      .split(ni, nt, nr, kGpuTileRows)
      .reorder(cr, nr, ct, nt, co, no)
      .gpu_blocks(co, no)
      .gpu_threads(ct, nt)
      .unroll(cr)
      .unroll(nr);
  // The thread's sums: a 4 x 4 tile in registers, or (decode) one column.
  for (Product p : prods) {
    p.prod.compute_at(out, ct).unroll(c).unroll(n);
    p.prod.update().reorder(c, n, p.r.x).unroll(c).unroll(n);
  }
}

Expr KernelBuilder::activation(Expr x) const {
  switch (d.activation) {
  case Activation::ReLU:
    return max(x, 0.0f);
  case Activation::GELU:
    return 0.5f * x * (1.0f + erf(x * static_cast<float>(M_SQRT1_2)));
  case Activation::GELUTanh: {
    // tanh(u) = 1 - 2 / (exp(2u) + 1): Halide's float exp vectorises.
    Expr u =
        static_cast<float>(std::sqrt(2.0 / M_PI)) * (x + 0.044715f * x * x * x);
    Expr th = 1.0f - 2.0f / (exp(2.0f * u) + 1.0f);
    return 0.5f * x * (1.0f + th);
  }
  case Activation::SiLU:
    return x / (1.0f + exp(-x));
  }
  return x;
}

//===----------------------------------------------------------------------===//
// Kinds
//===----------------------------------------------------------------------===//

BuiltKernel KernelBuilder::embed() {
  int64_t V = d.vocab, D = d.d;
  ImageParam tokens(Int(32), 1, "tokens");
  tokens.dim(0).set_min(0).set_stride(1).set_estimate(0, estimateN);
  inputs.push_back(tokens);
  oneRow = tokens.dim(0).extent() == 1;
  ImageParam table = matrixParam("tok_embed", V, D);
  std::optional<ImageParam> types, typeTable;
  if (d.typeVocab > 0) {
    types = ImageParam(Int(32), 1, "types");
    types->dim(0).set_min(0).set_stride(1).set_estimate(0, estimateN);
    inputs.push_back(*types);
    typeTable = matrixParam("type_embed", d.typeVocab, D);
  }
  std::optional<ImageParam> posTable;
  if (d.positions == PositionKind::Learned)
    posTable = matrixParam("pos_embed", d.maxSeq, D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  Expr position = positionParam() + n;
  Expr id = clamp(tokens(n), 0, static_cast<int>(V - 1));
  Func x(d.norm == KernelNorm::None ? "x" : "x_pre");
  Expr row = table(c, id);
  if (typeTable)
    row += (*typeTable)(
        c, clamp((*types)(n), 0, static_cast<int>(d.typeVocab - 1)));
  Func freq("inv_freq");
  if (posTable) {
    // Clamped like the token ids: the runtime checks pos + N <= P, the
    // kernel only guarantees it never reads outside the table.
    row += (*posTable)(c, clamp(position, 0, static_cast<int>(d.maxSeq - 1)));
  } else if (d.positions == PositionKind::Sinusoidal) {
    row += sinusoid(position, D, freq);
  }
  x(c, n) = row;
  if (d.norm != KernelNorm::None) {
    // The embedding norm: a row's sum is complete before it is normalised.
    Func y = normRows(x, D, *gamma, beta, "x");
    constrainOutput(y, D);
    if (!gpu) { // on the GPU the gathered row is inlined into its readers
      x.compute_at(y, n);
      int v = fittingWidth(D, vec);
      if (v > 1)
        x.vectorize(c, v);
    }
    rowwise(y, D);
    scheduleTable(freq, D);
    return finish({y});
  }
  constrainOutput(x, D);

  rowwise(x, D);
  scheduleTable(freq, D);
  return finish({x});
}

BuiltKernel KernelBuilder::qkv() {
  int64_t D = d.d, H = d.heads, G = d.kvHeads, K = d.headDim;
  ImageParam x = rowsParam("x", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  // Cross-attention builds the queries alone, or the keys and values alone
  // (KernelDesc.h): only those arguments exist.
  bool wantQ = d.parts != QKVParts::KV, wantKV = d.parts != QKVParts::Q;
  std::optional<Matrix> wq, wk, wv;
  if (wantQ)
    wq = matrix("wq", D, H * K);
  if (wantKV) {
    wk = matrix("wk", D, G * K);
    wv = matrix("wv", D, G * K);
  }
  std::optional<ImageParam> bq, bk, bv;
  if (d.bias && wantQ)
    bq = vectorParam("bq", H * K);
  if (d.bias && wantKV) {
    bk = vectorParam("bk", G * K);
    bv = vectorParam("bv", G * K);
  }
  Expr position = positionParam() + n;
  Func xn = d.norm == KernelNorm::None ? wrap(x, "xin")
                                       : normRows(x, D, *gamma, beta, "xn");

  // RoPE tables: angle = (pos + n) * theta^(-2i/K), in double (see
  // embed()). Computed over the N rows of the call only.
  Var i("i");
  Func cosT("rope_cos"), sinT("rope_sin");
  if (d.rope) {
    Expr invFreq =
        Halide::exp(cast<double>(i) * Expr(-2.0 * std::log(d.ropeTheta) /
                                           static_cast<double>(K)));
    Expr angle = cast<double>(position) * invFreq;
    cosT(i, n) = cast<float>(Halide::cos(angle));
    sinT(i, n) = cast<float>(Halide::sin(angle));
  }

  struct Part {
    Func out, pre;
    Product prod;
    int64_t width;
  };
  auto project = [&](const std::string &name, const Matrix &w,
                     const std::optional<ImageParam> &b, int64_t width,
                     bool rotate) {
    Part p;
    p.width = width;
    p.prod = product(name + "_prod", xn, D, w, b ? (*b)(c) : Expr(0.0f));
    p.out = Func(name);
    if (!rotate) {
      p.out(c, n) = p.prod.value;
      return p;
    }
    // Rotate-half within each head: feature ii of head base pairs with
    // base + (ii + K/2) % K; the lower half subtracts, the upper adds.
    p.pre = Func(name + "_pre");
    p.pre(c, n) = p.prod.value;
    Expr ii = c % static_cast<int>(K);
    Expr half = static_cast<int>(K / 2);
    Expr base = (c / static_cast<int>(K)) * static_cast<int>(K);
    Expr partner = base + (ii + half) % static_cast<int>(K);
    Expr j = ii % half;
    Expr sign = select(ii < half, -1.0f, 1.0f);
    p.out(c, n) =
        p.pre(c, n) * cosT(j, n) + sign * p.pre(partner, n) * sinT(j, n);
    return p;
  };
  std::vector<Part> parts;
  if (wantQ)
    parts.push_back(project("q", *wq, bq, H * K, d.rope));
  if (wantKV) {
    parts.push_back(project("k", *wk, bk, G * K, d.rope));
    parts.push_back(project("v", *wv, bv, G * K, false));
  }
  for (Part &p : parts)
    constrainOutput(p.out, p.width);

  // Schedule: the norm once per row at root, shared by the three products.
  if (d.norm != KernelNorm::None)
    scheduleNormPrologue(xn, D);
  for (Part &p : parts) {
    if (p.pre.defined()) {
      p.pre.compute_root();
      tileProducts(p.pre, p.width, {p.prod});
      rowwise(p.out, p.width);
    } else {
      tileProducts(p.out, p.width, {p.prod});
    }
  }
  scheduleTable(cosT, K / 2);
  scheduleTable(sinT, K / 2);
  std::vector<Func> outs;
  for (Part &p : parts)
    outs.push_back(p.out);
  return finish(outs);
}

BuiltKernel KernelBuilder::attention() {
  int H = static_cast<int>(d.heads), G = static_cast<int>(d.kvHeads),
      K = static_cast<int>(d.headDim);
  int group = H / G;
  ImageParam q = rowsParam("q", int64_t(H) * K);
  ImageParam k = rowsParam("k", int64_t(G) * K);
  ImageParam v = rowsParam("v", int64_t(G) * K);
  // Queries are the last N of M positions (M = N without a cache).
  Expr N = q.dim(1).extent(), M = k.dim(1).extent();
  std::optional<ImageParam> mask;
  if (d.keyMask) {
    mask = ImageParam(Int(32), 1, "mask");
    mask->dim(0).set_bounds(0, M).set_stride(1);
    inputs.push_back(*mask);
  }
  if (gpu)
    return attentionGpu(q, k, v, mask);
  Expr offset = M - N;
  float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(K)));

  // Query tiles: tq rows of one head share their loops over keys (see the
  // schedule below).
  int dv = dividingWidth(K, vec);
  int accVecs = K / dv;
  int tq = d.queryTile > 0 ? static_cast<int>(d.queryTile)
                          : std::max(1, std::min(8, 24 / accVecs));
  Var j("j"), i("i"), h("h"), dd("dd");
  // Causal: query i sees keys j <= i + offset. The loops over keys run to
  // the last key the tile's last row sees, a bound the whole tile shares
  // (tiles start at multiples of tq), so they carry no per-row branch and
  // keep their accumulators in registers; the few keys past a row's own
  // bound are masked in its row maximum and probabilities instead.
  Expr visible = j <= i + offset;
  auto keys = [&](const std::string &name) {
    RDom r(0, M, name);
    if (d.causal)
      r.where(r.x <= (i / tq) * tq + (tq - 1) + offset);
    return r;
  };
  // Keys transposed per head so that scores vectorise over keys. Key and
  // query rows are clamped so that register blocks may run past M and N
  // (padded blocks compute values nobody reads, and never read out of
  // bounds).
  // Stored in blocks of `vec` keys, [M/vec, K, vec]: the copy then
  // transposes vec x vec blocks in registers (Halide interleaves the
  // stores of a block's unrolled keys), where a [K, M] copy gathers one
  // float per key and feature.
  Var kj("kj"), kb("kb");
  Func kT("k_t");
  kT(kj, dd, kb, h) = k(dd + (h / group) * K, min(kb * vec + kj, M - 1));
  RDom rd(0, K, "rd");
  Func dot("dot");
  dot(j, i, h) = 0.0f;
  dot(j, i, h) += kT(j % vec, rd, j / vec, h) * q(rd + h * K, min(i, N - 1));
  Func s("scores");
  // A masked key scores the lowest float (it never wins the row maximum)
  // and weighs exactly 0: no -inf, whose exp Halide does not promise.
  Expr kept = mask ? (*mask)(min(j, M - 1)) != 0 : Expr(true);
  s(j, i, h) = mask ? select(kept, dot(j, i, h), Float(32).min())
                    : dot(j, i, h);
  if (d.causal)
    kept = mask ? kept && visible : visible;
  bool masked = mask || d.causal;
  RDom rm = keys("rm");
  Func mx("row_max");
  mx(i, h) = Float(32).min();
  Expr seen = s(rm, i, h);
  if (d.causal)
    seen = select(rm.x <= i + offset, seen, Float(32).min());
  mx(i, h) = max(mx(i, h), seen);
  Func e("probs");
  e(j, i, h) = masked
                   ? select(kept, exp((s(j, i, h) - mx(i, h)) * scale), 0.0f)
                   : exp((s(j, i, h) - mx(i, h)) * scale);
  RDom rl = keys("rl");
  Func l("row_sum");
  l(i, h) = 0.0f;
  l(i, h) += e(rl, i, h);
  RDom ra = keys("ra");
  Func acc("acc");
  acc(dd, i, h) = 0.0f;
  acc(dd, i, h) += e(ra, i, h) * v(dd + (h / group) * K, ra);
  Expr head = c / K, lsum = l(n, head);
  Expr prefill = select(lsum > 0.0f, acc(c % K, n, head) / lsum, 0.0f);

  // Decode (one query, the last of M positions: it sees every key) has an
  // algorithm of its own, in a specialization on N = 1 (below): the key
  // rows are read as they are stored, each key's dot product summed from
  // vector lanes, instead of transposing the keys per head, which costs a
  // gather per key element and dominates a one-query call.
  int lanes = dividingWidth(K, vec);
  Var u("u");
  RDom dr(0, K / lanes, "dec_rd");
  Func dpart("dec_part");
  dpart(u, j, h) = 0.0f;
  dpart(u, j, h) += k(dr * lanes + u + (h / group) * K, min(j, M - 1)) *
                    q(dr * lanes + u + h * K, 0);
  RDom du(0, lanes, "dec_ru");
  Func ddot("dec_dot");
  ddot(j, h) = 0.0f;
  ddot(j, h) += dpart(du, j, h);
  Expr dkept = mask ? (*mask)(j) != 0 : Expr(true);
  Func ds("dec_scores");
  ds(j, h) = mask ? select(dkept, ddot(j, h), Float(32).min()) : ddot(j, h);
  RDom dm(0, M, "dec_rm");
  Func dmx("dec_max");
  dmx(h) = Float(32).min();
  dmx(h) = max(dmx(h), ds(dm, h));
  Func de("dec_probs");
  de(j, h) = mask ? select(dkept, exp((ds(j, h) - dmx(h)) * scale), 0.0f)
                  : exp((ds(j, h) - dmx(h)) * scale);
  RDom dl(0, M, "dec_rl");
  Func dsum("dec_sum");
  dsum(h) = 0.0f;
  dsum(h) += de(dl, h);
  RDom da(0, M, "dec_ra");
  Func dacc("dec_acc");
  dacc(dd, h) = 0.0f;
  dacc(dd, h) += de(da, h) * v(dd + (h / group) * K, da);
  Expr decode = select(dsum(head) > 0.0f, dacc(c % K, head) / dsum(head),
                       0.0f);

  Func o("o");
  o(c, n) = select(oneRow, decode, prefill); // oneRow: q has one row
  constrainOutput(o, int64_t(H) * K);

  // Schedule: heads in parallel; per head a tile of tq query rows holds its
  // scores over the keys it sees (tq x M floats, never N x M). Tiles have a
  // constant row extent (bound_extent; rows past N are padding) so that the
  // accumulators of `dot` and `acc` are fixed-size and stay in registers.
  Var hc("hc"), dc("dc"), no("no"), ni("ni"), jo("jo"), ji("ji");
  o.split(c, hc, dc, K)
      .split(n, no, ni, tq, TailStrategy::GuardWithIf)
      .reorder(dc, ni, no, hc)
      .parallel(hc);
  if (dv > 1)
    o.vectorize(dc, dv);
  kT.compute_at(o, hc).reorder(kj, dd, kb).unroll(kj);
  if (dv > 1)
    kT.vectorize(dd, dv);
  s.compute_at(o, no)
      .bound_extent(i, tq)
      .split(j, jo, ji, 2 * vec, TailStrategy::RoundUp)
      .reorder(ji, i, jo)
      .vectorize(ji, vec)
      .unroll(ji)
      .unroll(i);
  dot.compute_at(s, jo).vectorize(j, vec).unroll(j).unroll(i);
  dot.update().reorder(j, i, rd).vectorize(j, vec).unroll(j).unroll(i);
  mx.compute_at(o, no).bound_extent(i, tq);
  e.compute_at(o, no).bound_extent(i, tq).vectorize(j, vec,
                                                    TailStrategy::RoundUp);
  l.compute_at(o, no).bound_extent(i, tq);
  acc.compute_at(o, no).bound_extent(i, tq);
  acc.update().reorder(dd, i, ra.x);
  if (dv > 1) {
    acc.vectorize(dd, dv);
    acc.update().vectorize(dd, dv);
  }
  acc.update().unroll(dd).unroll(i);

  // The decode branch: per head, the M scores in one buffer.
  o.specialize(oneRow);
  for (Func f : {ds, de})
    f.compute_at(o, hc).vectorize(j, vec, TailStrategy::GuardWithIf);
  // Sixteen keys at a time: their lane sums stay in registers (one vector
  // per key), then each adds up across its lanes.
  Var jo2("jo2"), ji2("ji2");
  ddot.compute_at(o, hc);
  ddot.update()
      .split(j, jo2, ji2, vec, TailStrategy::RoundUp)
      .reorder(du, ji2, jo2)
      .atomic()
      .vectorize(du)
      .unroll(ji2);
  dpart.compute_at(ddot, jo2).vectorize(u).unroll(j);
  dpart.update().reorder(u, j, dr).vectorize(u).unroll(j);
  dmx.compute_at(o, hc);
  dsum.compute_at(o, hc);
  dacc.compute_at(o, hc);
  if (lanes > 1) {
    dacc.vectorize(dd, lanes);
    dacc.update().reorder(dd, da).vectorize(dd, lanes).unroll(dd);
  }
  return finish({o});
}

/// Queries per block of the GPU attention (one head per block).
constexpr int kGpuQueries = 32;

/// Attention on the GPU: a thread per query and head, a block per head and
/// kGpuQueries queries, so that a block's threads read the same keys and
/// values (one cached read serves the block). Each thread makes two passes
/// over the keys its query sees, computing each score in registers: the row
/// maximum, then the probabilities' sum and the weighted values together
/// (acc(K) is the sum: its "value" is 1). No score is ever stored, so
/// memory does not grow with M. Decode (one query) runs a block per head.
/// The same masking as the CPU's: a masked key scores the lowest float and
/// weighs exactly 0; a row with no key left is 0.
BuiltKernel KernelBuilder::attentionGpu(ImageParam q, ImageParam k,
                                        ImageParam v,
                                        std::optional<ImageParam> mask) {
  int H = static_cast<int>(d.heads), G = static_cast<int>(d.kvHeads),
      K = static_cast<int>(d.headDim);
  int group = H / G;
  Expr N = q.dim(1).extent(), M = k.dim(1).extent();
  Expr offset = M - N; // query i is position i + offset of M
  float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(K)));
  Var j("j"), i("i"), h("h"), dd("dd");
  auto keysSeen = [&](const std::string &name) {
    RDom r(0, M, name);
    if (d.causal)
      r.where(r.x <= i + offset);
    return r;
  };
  // Two copies of the score, one per pass, each computed where it is read.
  auto score = [&](const std::string &name) {
    RDom rd(0, K, name + "_rd");
    Func dot(name);
    dot(j, i, h) = 0.0f;
    dot(j, i, h) +=
        k(rd + (h / group) * K, j) * q(rd + h * K, min(i, N - 1));
    return dot;
  };
  Func dotMax = score("dot_max"), dotSum = score("dot_sum");
  Expr kept = mask ? (*mask)(j) != 0 : Expr(true);
  Func sMax("score_max");
  sMax(j, i, h) = select(kept, dotMax(j, i, h), Float(32).min());
  RDom rm = keysSeen("rm");
  Func mx("row_max");
  mx(i, h) = Float(32).min();
  mx(i, h) = max(mx(i, h), sMax(rm, i, h));
  Func e("probs");
  e(j, i, h) =
      select(kept, exp((dotSum(j, i, h) - mx(i, h)) * scale), 0.0f);
  RDom ra = keysSeen("ra");
  Func acc("acc");
  acc(dd, i, h) = 0.0f;
  acc(dd, i, h) +=
      e(ra, i, h) *
      select(dd < K, v(min(dd, K - 1) + (h / group) * K, ra), 1.0f);
  Expr head = c / K, lsum = acc(K, n, head);
  Func o("o");
  o(c, n) = select(lsum > 0.0f, acc(c % K, n, head) / lsum, 0.0f);
  constrainOutput(o, int64_t(H) * K);

  Var hc("hc"), dc("dc"), no("no"), ni("ni");
  Stage one = o.specialize(oneRow);
  one.split(c, hc, dc, K)
      .split(n, no, ni, 1)
      .reorder(dc, ni, no, hc)
      .gpu_blocks(no, hc)
      .gpu_threads(ni);
  o.split(c, hc, dc, K)
      .split(n, no, ni, kGpuQueries, TailStrategy::GuardWithIf)
      .reorder(dc, ni, no, hc)
      .gpu_blocks(no, hc)
      .gpu_threads(ni);
  mx.compute_at(o, ni);
  dotMax.compute_at(mx, rm.x);
  acc.compute_at(o, ni).bound(dd, 0, K + 1).unroll(dd);
  acc.update().reorder(dd, ra.x).unroll(dd);
  e.compute_at(acc, ra.x);
  dotSum.compute_at(acc, ra.x);
  return finish({o});
}

BuiltKernel KernelBuilder::projResidual() {
  int64_t In = d.in, D = d.d;
  ImageParam a = rowsParam("a", In);
  Matrix w = matrix("w", In, D);
  std::optional<ImageParam> b;
  if (d.bias)
    b = vectorParam("b", D);
  ImageParam r = rowsParam("r", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  Expr init = r(c, n);
  if (b)
    init += (*b)(c);
  Product prod = product("prod", wrap(a, "ain"), In, w, init);
  Func y("y");
  if (d.norm == KernelNorm::None) {
    y(c, n) = prod.value;
    constrainOutput(y, D);
    tileProducts(y, D, {prod});
    return finish({y});
  }
  // Post-norm: a row must be complete before it is normalised.
  Func pre("y_pre");
  pre(c, n) = prod.value;
  y = normRows(pre, D, *gamma, beta, "y");
  constrainOutput(y, D);
  pre.compute_root();
  tileProducts(pre, D, {prod});
  rowwise(y, D);
  return finish({y});
}

BuiltKernel KernelBuilder::mlpUp() {
  int64_t D = d.d, F = d.dFF;
  ImageParam x = rowsParam("x", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  Matrix w1 = matrix("w1", D, F);
  std::optional<ImageParam> b1, b3;
  std::optional<Matrix> w3;
  if (d.bias)
    b1 = vectorParam("b1", F);
  if (d.gated) {
    w3 = matrix("w3", D, F);
    if (d.bias)
      b3 = vectorParam("b3", F);
  }
  Func xn = d.norm == KernelNorm::None ? wrap(x, "xin")
                                       : normRows(x, D, *gamma, beta, "xn");
  Product p1 = product("up", xn, D, w1, b1 ? (*b1)(c) : Expr(0.0f));
  Product p3;
  Expr value = activation(p1.value);
  if (d.gated) {
    p3 = product("gate", xn, D, *w3, b3 ? (*b3)(c) : Expr(0.0f));
    value = value * p3.value;
  }
  Func h("h");
  h(c, n) = value;
  constrainOutput(h, F);

  if (d.norm != KernelNorm::None)
    scheduleNormPrologue(xn, D);
  std::vector<Product> prods = {p1};
  if (d.gated)
    prods.push_back(p3);
  tileProducts(h, F, prods);
  return finish({h});
}

BuiltKernel KernelBuilder::head() {
  int64_t D = d.d, V = d.vocab;
  ImageParam x = rowsParam("x", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  Func xn = d.norm == KernelNorm::None ? wrap(x, "xin")
                                       : normRows(x, D, *gamma, beta, "xn");
  Func logits("logits");
  if (!d.tied) {
    Matrix w = matrix("w", D, V);
    Product prod = product("prod", xn, D, w, Expr(0.0f));
    logits(c, n) = prod.value;
    constrainOutput(logits, V);
    if (d.norm != KernelNorm::None)
      scheduleNormPrologue(xn, D);
    tileProducts(logits, V, {prod});
    return finish({logits});
  }
  // Tied: w is the token embedding [V, D]; each logit is a dot product of
  // two contiguous rows. Lanes accumulate strided slices (partial), then add
  // up, so both operands load as dense vectors.
  ImageParam w = matrixParam("w", V, D);
  if (gpu) {
    // The GPU's products read the embedding transposed.
    Matrix m;
    m.data = w;
    m.cols = V;
    m.transposed = true;
    Product prod = product("prod", xn, D, m, Expr(0.0f));
    logits(c, n) = prod.value;
    constrainOutput(logits, V);
    if (d.norm != KernelNorm::None)
      scheduleNormPrologue(xn, D);
    tileProducts(logits, V, {prod});
    return finish({logits});
  }
  int lanes = dividingWidth(D, vec);
  Var u("u");
  RDom r(0, static_cast<int>(D / lanes), "r");
  Func partial("partial");
  partial(u, c, n) = 0.0f;
  partial(u, c, n) += xn(r * lanes + u, n) * w(r * lanes + u, c);
  RDom ru(0, lanes, "ru");
  Func sum("dot");
  sum(c, n) = 0.0f;
  sum(c, n) += partial(ru, c, n);
  logits(c, n) = sum(c, n);
  constrainOutput(logits, V);

  if (d.norm != KernelNorm::None)
    scheduleNormPrologue(xn, D);
  int tc = static_cast<int>(std::min<int64_t>(6, V)), tn = 4;
  Var co("co"), ci("ci"), no("no"), ni("ni");
  logits.split(c, co, ci, tc, TailStrategy::ShiftInwards)
      .split(n, no, ni, tn, TailStrategy::GuardWithIf)
      .reorder(ci, ni, no, co)
      .parallel(co);
  sum.compute_at(logits, no);
  partial.compute_at(logits, no).unroll(c).unroll(n);
  partial.update().reorder(u, c, n, r.x).unroll(c).unroll(n);
  if (lanes > 1) {
    partial.vectorize(u);
    partial.update().vectorize(u);
  }
  return finish({logits});
}

BuiltKernel KernelBuilder::patch() {
  int H = static_cast<int>(d.imageH), W = static_cast<int>(d.imageW),
      C = static_cast<int>(d.imageC), P = static_cast<int>(d.patch);
  int64_t D = d.d, K = int64_t(P) * P * C;
  int gridW = W / P, N = static_cast<int>(d.maxSeq);
  ImageParam image(Float(32), 3, "image");
  image.dim(0).set_bounds(0, C).set_stride(1);
  image.dim(1).set_bounds(0, W).set_stride(C);
  image.dim(2).set_bounds(0, H).set_stride(W * C);
  inputs.push_back(image);
  ImageParam w = matrixParam("w", K, D);
  ImageParam b = vectorParam("b", D);
  ImageParam cls = vectorParam("cls", D);
  std::optional<ImageParam> posTable;
  if (d.positions == PositionKind::Learned)
    posTable = matrixParam("pos_embed", N, D);
  // Element k of patch r is pixel (y, x, channel) = (r / gridW * P + k /
  // (P C), r % gridW * P + k / C % P, k % C), read straight from the image:
  // the patch matrix is never stored.
  Var k("k");
  Expr r = clamp(n - 1, 0, N - 2);
  Func vecs("patch_vec");
  vecs(k, n) = image(k % C, (r % gridW) * P + (k / C) % P,
                     (r / gridW) * P + k / (P * C));
  RDom rk(0, static_cast<int>(K), "rk");
  Func prod("prod");
  prod(c, n) = b(c);
  prod(c, n) += vecs(rk, n) * w(c, rk);
  Expr row = select(n == 0, cls(c), prod(c, n));
  Func freq("inv_freq");
  if (posTable) {
    row += (*posTable)(c, clamp(n, 0, N - 1));
  } else if (d.positions == PositionKind::Sinusoidal) {
    row += sinusoid(n, D, freq);
  }
  Func x("x");
  x(c, n) = row;
  constrainOutput(x, D);
  if (gpu) {
    // A thread per output element, its sum over the patch in the thread.
    gpuTile(x, D);
    prod.compute_at(x, Var("ci"));
    scheduleTable(freq, D);
    return finish({x});
  }
  int v = fittingWidth(D, vec);
  x.parallel(n);
  if (v > 1)
    x.vectorize(c, v);
  prod.compute_at(x, n);
  prod.update().reorder(c, rk.x);
  if (v > 1) {
    prod.vectorize(c, v);
    prod.update().vectorize(c, v);
  }
  scheduleTable(freq, D);
  return finish({x});
}

BuiltKernel KernelBuilder::classify() {
  int64_t D = d.d, Cls = d.classes;
  ImageParam x = rowsParam("x", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  ImageParam w = matrixParam("w", D, Cls);
  ImageParam b = vectorParam("b", Cls);
  Func xn = d.norm == KernelNorm::None ? wrap(x, "xin")
                                       : normRows(x, D, *gamma, beta, "xn");
  Var k("k");
  Func pooled("pooled"), sum("row_sum");
  if (d.meanPool) {
    Expr rows = x.dim(1).extent();
    RDom rn(0, rows, "rn");
    sum(k) = 0.0f;
    sum(k) += xn(k, rn);
    pooled(k) = sum(k) / cast<float>(rows);
  } else {
    pooled(k) = xn(k, 0);
  }
  RDom rk(0, static_cast<int>(D), "rk");
  if (gpu) {
    // A thread per class, its dot product in the thread.
    Expr cc = min(c, static_cast<int>(Cls - 1));
    Func dotp("dot");
    dotp(c) = 0.0f;
    dotp(c) += pooled(rk) * w(cc, rk);
    Expr value = b(cc) + dotp(c);
    Func out(d.tanhOut ? "pooler" : "logits");
    out(c, n) = d.tanhOut ? Halide::tanh(value) : value;
    constrainOutput(out, Cls);
    if (d.norm != KernelNorm::None)
      scheduleNormPrologue(xn, D);
    if (d.meanPool)
      gpuRoot(sum, D);
    gpuRoot(pooled, D);
    gpuTile(out, Cls);
    dotp.compute_at(out, Var("ci"));
    return finish({out});
  }
  if (d.meanPool)
    sum.compute_root();
  Func logits("logits");
  logits(c, n) = b(c);
  logits(c, n) += pooled(rk) * w(c, rk);
  // BERT's pooler: tanh(pooled w + b).
  Func out = logits;
  if (d.tanhOut) {
    out = Func("pooler");
    out(c, n) = Halide::tanh(logits(c, n));
  }
  constrainOutput(out, Cls);
  if (d.norm != KernelNorm::None)
    scheduleNormPrologue(xn, D);
  pooled.compute_root();
  int v = fittingWidth(Cls, vec);
  logits.update().reorder(c, rk.x);
  if (v > 1) {
    logits.vectorize(c, v, TailStrategy::GuardWithIf);
    logits.update().vectorize(c, v, TailStrategy::GuardWithIf);
  }
  if (d.tanhOut) {
    logits.compute_root();
    if (v > 1)
      out.vectorize(c, v, TailStrategy::GuardWithIf);
  }
  return finish({out});
}

BuiltKernel KernelBuilder::build() {
  switch (d.kind) {
  case KernelKind::Embed:
    return embed();
  case KernelKind::QKV:
    return qkv();
  case KernelKind::Attention:
    return attention();
  case KernelKind::ProjResidual:
    return projResidual();
  case KernelKind::MLPUp:
    return mlpUp();
  case KernelKind::Head:
    return head();
  case KernelKind::Patch:
    return patch();
  case KernelKind::Classify:
    return classify();
  }
  return embed();
}

std::optional<Module> kernelModule(const KernelDesc &desc, const Target &target,
                                   std::string &error) {
  std::optional<BuiltKernel> k = buildKernel(desc, target, error);
  if (!k)
    return std::nullopt;
  std::optional<Module> m;
  if (!guardedHalide("kernel " + desc.symbol(), error, [&] {
        m = k->pipeline.compile_to_module(k->arguments, desc.symbol(), target);
      }))
    return std::nullopt;
  return m;
}

/// A scratch directory for Halide's file-only outputs, removed on scope exit.
class ScratchDir {
public:
  ScratchDir() {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/tfc-hk-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()))
      path = buf.data();
  }
  ~ScratchDir() {
    for (const std::string &f : files)
      std::remove(f.c_str());
    if (!path.empty())
      rmdir(path.c_str());
  }
  std::string file(const std::string &name) {
    files.push_back(path + "/" + name);
    return files.back();
  }
  std::string path;

private:
  std::vector<std::string> files;
};

} // namespace

std::optional<Target> parseKernelTarget(const std::string &text,
                                        std::string &error) {
  Target target;
  if (text == "host" || text == "cpu") {
    target = get_host_target();
  } else if (Target::validate_target_string(text)) {
    target = Target(text);
  } else {
    error = "kernel target '" + text +
            "' is not a Halide target string (expected 'host', 'cpu' or e.g. "
            "'x86-64-linux-avx2', 'arm-64-linux')";
    return std::nullopt;
  }
  // GPU targets: OpenCL and CUDA share the GPU schedules; others have none.
  for (Target::Feature f : {Target::Metal, Target::D3D12Compute,
                            Target::OpenGLCompute, Target::HVX}) {
    if (target.has_feature(f)) {
      error = "kernel target '" + text +
              "' has a device API tfc has no schedules for (GPU targets: "
              "opencl, cuda)";
      return std::nullopt;
    }
  }
  if (target.has_feature(Target::OpenCL) && target.has_feature(Target::CUDA)) {
    error = "kernel target '" + text + "' names both opencl and cuda";
    return std::nullopt;
  }
  return target.with_feature(Target::NoRuntime);
}

std::optional<BuiltKernel>
buildKernel(const KernelDesc &desc, const Target &target, std::string &error) {
  KernelBuilder builder(desc, target);
  std::string bad = builder.check();
  if (!bad.empty()) {
    error = "kernel " + desc.symbol() + ": " + bad;
    return std::nullopt;
  }
  std::optional<BuiltKernel> k;
  if (!guardedHalide("kernel " + desc.symbol(), error, [&] { k = builder.build(); }))
    return std::nullopt;
  return k;
}

bool compileKernelObject(const KernelDesc &desc, const Target &target,
                         const std::string &objectPath, std::string &error) {
  return compileKernelsObject({desc}, target, objectPath, error);
}

bool compileKernelsObject(const std::vector<KernelDesc> &descs,
                          const Target &target, const std::string &objectPath,
                          std::string &error) {
  if (target.has_gpu_feature()) {
    error = objectPath + ": GPU kernels need an object each "
                         "(compileKernelObjects)";
    return false;
  }
  std::vector<std::string> objects;
  return compileKernelObjects(descs, target, objectPath, objects, error);
}

bool compileKernelObjects(const std::vector<KernelDesc> &descs,
                          const Target &target, const std::string &objectPath,
                          std::vector<std::string> &objects,
                          std::string &error) {
  if (descs.empty()) {
    error = objectPath + ": no kernels to compile";
    return false;
  }
  std::vector<Module> modules;
  std::set<std::string> seen;
  for (const KernelDesc &desc : descs) {
    if (!seen.insert(desc.symbol()).second)
      continue;
    std::optional<Module> m = kernelModule(desc, target, error);
    if (!m)
      return false;
    modules.push_back(*m);
  }
  if (target.has_gpu_feature()) {
    std::string stem = objectPath;
    if (stem.size() > 2 && stem.compare(stem.size() - 2, 2, ".o") == 0)
      stem.resize(stem.size() - 2);
    for (size_t i = 0; i < modules.size(); ++i) {
      std::string path = stem + "." + std::to_string(i) + ".o";
      if (!guardedHalide(path, error, [&] {
            modules[i].compile({{OutputFileType::object, path}});
          }))
        return false;
      objects.push_back(path);
    }
    return true;
  }
  objects.push_back(objectPath);
  return guardedHalide(objectPath, error, [&] {
    Module all =
        modules.size() == 1 ? modules[0] : link_modules("tfc_kernels", modules);
    all.compile({{OutputFileType::object, objectPath}});
  });
}

bool compileHalideRuntime(const Target &target, const std::string &objectPath,
                          std::string &error) {
  return guardedHalide(objectPath, error, [&] {
    compile_standalone_runtime(objectPath,
                               target.without_feature(Target::NoRuntime));
  });
}

namespace {

/// The kernel's loop nest (Pipeline::print_loop_nest, which writes to
/// Halide's debug stream, std::cerr: file descriptor 2 is pointed at a
/// scratch file meanwhile).
bool loopNest(const KernelDesc &desc, const Target &target, std::string &nest,
              std::string &error) {
  std::optional<BuiltKernel> k = buildKernel(desc, target, error);
  if (!k)
    return false;
  ScratchDir dir;
  std::string file = dir.path.empty() ? "" : dir.file("nest.txt");
  int fd = file.empty() ? -1 : open(file.c_str(), O_WRONLY | O_CREAT, 0600);
  if (fd < 0) {
    error = "kernel " + desc.symbol() + ": cannot create a scratch file";
    return false;
  }
  std::fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  close(fd);
  bool ok = guardedHalide("kernel " + desc.symbol(), error,
                          [&] { k->pipeline.print_loop_nest(); });
  std::cerr.flush();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::ifstream in(file);
  std::ostringstream ss;
  ss << in.rdbuf();
  nest = ss.str();
  return ok;
}

} // namespace

bool kernelText(const KernelDesc &desc, const Target &target,
                const std::string &what, std::string &text,
                std::string &error) {
  OutputFileType type;
  // The device code (PTX, OpenCL C) is a NUL-terminated string inside the
  // kernel's object file, starting with this marker.
  const char *marker = nullptr;
  if (what == "stmt")
    type = OutputFileType::stmt;
  else if (what == "llvm")
    type = OutputFileType::llvm_assembly;
  else if (what == "asm")
    type = OutputFileType::assembly;
  else if (what == "ptx" || what == "opencl") {
    type = OutputFileType::object;
    bool cuda = what == "ptx";
    if (!target.has_feature(cuda ? Target::CUDA : Target::OpenCL)) {
      error = std::string("--emit=") + what + " needs --target " +
              (cuda ? "cuda" : "opencl");
      return false;
    }
    marker = cuda ? "\n.version " : "/*OpenCL C ";
  } else {
    error = "kernel text kind '" + what +
            "' is unknown (expected stmt, llvm, asm, ptx or opencl)";
    return false;
  }
  std::optional<Module> m = kernelModule(desc, target, error);
  if (!m)
    return false;
  ScratchDir dir;
  if (dir.path.empty()) {
    error = "kernel " + desc.symbol() + ": cannot create a scratch directory";
    return false;
  }
  std::string file = dir.file(desc.symbol() + "." + what);
  if (!guardedHalide("kernel " + desc.symbol(), error, [&] {
        m->compile({{type, file}});
      }))
    return false;
  std::ifstream in(file);
  if (!in) {
    error = "kernel " + desc.symbol() + ": Halide wrote no " + what +
            " output to " + file;
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  if (what == "stmt" && target.has_gpu_feature()) {
    // A GPU target's statement is the host side (kernel launches) with the
    // device code as a buffer: the loop nest, with its GPU block and thread
    // loops, comes first. Halide prints it to stdout only.
    std::string nest;
    if (!loopNest(desc, target, nest, error))
      return false;
    text.erase(std::remove(text.begin(), text.end(), '\0'), text.end());
    text = "// loop nest\n" + nest + "\n// host statement\n" + text;
  }
  if (marker) {
    size_t at = text.find(marker);
    if (at == std::string::npos) {
      error = "kernel " + desc.symbol() + ": no " + what +
              " code in its object file";
      return false;
    }
    size_t begin = text.rfind('\0', at), end = text.find('\0', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    text = text.substr(begin, end == std::string::npos ? std::string::npos
                                                       : end - begin);
  }
  return true;
}

} // namespace tfc
