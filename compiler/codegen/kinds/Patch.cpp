//===- Patch.cpp - ViT patch embedding --------------------------------------===//
//
// The paper's x_n = W p_n + e_n, read straight from the image: the class
// token, the patch projections and the positions.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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

} // namespace kernels
} // namespace tfc
