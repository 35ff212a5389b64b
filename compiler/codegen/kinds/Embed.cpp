//===- Embed.cpp - Token embedding ------------------------------------------===//
//
// Token (+ type) (+ position) embedding, with BERT's embedding norm.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

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

} // namespace kernels
} // namespace tfc
