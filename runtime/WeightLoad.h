//===- WeightLoad.h - A model's native tensors from a file --------*- C++ -*-===//
//
// Reads a weights file with the tables a compiled model carries
// (tfc_model.tensors, .layouts, .sources in tfc_plan.h): detects the layout,
// finds each native tensor's file tensor, checks names, shapes and values,
// and hands each native tensor to a sink as f32, straight from the file's
// dtype (no double-precision copy). Also the random tensors of
// tfc_weights_random. No spec is parsed: the runtime links into programs.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_WEIGHTLOAD_H
#define TFC_RUNTIME_WEIGHTLOAD_H

#include "tfc_plan.h"

#include <cstdint>
#include <functional>
#include <string>

namespace tfc {

/// Receives native tensor `tensor` (index into model.tensors), row-major
/// in its manifest shape. `data` is valid only during the call.
using TensorSink =
    std::function<bool(int32_t tensor, const float *data, std::string &error)>;

/// Every native tensor of `model` from the safetensors file `path`, each to
/// `sink` once. Messages start with the path and name the file's tensor:
///   w.safetensors: tensor 'h.0.attn.c_attn.weight': expected shape
///   [32, 96], found [32, 32]
bool readWeightsFile(const tfc_model &model, const std::string &path,
                     const TensorSink &sink, std::string &error);

/// The random native tensors of `tfc init-weights SPEC --seed seed`.
bool randomWeightTensors(const tfc_model &model, uint64_t seed,
                         const TensorSink &sink, std::string &error);

} // namespace tfc

#endif // TFC_RUNTIME_WEIGHTLOAD_H
