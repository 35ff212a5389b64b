//===- SpecToTfm.h - Build model-level tfm IR from a spec -------*- C++ -*-===//
#ifndef TFC_LOWERING_SPECTOTFM_H
#define TFC_LOWERING_SPECTOTFM_H

#include "spec/ModelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace tfc {

/// The model as one `func.func @forward` of model-level tfm ops. Inputs:
/// decoder and encoder `tokens: tensor<?xi32>` (plus `token_types` when the
/// spec has type_vocab), vit `image: tensor<HxWxCxf32>`, encoder-decoder
/// `source` and `target` token tensors. Each argument carries its name as
/// `tfm.input`; the module carries `tfm.model`, `tfm.family`, `tfm.max_seq`
/// and `tfm.vocab`.
mlir::OwningOpRef<mlir::ModuleOp> buildModelIR(mlir::MLIRContext &context,
                                               const ModelSpec &spec);

} // namespace tfc

#endif // TFC_LOWERING_SPECTOTFM_H
