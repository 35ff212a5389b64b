//===- InitWeights.h - Deterministic random weights and writing --*- C++
//-*-===//
//
// Random weights for tests, benchmarks and demos: the same (spec, seed) gives
// bit-identical values on every platform and standard library, because the
// generator (splitmix64) and the normal approximation (sum of uniforms) use
// only integer arithmetic and correctly rounded IEEE operations.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_WEIGHTS_INITWEIGHTS_H
#define TFC_WEIGHTS_INITWEIGHTS_H

#include "reference/RefTensor.h"
#include "spec/ModelSpec.h"
#include "weights/Manifest.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tfc {

/// A manifest tensor and the distribution of its random values: mean +
/// sigma * N(0, 1) (runtime/RandomWeights.h draws them).
struct InitParams {
  TensorInfo tensor;
  double mean = 0, sigma = 0;
};

/// The distribution of every manifest tensor, in manifest order (the
/// scales below). Compiled models carry it for tfc_weights_random.
std::vector<InitParams> initParams(const ModelSpec &spec);

/// Every manifest tensor of `spec`, random (initParams). Each tensor has its own stream
/// (seeded by `seed` and its name), so adding a tensor does not change the
/// others. Scales keep activations O(1) through many layers:
///   projections [in, out]          N(0, 1/sqrt(in))
///   wo, w2 (into the residual)     N(0, 1/sqrt(in) / sqrt(2 M))
///   embeddings, cls_token          N(0, 1/sqrt(D))
///   norm gammas                    1 + N(0, 0.1)
///   norm betas, biases             N(0, 0.05)
std::map<std::string, RefTensor> initWeights(const ModelSpec &spec,
                                             uint64_t seed);

/// Writes native tensors to `path` in `layout` as `dtype` (F32, F16 or
/// BF16), with metadata {"format": "pt" (hf layouts), "tfc.layout",
/// "tfc.model"}.
bool writeWeights(const ModelSpec &spec,
                  const std::map<std::string, RefTensor> &native,
                  WeightLayout layout, DType dtype, const std::string &path,
                  std::string &error);

} // namespace tfc

#endif // TFC_WEIGHTS_INITWEIGHTS_H
