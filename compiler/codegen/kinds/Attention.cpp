//===- Attention.cpp - The attention core -----------------------------------===//
//
// Scaled dot-product attention that never stores the N x M scores: the CPU's
// algorithm (query tiles, keys transposed per head; decode reads the keys as
// stored) and the GPU's (a thread per query and head, two passes in
// registers).
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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

} // namespace kernels
} // namespace tfc
