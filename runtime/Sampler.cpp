//===- Sampler.cpp - Greedy, temperature, top-k and top-p sampling -------===//
#include "tfc_runtime.h"

#include "ApiError.h"
#include "RandomWeights.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct tfc_sampler {
  int64_t vocab = 0;
  float temperature = 0, topP = 1;
  int32_t topK = 0;
  uint64_t state = 0;
  std::vector<int32_t> ids;  // scratch: candidate ids
  std::vector<double> probs; // scratch: their probabilities, by id
};

namespace {

double uniform(uint64_t &state) { // [0, 1)
  return static_cast<double>(tfc::splitmix64(state) >> 11) * 0x1.0p-53;
}

} // namespace

extern "C" {

tfc_sampler_params tfc_sampler_default_params(void) {
  tfc_sampler_params p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.seed = 0;
  return p;
}

tfc_sampler *tfc_sampler_create(int64_t vocab,
                                const tfc_sampler_params *params) {
  tfc_sampler_params defaults = tfc_sampler_default_params();
  if (!params)
    params = &defaults;
  float temperature = params->temperature, top_p = params->top_p;
  int32_t top_k = params->top_k;
  uint64_t seed = params->seed;
  if (vocab < 1 || vocab > (int64_t(1) << 31)) {
    tfc::setLastError(
             "sampler: vocab " + std::to_string(vocab) +
                 " is not in [1, 2^31]");
    return nullptr;
  }
  if (!std::isfinite(temperature) || temperature < 0) {
    tfc::setLastError(
             "sampler: temperature " + std::to_string(temperature) +
                 " must be >= 0 (0 = greedy)");
    return nullptr;
  }
  if (top_k < 0) {
    tfc::setLastError(
             "sampler: top_k " + std::to_string(top_k) +
                 " must be >= 0 (0 = no limit)");
    return nullptr;
  }
  if (!(top_p > 0 && top_p <= 1)) {
    tfc::setLastError(
             "sampler: top_p " + std::to_string(top_p) + " must be in (0, 1]");
    return nullptr;
  }
  auto *s = new tfc_sampler;
  s->vocab = vocab;
  s->temperature = temperature;
  s->topK = top_k;
  s->topP = top_p;
  s->state = seed;
  s->ids.resize(size_t(vocab));
  s->probs.resize(size_t(vocab));
  return s;
}

void tfc_sampler_destroy(tfc_sampler *sampler) { delete sampler; }

int32_t tfc_sampler_next(tfc_sampler *s, const float *logits) {
  if (!s || !logits)
    return tfc::fail<int32_t>(-1, !s ? "sampler is NULL" : "logits are NULL");
  int64_t v = s->vocab;
  // Greedy: the largest logit, the lowest id on ties (NaN never wins).
  if (s->temperature == 0 || s->topK == 1) {
    int64_t best = 0;
    for (int64_t i = 1; i < v; ++i)
      if (logits[i] > logits[best] || std::isnan(logits[best]))
        best = i;
    return int32_t(best);
  }
  int32_t *ids = s->ids.data();
  for (int64_t i = 0; i < v; ++i)
    ids[i] = int32_t(i);
  // A strict weak order even with NaN logits (std::sort needs one): NaN
  // ranks below every number, ties go to the smaller id.
  auto larger = [&](int32_t a, int32_t b) {
    bool na = std::isnan(logits[a]), nb = std::isnan(logits[b]);
    if (na != nb)
      return nb;
    if (!na && logits[a] != logits[b])
      return logits[a] > logits[b];
    return a < b;
  };
  int64_t count = v;
  if (s->topK > 0 && s->topK < v) {
    std::nth_element(ids, ids + s->topK, ids + v, larger);
    count = s->topK;
  }
  std::sort(ids, ids + count, larger);
  // Softmax of logits / temperature over the candidates, in double.
  double top = logits[ids[0]] / double(s->temperature), sum = 0;
  double *probs = s->probs.data();
  for (int64_t i = 0; i < count; ++i) {
    double p = std::exp(logits[ids[i]] / double(s->temperature) - top);
    probs[i] = std::isfinite(p) ? p : 0;
    sum += probs[i];
  }
  // Nucleus: the smallest prefix (most likely first) reaching top_p.
  if (s->topP < 1) {
    double kept = 0;
    int64_t k = 0;
    while (k < count && kept < s->topP * sum)
      kept += probs[k++];
    count = std::max<int64_t>(k, 1);
    sum = kept > 0 ? kept : probs[0];
  }
  double r = uniform(s->state) * sum;
  for (int64_t i = 0; i < count; ++i) {
    r -= probs[i];
    if (r < 0)
      return ids[i];
  }
  return ids[count - 1];
}

} // extern "C"
