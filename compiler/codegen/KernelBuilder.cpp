//===- KernelBuilder.cpp - What the kinds share -----------------------------===//
//
// The builder's checks and dispatch, row norms, activations, and matrix
// products: their algorithm once, then the CPU schedule (register tiles,
// interleaved rows, a one-row specialization for decode) and the GPU
// schedule (thread tiles, a matrix-vector specialization).
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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
    sums = {sum, sq};
  } else {
    sq(n) = 0.0f;
    sq(n) += x(r, n) * x(r, n);
    rstd(n) = 1.0f / Halide::sqrt(sq(n) * invWidth + eps);
    sums = {sq};
  }
  bool layer = d.norm == KernelNorm::Layer;
  if (gpu) {
    // One kernel computes a row's statistics (a thread per row, both sums
    // in the thread), a second normalises (a thread per element).
    Func stats(name + "_stats");
    if (layer)
      stats(n) = Tuple(mean(n), rstd(n));
    else
      stats(n) = rstd(n);
    Expr m = layer ? Expr(stats(n)[0]) : Expr(0.0f);
    Expr s = layer ? Expr(stats(n)[1]) : Expr(stats(n));
    y(c, n) = layer ? (x(c, n) - m) * s * gamma(c) + (*beta)(c)
                    : x(c, n) * s * gamma(c);
    stats.compute_root();
    gpuTile(stats, 64); // 64 rows a block
    for (Func f : sums)
      f.compute_at(stats, Var("ci"));
    return y;
  }
  y(c, n) = layer ? (x(c, n) - mean(n)) * rstd(n) * gamma(c) + (*beta)(c)
                  : x(c, n) * rstd(n) * gamma(c);
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
    // Decode on the GPU splits the sum over the input (split-K): `part`
    // holds row 0's sum over each of `slices` slices of the input, computed
    // at root by a thread per column and slice, and `one` adds the slices
    // up where the output is stored. The slices are computed in every call
    // (Halide does not drop them from the many-row branch), which costs a
    // prefill of N rows 1/N more product work; a decode step gets `slices`
    // times the threads of a column-per-thread product.
    int slices = 1;
    while (slices < 16 && in % (slices * 2) == 0 && in / (slices * 2) >= 64)
      slices *= 2;
    int chunk = static_cast<int>(in / slices);
    Var u("u");
    RDom rk(0, chunk, name + "_kp");
    p.part = Func(name + "_part");
    p.part(c, u) = 0.0f;
    p.part(c, u) += a(u * chunk + rk, 0) * w.at(wc, u * chunk + rk);
    p.rOne = RDom(0, slices, name + "_slices");
    p.one = Func(name + "_one");
    p.one(c) = Internal::substitute(n.name(), Expr(0), init);
    p.one(c) += p.part(c, p.rOne);
    p.value = select(oneRow, p.one(c), p.prod(c, n));
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
/// the cache). Decode (one row, a specialization): a matrix-vector product
/// split over the input (product()'s slices), a thread per column and slice
/// and a block per kGpuColumnsPerBlock columns, so the threads of a warp
/// read adjacent weights of each input row; a second kernel adds a column's
/// slices as it stores the output.
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
  // The thread's sums: a 4 x 4 tile in registers; decode adds a column's
  // slices (product()), each computed by a thread of its own at root.
  for (Product p : prods) {
    p.prod.compute_at(out, ct).unroll(c).unroll(n);
    p.prod.update().reorder(c, n, p.r.x).unroll(c).unroll(n);
    p.one.compute_at(out, ct);
    Func slices = p.part.in();
    Var sc("sc"), st("st"), su("su"), sb("sb");
    slices.compute_root()
        .gpu_tile(c, Var("u"), sc, su, st, sb, cols, 1,
                  TailStrategy::GuardWithIf);
    p.part.compute_at(slices, st);
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

} // namespace kernels
} // namespace tfc
