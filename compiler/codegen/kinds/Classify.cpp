//===- Classify.cpp - Pooling + classifier ----------------------------------===//
//
// A ViT's (or an encoder's) final norm, pooling and classifier, or BERT's
// pooler.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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

} // namespace kernels
} // namespace tfc
