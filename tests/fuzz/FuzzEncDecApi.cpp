//===- FuzzEncDecApi.cpp - libFuzzer target for the encoder-decoder API ---===//
//
// The input bytes are a program of C API calls on a compiled tiny
// encoder-decoder (models/tiny-encdec.yaml, built by the release tfc; see
// CMakeLists.txt): tfc_set_source with fuzzed source ids and lengths,
// tfc_append / tfc_forward of target tokens, tfc_reset, and the calls an
// encoder-decoder must refuse (tfc_encode, tfc_decode_batch). A model of the
// API predicts each call's result, the target position and the source
// length:
//   - a call succeeds exactly when its arguments are valid (target calls
//     also need a source), and then its logits are finite;
//   - a failing call says why and changes neither the position nor the
//     source (tfc_forward starts the target over first, as documented);
//   - afterwards, every context computes the same logits for a fixed source
//     and target as a fresh one did (no state of an earlier source stays).
// Any difference aborts with a message naming the call.
//
//===----------------------------------------------------------------------===//
#include "tiny_encdec.h"

#include "ApiFuzz.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#ifndef TFC_FUZZ_WEIGHTS
#error "TFC_FUZZ_WEIGHTS: the tiny encoder-decoder's weights (CMakeLists.txt)"
#endif

namespace {

// One kernel thread: the pool is process-wide, sized by the first context.
const tfc_context_params params1 = {1, 0};

constexpr int kContexts = 2;
const tfc_model *model() { return tfc_model_tiny_encdec(); }

[[noreturn]] void fail(const std::string &what) {
  apifuzz::fail("FuzzEncDecApi", what);
}

const tfc_weights *weights() {
  return apifuzz::loadOnce(model(), TFC_FUZZ_WEIGHTS, "FuzzEncDecApi");
}

// The probe: a fixed source and target whose logits every context must
// reproduce.
const int32_t kSource[4] = {3, 1, 4, 1};
const int32_t kTarget[3] = {1, 7, 42};

std::vector<float> runProbe(tfc_context *c) {
  std::vector<float> out(3 * size_t(tfc_output_cols(model())));
  if (tfc_set_source(c, kSource, 4) != 0 ||
      tfc_forward(c, kTarget, 3, out.data()) != 0)
    fail(std::string("probe: ") + tfc_last_error());
  return out;
}

const std::vector<float> &probeLogits() {
  static const std::vector<float> logits = [] {
    tfc_context *c = tfc_context_create(weights(), &params1);
    if (!c)
      fail(std::string("tfc_context_create: ") + tfc_last_error());
    std::vector<float> out = runProbe(c);
    tfc_context_destroy(c);
    return out;
  }();
  return logits;
}

using apifuzz::fuzzToken;

int64_t fuzzLength(FuzzedDataProvider &fdp, int64_t room) {
  switch (fdp.ConsumeIntegralInRange(0, 8)) {
  case 0:
    return fdp.ConsumeIntegralInRange<int64_t>(-2, 0);
  case 1:
    return room + fdp.ConsumeIntegralInRange<int64_t>(-1, 1);
  case 2:
    return fdp.ConsumeBool() ? std::numeric_limits<int64_t>::max()
                             : std::numeric_limits<int64_t>::min();
  case 3:
    return fdp.ConsumeIntegral<int64_t>();
  default:
    return fdp.ConsumeIntegralInRange<int64_t>(1, 6);
  }
}

struct Harness {
  FuzzedDataProvider &fdp;
  const int64_t maxSeq = tfc_max_seq(model());
  const int64_t vocab = tfc_vocab(model());
  const size_t cols = size_t(tfc_output_cols(model()));
  tfc_context *ctx[kContexts] = {};
  int64_t pos[kContexts] = {};    // target tokens the calls so far imply
  int64_t source[kContexts] = {}; // source length (0: none)

  explicit Harness(FuzzedDataProvider &fdp) : fdp(fdp) {
    for (auto &c : ctx) {
      c = tfc_context_create(weights(), &params1);
      if (!c)
        fail(std::string("tfc_context_create: ") + tfc_last_error());
    }
  }
  ~Harness() {
    for (auto *c : ctx)
      tfc_context_destroy(c);
  }

  void checkState(const char *call) {
    for (int i = 0; i < kContexts; ++i)
      if (tfc_position(ctx[i]) != pos[i] ||
          tfc_source_length(ctx[i]) != source[i])
        fail(std::string("after ") + call + ": context " + std::to_string(i) +
             " is at position " + std::to_string(tfc_position(ctx[i])) +
             " with a source of " +
             std::to_string(tfc_source_length(ctx[i])) + ", expected " +
             std::to_string(pos[i]) + " and " + std::to_string(source[i]));
  }

  void checkError(int rc, bool valid, int i, const char *call) {
    (void)i;
    apifuzz::checkResult(rc, valid, call, "FuzzEncDecApi");
  }


  /// n fuzzed ids (at least one entry); whether all are in range.
  std::vector<int32_t> ids(int64_t n, bool &inRange) {
    size_t count = n > 0 && n <= 2 * maxSeq ? size_t(n) : 1;
    std::vector<int32_t> t(count);
    inRange = true;
    for (auto &id : t) {
      id = fuzzToken(fdp, vocab);
      inRange = inRange && id >= 0 && id < vocab;
    }
    return t;
  }

  void setSource() {
    int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
    int64_t s = fuzzLength(fdp, maxSeq);
    bool inRange;
    std::vector<int32_t> src = ids(s, inRange);
    bool valid = s >= 1 && s <= maxSeq && inRange;
    apifuzz::clearError();
    int rc = tfc_set_source(ctx[i], src.data(), s);
    checkError(rc, valid, i, "tfc_set_source");
    if (rc == 0) {
      source[i] = s;
      pos[i] = 0;
    }
    checkState("tfc_set_source");
  }

  void append(bool forward) {
    int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
    int64_t start = forward ? 0 : pos[i];
    int64_t n = fuzzLength(fdp, maxSeq - start);
    int allRows = forward ? 1 : fdp.ConsumeBool();
    bool inRange;
    std::vector<int32_t> tokens = ids(n, inRange);
    size_t rows = allRows ? tokens.size() : 1;
    std::vector<float> out(rows * cols);
    bool valid =
        source[i] > 0 && n >= 1 && n <= maxSeq - start && inRange;
    apifuzz::clearError();
    int rc = forward
                 ? tfc_forward(ctx[i], tokens.data(), n, out.data())
                 : tfc_append(ctx[i], tokens.data(), n, out.data(), allRows);
    const char *call = forward ? "tfc_forward" : "tfc_append";
    checkError(rc, valid, i, call);
    if (forward)
      pos[i] = 0; // tfc_forward starts the target over, whatever follows
    if (rc == 0) {
      pos[i] = start + n;
      for (size_t k = 0; k < rows * cols; ++k)
        if (!std::isfinite(out[k]))
          fail(std::string(call) + " succeeded with a non-finite logit");
    }
    checkState(call);
  }

  void refused() {
    int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
    int32_t token = fuzzToken(fdp, vocab);
    std::vector<float> out(cols);
    apifuzz::clearError();
    int rc = fdp.ConsumeBool()
                 ? tfc_encode(ctx[i], &token, nullptr, nullptr, 1, out.data())
                 : tfc_decode_batch(&ctx[i], 1, &token, out.data());
    checkError(rc, false, i, "tfc_encode/tfc_decode_batch");
    checkState("tfc_encode/tfc_decode_batch");
  }

  void checkUsable() {
    for (int i = 0; i < kContexts; ++i)
      if (runProbe(ctx[i]) != probeLogits())
        fail("context " + std::to_string(i) +
             " computes different probe logits after the calls");
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  probeLogits(); // before any fuzzed call
  FuzzedDataProvider fdp(data, size);
  Harness h(fdp);
  for (int op = 0; op < 32 && fdp.remaining_bytes() > 0; ++op) {
    switch (fdp.ConsumeIntegralInRange(0, 6)) {
    case 0:
    case 1:
      h.setSource();
      break;
    case 2:
    case 3:
      h.append(/*forward=*/false);
      break;
    case 4:
      h.append(/*forward=*/true);
      break;
    case 5: {
      int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
      tfc_reset(h.ctx[i]);
      h.pos[i] = 0;
      h.checkState("tfc_reset");
      break;
    }
    default:
      h.refused();
    }
  }
  h.checkUsable();
  return 0;
}
