//===- RandomWeights.h - Deterministic random weight values -------*- C++ -*-===//
//
// The values of `tfc init-weights SPEC --seed S` and tfc_weights_random: each
// tensor's elements come from a generator seeded by the seed and the
// tensor's name, so a tensor's values do not depend on which other tensors
// the model has. The same bits on every platform (no libm, no
// std::normal_distribution).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_RANDOMWEIGHTS_H
#define TFC_RUNTIME_RANDOMWEIGHTS_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace tfc {

/// splitmix64: a small, well-mixed generator with a fixed sequence for a
/// seed on every platform (also the samplers').
uint64_t splitmix64(uint64_t &state);

/// out[i] = mean + sigma * z_i (one rounding), z approximately N(0, 1),
/// for the tensor `name` of a model initialised with `seed`.
void randomNormal(uint64_t seed, const std::string &name, double mean,
                  double sigma, double *out, size_t count);

} // namespace tfc

#endif // TFC_RUNTIME_RANDOMWEIGHTS_H
