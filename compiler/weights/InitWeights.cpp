//===- InitWeights.cpp - Deterministic random weights and writing ---------===//
#include "weights/InitWeights.h"

#include "weights/Layouts.h"
#include "weights/Manifest.h"

#include "RandomWeights.h"
#include "SafetensorsReader.h"
#include "SafetensorsWriter.h"

#include <cmath>

namespace tfc {

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t layerCount(const ModelSpec &spec) {
  int64_t m = spec.dims.nLayers;
  if (spec.encoder && spec.decoder)
    m = spec.encoder->dims.nLayers + spec.decoder->dims.nLayers;
  return m > 0 ? m : 1;
}

} // namespace

std::vector<InitParams> initParams(const ModelSpec &spec) {
  std::vector<InitParams> out;
  const double residualScale =
      1.0 / std::sqrt(2.0 * static_cast<double>(layerCount(spec)));
  for (const TensorInfo &info : buildManifest(spec)) {
    const std::string &n = info.name;
    double mean = 0.0, sigma = 0.05;
    if (endsWith(n, ".gamma")) {
      mean = 1.0, sigma = 0.1;
    } else if (n == "tok_embed" || n == "type_embed" || n == "cls_token" ||
               endsWith(n, "pos_embed")) {
      sigma = 1.0 / std::sqrt(static_cast<double>(info.shape.back()));
    } else if (info.shape.size() == 2) {
      sigma = 1.0 / std::sqrt(static_cast<double>(info.shape[0]));
      if (endsWith(n, ".wo") || endsWith(n, ".w2"))
        sigma *= residualScale;
    }
    out.push_back({info, mean, sigma});
  }
  return out;
}

std::map<std::string, RefTensor> initWeights(const ModelSpec &spec,
                                             uint64_t seed) {
  std::map<std::string, RefTensor> out;
  for (const InitParams &p : initParams(spec)) {
    RefTensor t(p.tensor.shape);
    randomNormal(seed, p.tensor.name, p.mean, p.sigma, t.data.data(),
                 t.data.size());
    out[p.tensor.name] = std::move(t);
  }
  return out;
}

bool writeWeights(const ModelSpec &spec,
                  const std::map<std::string, RefTensor> &native,
                  WeightLayout layout, DType dtype, const std::string &path,
                  std::string &error) {
  std::vector<std::pair<std::string, RefTensor>> tensors;
  if (!toLayout(spec, layout, native, tensors, error)) {
    error = path + ": " + error;
    return false;
  }
  const char *st = dtype == DType::F32   ? "F32"
                   : dtype == DType::F16 ? "F16"
                                         : "BF16";
  std::vector<SafetensorsTensor> file;
  file.reserve(tensors.size());
  for (auto &[name, t] : tensors) {
    SafetensorsTensor s;
    s.name = name;
    s.dtype = st;
    s.shape = t.shape;
    if (!encodeFloats(st, t.data.data(), t.data.size(), s.bytes, error))
      return false;
    file.push_back(std::move(s));
  }
  std::map<std::string, std::string> metadata{{"tfc.layout", toString(layout)},
                                              {"tfc.model", spec.name}};
  if (layout != WeightLayout::Native)
    metadata["format"] = "pt"; // what transformers expects of its files
  return writeSafetensors(path, file, metadata, error);
}

} // namespace tfc
