//===- MLPUp.cpp - Norm + MLP up projection ---------------------------------===//
//
// The norm prologue, the up projection (and a gated MLP's gate) and the
// activation.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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

} // namespace kernels
} // namespace tfc
