//===- WeightLoader.h - Loading a model's weights from safetensors -*- C++
//-*-===//
//
// Opens a safetensors file, reads it in a layout (native or a Hugging Face
// one), converts it to native names, orientation and double precision, and
// checks it against the model's manifest. Used by the reference interpreter
// and the tools; the compiled runtime maps the same files.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_WEIGHTS_WEIGHTLOADER_H
#define TFC_WEIGHTS_WEIGHTLOADER_H

#include "reference/RefTensor.h"
#include "weights/Layouts.h"
#include "spec/ModelSpec.h"

#include <map>
#include <optional>
#include <string>

namespace tfc {

class SafetensorsFile;

/// Loads every weight of `spec` from `path`, stored in `layout`. On success
/// `out` holds exactly the manifest's tensors under native names. Errors
/// start with the path and name the tensor, e.g.
///   w.safetensors: tensor 'layers.0.attn.wq': expected shape [32, 32],
///   found [32, 16]
///   w.safetensors: missing tensor 'layers.0.attn.wq' (...)
///   w.safetensors: unexpected tensor 'foo' (...)
bool loadWeights(const ModelSpec &spec, const std::string &path,
                 WeightLayout layout, std::map<std::string, RefTensor> &out,
                 std::string &error);

/// loadWeights one tensor at a time (the same checks and messages): each
/// native tensor goes to `sink` as soon as it is read and converted, so
/// only one file tensor is held in double precision at once (the compiled
/// runtime converts each into its own storage form right away).
bool streamWeights(const ModelSpec &spec, const std::string &path,
                   WeightLayout layout, const NativeSink &sink,
                   std::string &error);

/// The layout a file appears to use: its "tfc.layout" metadata if present,
/// else guessed from characteristic tensor names (wte.weight ->
/// hf-gpt2, model.layers.* -> hf-llama, ...). nullopt if nothing matches.
std::optional<WeightLayout> detectLayout(const SafetensorsFile &file);

} // namespace tfc

#endif // TFC_WEIGHTS_WEIGHTLOADER_H
