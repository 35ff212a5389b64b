//===- WeightLoader.cpp - Loading a model's weights from safetensors ------===//
#include "weights/WeightLoader.h"

#include "weights/Layouts.h"
#include "weights/Manifest.h"

#include "SafetensorsReader.h"
#include "WeightLayouts.h"

#include <set>

namespace tfc {

std::optional<WeightLayout> detectLayout(const SafetensorsFile &file) {
  return parseWeightLayout(detectLayoutName(file));
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
