//===- Layouts.h - Weight name layouts (native, Hugging Face) -----*- C++
//-*-===//
//
// A layout is a naming and orientation convention for a model's weights in
// a file. Native names and shapes are the manifest's (Manifest.h; projection
// matrices [in, out]). The Hugging Face layouts follow the published
// checkpoints (docs/weights.md has the full tables):
//   hf-gpt2   GPT2Model / GPT2LMHeadModel; Conv1D weights are already
//             [in, out]; q/k/v are fused column-wise into attn.c_attn.
//   hf-llama  LlamaForCausalLM; nn.Linear weights [out, in] (transposed).
//   hf-bert   BertModel; nn.Linear weights [out, in]; post-norm.
//   hf-vit    ViTModel / ViTForImageClassification; the patch projection is
//             a Conv2d weight [D, C, P, P].
// Encoder-decoder models have no Hugging Face layout here.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_WEIGHTS_LAYOUTS_H
#define TFC_WEIGHTS_LAYOUTS_H

#include "reference/RefTensor.h"
#include "spec/ModelSpec.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tfc {

class SafetensorsFile;

/// A layout as a compiled model carries it (tfc_layout and its
/// tfc_tensor_sources in runtime/tfc_plan.h): the runtime reads weights
/// files with these tables, without the spec.
struct PlanLayout {
  struct Source {
    std::string native;             // the native tensor
    std::string file;               // its file tensor, without the prefix
    bool prefixed = false;          // the file name takes the prefix
    int xform = 0;                  // TFC_XFORM_* (copy, transpose, ...)
    std::vector<int64_t> fileShape; // the file tensor's shape
    int64_t column = 0;             // TFC_XFORM_COLUMNS: first column
  };
  std::string name, prefix;
  std::string tiedHead;    // the embedding a file's lm_head.weight may equal
  std::string unsupported; // why the layout cannot hold the model, or ""
  std::vector<Source> sources;
};

/// Every layout for `spec`, the spec's own first.
std::vector<PlanLayout> planLayouts(const ModelSpec &spec);

/// "hf-gpt2" -> WeightLayout::HFGPT2; nullopt for an unknown name.
std::optional<WeightLayout> parseWeightLayout(const std::string &name);

/// Converts native tensors (every manifest tensor, manifest shapes) to the
/// tensors `layout` stores, in a stable order, with the layout's names
/// (hf-gpt2 and hf-bert without the optional "transformer."/"bert." prefix;
/// hf-vit with "vit." when the model has a classifier). False with `error`
/// if a tensor is missing or misshapen, or the layout cannot express the
/// model (e.g. a gated MLP in hf-gpt2).
bool toLayout(const ModelSpec &spec, WeightLayout layout,
              const std::map<std::string, RefTensor> &native,
              std::vector<std::pair<std::string, RefTensor>> &out,
              std::string &error);

/// Reads every weight of `spec` from `file` in `layout` (prefixes are
/// detected), converts float dtypes to double and the layout's orientation
/// to native. Checks that every expected tensor is there with the expected
/// shape and that nothing unexpected is; messages start with the file path
/// and use the file's tensor names, e.g.
///   w.safetensors: tensor 'layers.0.attn.wq': expected shape [32, 32],
///   found [32, 16]
bool fromLayout(const ModelSpec &spec, WeightLayout layout,
                const SafetensorsFile &file,
                std::map<std::string, RefTensor> &native, std::string &error);

/// fromLayout one tensor at a time: each native tensor goes to `sink` as soon
/// as its file tensor is read (a fused file tensor yields several), so at
/// most one file tensor is held in double precision. A false return from
/// `sink` stops with its error.
using NativeSink = std::function<bool(const std::string &name, RefTensor &&t,
                                      std::string &error)>;
bool fromLayoutEach(const ModelSpec &spec, WeightLayout layout,
                    const SafetensorsFile &file, const NativeSink &sink,
                    std::string &error);


} // namespace tfc

#endif // TFC_WEIGHTS_LAYOUTS_H
