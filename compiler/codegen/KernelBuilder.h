//===- KernelBuilder.h - One kernel's Halide pipeline, being built -*- C++ -*-===//
//
// Private to compiler/codegen: the builder every kernel kind is written
// against. A kind's file (kinds/*.cpp) holds its algorithm (the math of
// KernelDesc.h) and then its schedules, one per target family: the CPU's
// and the GPU's (OpenCL and CUDA alike). The pieces kinds share (argument
// declarations, norms, matrix products with their CPU and GPU schedules)
// are in KernelBuilder.cpp. Conventions:
//  - Halide dimension 0 (`c`) is the contiguous feature axis, dimension 1
//    (`n`) the token axis. N is dynamic (the rows of the call), the model
//    dimensions are static and declared as buffer bounds, so Halide knows
//    every extent except N and that dimension 0 is dense.
//  - Row n of a call is at absolute position pos + n. Embed and QKV take
//    the int32 scalar `pos` (a Param) as their last input, whether or not
//    they use it, so that every kernel of a kind has the same argument list
//    shape; Attention derives its causal offset from the key count instead
//    (the queries are the last N of M keys).
//  - CPU matrix products are register-tiled: an output tile of `cols` columns
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
//  - GPU schedules put every stage on the device (gpuTile, gpuRoot,
//    gpuProducts): a block of threads per tile, a thread per element or
//    per register tile, reductions inside the thread; reads a thread tile
//    may take past the last row or column are clamped.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_CODEGEN_KERNELBUILDER_H
#define TFC_CODEGEN_KERNELBUILDER_H

#include "codegen/HalideKernels.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tfc {
namespace kernels {

using namespace Halide;

/// The largest power of two <= `limit` that divides `extent` (at least 1),
/// so a vectorised loop over a static extent has no tail.
inline int dividingWidth(int64_t extent, int limit) {
  int w = 1;
  while (w * 2 <= limit && extent % (w * 2) == 0)
    w *= 2;
  return w;
}

/// The largest power of two <= `limit` and <= `extent`.
inline int fittingWidth(int64_t extent, int limit) {
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
    Func part;     // GPU: row 0's sums over slices of the input (split-K)
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

} // namespace kernels
} // namespace tfc

#endif // TFC_CODEGEN_KERNELBUILDER_H
