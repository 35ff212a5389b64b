//===- WeightLayouts.h - Which layout a weights file uses ---------*- C++ -*-===//
//
// Facts about the weight layouts (native, hf-gpt2, hf-llama, hf-bert,
// hf-vit; docs/weights.md) that hold for every model: how a file shows its
// layout, and which tensors published checkpoints carry that are not
// weights. The per-model tables (which file name holds which native tensor)
// are in the compiled plan (tfc_plan.h); the compiler's weights/Layouts.h
// builds them.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_WEIGHTLAYOUTS_H
#define TFC_RUNTIME_WEIGHTLAYOUTS_H

#include <string>

namespace tfc {

class SafetensorsFile;

/// The layout a file appears to use: its "tfc.layout" metadata if present,
/// else guessed from characteristic tensor names (wte.weight -> hf-gpt2,
/// model.layers.* -> hf-llama, ...). "" if nothing matches.
std::string detectLayoutName(const SafetensorsFile &file);

/// Whether a file in `layout` (with the optional model prefix `prefix`) may
/// carry `name` without it being a weight: attention-mask buffers, rotary
/// caches, poolers, pretraining heads.
bool isIgnorableTensor(const std::string &layout, const std::string &prefix,
                       const std::string &name);

} // namespace tfc

#endif // TFC_RUNTIME_WEIGHTLAYOUTS_H
