//===- WeightLoader.cpp - Loading a model's weights from safetensors ------===//
#include "weights/WeightLoader.h"

#include "weights/Layouts.h"
#include "weights/Manifest.h"

#include "SafetensorsReader.h"

#include <set>

namespace tfc {

namespace {

bool startsWith(const std::string &s, const char *prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool contains(const std::string &s, const char *part) {
  return s.find(part) != std::string::npos;
}

} // namespace

std::optional<WeightLayout> detectLayout(const SafetensorsFile &file) {
  auto meta = file.metadata().find("tfc.layout");
  if (meta != file.metadata().end())
    if (auto layout = parseWeightLayout(meta->second))
      return layout;
  // Most specific first: BERT and ViT names both contain "embeddings.".
  bool gpt2 = false, llama = false, bert = false, vit = false, native = false;
  for (const SafetensorsEntry &e : file.entries()) {
    const std::string &n = e.name;
    vit |= contains(n, "embeddings.patch_embeddings.projection.weight");
    bert |= contains(n, "embeddings.word_embeddings.weight");
    llama |= startsWith(n, "model.layers.") || n == "model.embed_tokens.weight";
    gpt2 |= n == "wte.weight" || n == "transformer.wte.weight" ||
            contains(n, "attn.c_attn.weight");
    native |= n == "tok_embed" || n == "patch.w" || startsWith(n, "layers.") ||
              startsWith(n, "encoder.layers.") ||
              startsWith(n, "decoder.layers.");
  }
  if (vit)
    return WeightLayout::HFViT;
  if (bert)
    return WeightLayout::HFBERT;
  if (llama)
    return WeightLayout::HFLlama;
  if (gpt2)
    return WeightLayout::HFGPT2;
  if (native)
    return WeightLayout::Native;
  return std::nullopt;
}

bool streamWeights(const ModelSpec &spec, const std::string &path,
                   WeightLayout layout, const NativeSink &sink,
                   std::string &error) {
  std::unique_ptr<SafetensorsFile> file = SafetensorsFile::open(path, error);
  if (!file)
    return false;
  // A file in another layout would otherwise fail on its first tensor name,
  // which hides the real mistake.
  std::optional<WeightLayout> seen = detectLayout(*file);
  if (seen && *seen != layout) {
    error = path + ": the tensor names are those of layout '" +
            toString(*seen) + "', but the spec says weights.layout: '" +
            toString(layout) + "'";
    return false;
  }
  // fromLayoutEach builds its rules from the manifest; check each tensor
  // anyway so a layout bug cannot hand a consumer misshapen tensors.
  std::vector<TensorInfo> manifest = buildManifest(spec);
  std::map<std::string, const TensorInfo *> expected;
  for (const TensorInfo &t : manifest)
    expected[t.name] = &t;
  std::set<std::string> delivered;
  auto checked = [&](const std::string &name, RefTensor &&t,
                     std::string &err) {
    auto it = expected.find(name);
    if (it == expected.end() || !delivered.insert(name).second) {
      err = path + ": internal error: layout '" +
            std::string(toString(layout)) + "' produced tensor '" + name +
            "' outside the manifest or twice";
      return false;
    }
    if (t.shape != it->second->shape) {
      err = path + ": tensor '" + name + "': expected shape " +
            formatShape(it->second->shape) + ", found " +
            formatShape(t.shape);
      return false;
    }
    return sink(name, std::move(t), err);
  };
  if (!fromLayoutEach(spec, layout, *file, checked, error)) {
    // The usual cause of a missing or misshapen tensor is a file of another
    // model; tfc's own files say which model they were written for.
    auto model = file->metadata().find("tfc.model");
    if (model != file->metadata().end() && model->second != spec.name)
      error += " (the file's metadata says it holds model '" +
               printableText(model->second) +
               "', not '" + spec.name + "')";
    return false;
  }
  for (const TensorInfo &t : manifest)
    if (!delivered.count(t.name)) {
      error = path + ": missing tensor '" + t.name + "'";
      return false;
    }
  return true;
}

bool loadWeights(const ModelSpec &spec, const std::string &path,
                 WeightLayout layout, std::map<std::string, RefTensor> &out,
                 std::string &error) {
  out.clear();
  return streamWeights(
      spec, path, layout,
      [&](const std::string &name, RefTensor &&t, std::string &) {
        out[name] = std::move(t);
        return true;
      },
      error);
}

} // namespace tfc
