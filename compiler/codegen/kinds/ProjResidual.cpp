//===- ProjResidual.cpp - Projection + residual -----------------------------===//
//
// The output projection or MLP down projection, its bias and the residual
// add, with the post-norm of post-norm blocks.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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

} // namespace kernels
} // namespace tfc
