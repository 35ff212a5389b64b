//===- RandomWeights.cpp - Deterministic random weight values -------------===//
#include "RandomWeights.h"

#include <cmath>

namespace tfc {

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

namespace {

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

} // namespace

void randomNormal(uint64_t seed, const std::string &name, double mean,
                  double sigma, double *out, size_t count) {
  uint64_t state = seed ^ fnv1a(name);
  splitmix64(state); // decorrelate nearby seeds
  for (size_t i = 0; i < count; ++i)
    out[i] = std::fma(sigma, standardNormal(state), mean); // one rounding
}

} // namespace tfc
