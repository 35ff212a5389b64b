//===- InitWeights.cpp - Deterministic random weights and writing ---------===//
#include "weights/InitWeights.h"

#include "weights/Layouts.h"
#include "weights/Manifest.h"

#include "SafetensorsReader.h"
#include "SafetensorsWriter.h"

#include <cmath>

namespace tfc {

namespace {

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string &s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Approximately N(0, 1): the sum of four uniforms on [0, 1) has mean 2 and
// variance 1/3. Only additions and one multiplication, all correctly
// rounded, so every platform gets the same bits (std::normal_distribution
// differs between standard libraries; log/cos differ between libms).
double standardNormal(uint64_t &state) {
  double sum = 0.0;
  for (int i = 0; i < 4; ++i)
    sum += static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
  return (sum - 2.0) * 1.7320508075688772; // sqrt(3)
}

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

std::map<std::string, RefTensor> initWeights(const ModelSpec &spec,
                                             uint64_t seed) {
  std::map<std::string, RefTensor> out;
  const double residualScale =
      1.0 / std::sqrt(2.0 * static_cast<double>(layerCount(spec)));
  for (const TensorInfo &info : buildManifest(spec)) {
    const std::string &n = info.name;
    RefTensor t(info.shape);
    uint64_t state = seed ^ fnv1a(n);
    splitmix64(state); // decorrelate nearby seeds
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
    for (double &v : t.data)
      v = std::fma(sigma, standardNormal(state), mean); // one rounding
    out[n] = std::move(t);
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
