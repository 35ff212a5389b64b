//===- FuzzRuntimeApi.cpp - libFuzzer target for the runtime's C API -----===//
//
// The input bytes are a program of C API calls on a compiled tiny decoder
// with the byte tokenizer (tests/lit/Inputs/tiny-bytes.yaml, built by the
// release tfc; see CMakeLists.txt):
// tfc_append / tfc_forward with fuzzed token ids and lengths (0, negative,
// past max_seq, past the end of the cache), tfc_reset, tfc_decode_batch
// with fuzzed batch sizes and context orders, and samplers with fuzzed
// parameters (NaN, inf, negative) drawing from model or fuzzed logits;
// tfc_tokenize and tfc_detokenize with fuzzed text, ids, counts and
// capacities (NULL included), and tfc_generate with fuzzed prompts and
// parameters (max_tokens, stop tokens, sampler values, a callback that
// stops early).
// A model of the API predicts each call's result and the positions:
//   - a call succeeds exactly when its arguments are valid, and then its
//     logits are finite and the positions advance as documented;
//   - a failing call says why (tfc_last_error) and changes no position;
//   - afterwards, every context still computes the same logits for a fixed
//     prompt as a fresh one did (errors leave contexts usable).
// Any difference aborts with a message naming the call.
//
//===----------------------------------------------------------------------===//
#include "tiny_bytes.h"

#include "ApiFuzz.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#ifndef TFC_FUZZ_WEIGHTS
#error "TFC_FUZZ_WEIGHTS: the tiny decoder's weights (set by CMakeLists.txt)"
#endif

namespace {

// One kernel thread: the pool is process-wide, sized by the first context.
const tfc_context_params params1 = {1, 0};

constexpr int kContexts = 4;
const tfc_model *model() { return tfc_model_tiny_bytes(); }

[[noreturn]] void fail(const std::string &what) {
  apifuzz::fail("FuzzRuntimeApi", what);
}

void checkFinite(const std::vector<float> &out, size_t floats,
                 const char *call) {
  for (size_t i = 0; i < floats; ++i)
    if (!std::isfinite(out[i]))
      fail(std::string(call) + " succeeded with a non-finite logit at " +
           std::to_string(i));
}

const tfc_weights *weights() {
  return apifuzz::loadOnce(model(), TFC_FUZZ_WEIGHTS, "FuzzRuntimeApi");
}

// The probe: a fixed prompt whose logits every context must reproduce.
const int32_t kProbe[3] = {1, 7, 42};

const std::vector<float> &probeLogits() {
  static const std::vector<float> logits = [] {
    tfc_context *c = tfc_context_create(weights(), &params1);
    if (!c)
      fail(std::string("tfc_context_create: ") + tfc_last_error());
    std::vector<float> out(3 * size_t(tfc_output_cols(model())));
    if (tfc_forward(c, kProbe, 3, out.data()) != 0)
      fail(std::string("probe forward: ") + tfc_last_error());
    tfc_context_destroy(c);
    return out;
  }();
  return logits;
}

using apifuzz::fuzzToken;

// Sequence lengths: around the interesting edges, or anything.
int64_t fuzzLength(FuzzedDataProvider &fdp, int64_t maxSeq, int64_t pos) {
  switch (fdp.ConsumeIntegralInRange(0, 9)) {
  case 0:
    return 0;
  case 1:
    return -fdp.ConsumeIntegralInRange<int64_t>(1, 3);
  case 2:
    return maxSeq - pos + fdp.ConsumeIntegralInRange<int64_t>(-1, 1);
  case 3:
    return maxSeq + 1;
  case 4:
    return fdp.ConsumeBool() ? std::numeric_limits<int64_t>::max()
                             : std::numeric_limits<int64_t>::min();
  case 5:
    return fdp.ConsumeIntegral<int64_t>();
  default:
    return fdp.ConsumeIntegralInRange<int64_t>(1, 8);
  }
}

float fuzzFloat(FuzzedDataProvider &fdp) {
  switch (fdp.ConsumeIntegralInRange(0, 7)) {
  case 0:
    return std::numeric_limits<float>::quiet_NaN();
  case 1:
    return std::numeric_limits<float>::infinity();
  case 2:
    return -std::numeric_limits<float>::infinity();
  case 3:
    return fdp.ConsumeFloatingPoint<float>();
  default:
    return fdp.ConsumeFloatingPointInRange<float>(-4, 4);
  }
}

struct Harness {
  FuzzedDataProvider &fdp;
  const int64_t maxSeq = tfc_max_seq(model());
  const int64_t vocab = tfc_vocab(model());
  const size_t cols = size_t(tfc_output_cols(model()));
  tfc_context *ctx[kContexts] = {};
  int64_t pos[kContexts] = {}; // what the calls so far imply
  std::vector<float> lastRow;  // a row of logits from the last success

  explicit Harness(FuzzedDataProvider &fdp) : fdp(fdp), lastRow(cols, 0) {
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

  void checkPositions(const char *call) {
    for (int i = 0; i < kContexts; ++i)
      if (tfc_position(ctx[i]) != pos[i])
        fail(std::string("after ") + call + ": context " + std::to_string(i) +
             " is at position " + std::to_string(tfc_position(ctx[i])) +
             ", expected " + std::to_string(pos[i]));
  }

  void checkError(int rc, bool valid, int i, const char *call) {
    (void)i;
    apifuzz::checkResult(rc, valid, call, "FuzzRuntimeApi");
  }


  // tfc_append (or tfc_forward) of a fuzzed sequence to one context.
  void append(bool forward) {
    int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
    int64_t start = forward ? 0 : pos[i];
    int64_t n = fuzzLength(fdp, maxSeq, start);
    int allRows = forward ? 1 : fdp.ConsumeBool();
    // The caller's side of the contract: tokens and output hold n entries
    // (rows) when n is small; beyond max_seq the call must fail before it
    // reads them, so the buffers stay small.
    size_t count = n > 0 && n <= 2 * maxSeq ? size_t(n) : 1;
    std::vector<int32_t> tokens(count);
    bool tokensValid = true;
    for (auto &t : tokens) {
      t = fuzzToken(fdp, vocab);
      tokensValid = tokensValid && t >= 0 && t < vocab;
    }
    size_t rows = allRows ? count : 1;
    std::vector<float> out(rows * cols);
    bool valid = n >= 1 && n <= maxSeq - start && tokensValid;
    apifuzz::clearError();
    int rc = forward
                 ? tfc_forward(ctx[i], tokens.data(), n, out.data())
                 : tfc_append(ctx[i], tokens.data(), n, out.data(), allRows);
    const char *call = forward ? "tfc_forward" : "tfc_append";
    checkError(rc, valid, i, call);
    if (forward)
      pos[i] = 0; // tfc_forward resets first, whatever happens next
    if (rc == 0) {
      pos[i] = start + n;
      checkFinite(out, rows * cols, call);
      std::copy(out.end() - long(cols), out.end(), lastRow.begin());
    }
    checkPositions(call);
  }

  void decodeBatch() {
    int32_t b;
    switch (fdp.ConsumeIntegralInRange(0, 4)) {
    case 0:
      b = fdp.ConsumeIntegralInRange<int32_t>(-2, 0);
      break;
    case 1:
      b = fdp.ConsumeBool() ? int32_t(maxSeq + 1)
                            : std::numeric_limits<int32_t>::max();
      break;
    case 2:
      b = fdp.ConsumeIntegralInRange<int32_t>(kContexts + 1, int32_t(maxSeq));
      break;
    default:
      b = fdp.ConsumeIntegralInRange<int32_t>(1, kContexts);
    }
    // Contexts in a fuzzed order; beyond kContexts they repeat (an error).
    std::vector<tfc_context *> list(static_cast<size_t>(maxSeq));
    std::vector<int> which(list.size());
    bool distinct = true;
    bool used[kContexts] = {};
    for (size_t k = 0; k < list.size(); ++k) {
      which[k] = k < size_t(kContexts)
                     ? fdp.ConsumeIntegralInRange(0, kContexts - 1)
                     : int(k % kContexts);
      list[k] = ctx[which[k]];
    }
    std::vector<int32_t> tokens(list.size());
    bool valid = b >= 1 && b <= maxSeq;
    for (int32_t k = 0; valid && k < b; ++k) {
      if (used[which[k]])
        distinct = false;
      used[which[k]] = true;
    }
    for (int32_t k = 0; k < int32_t(tokens.size()); ++k) {
      tokens[k] = fuzzToken(fdp, vocab);
      if (valid && k < b &&
          (tokens[k] < 0 || tokens[k] >= vocab || pos[which[k]] >= maxSeq))
        valid = false;
    }
    valid = valid && distinct;
    std::vector<float> out(list.size() * cols);
    apifuzz::clearError();
    int rc = tfc_decode_batch(list.data(), b, tokens.data(), out.data());
    if (b >= 1)
      checkError(rc, valid, which[0], "tfc_decode_batch");
    else if (rc == 0)
      fail("tfc_decode_batch succeeded with b = " + std::to_string(b));
    if (rc == 0) {
      for (int32_t k = 0; k < b; ++k)
        ++pos[which[k]];
      checkFinite(out, size_t(b) * cols, "tfc_decode_batch");
      std::copy(out.begin(), out.begin() + long(cols), lastRow.begin());
    }
    checkPositions("tfc_decode_batch");
  }

  void sample() {
    int64_t v;
    switch (fdp.ConsumeIntegralInRange(0, 5)) {
    case 0:
      v = fdp.ConsumeIntegralInRange<int64_t>(-2, 0);
      break;
    case 1:
      v = fdp.ConsumeBool() ? (int64_t(1) << 31) + 1
                            : std::numeric_limits<int64_t>::min();
      break;
    case 2:
      v = fdp.ConsumeIntegralInRange<int64_t>(1, 4);
      break;
    default:
      v = vocab;
    }
    float temperature = fuzzFloat(fdp);
    int32_t topK = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange(-1, 70)
                                     : fdp.ConsumeIntegral<int32_t>();
    float topP = fdp.ConsumeBool()
                     ? fdp.ConsumeFloatingPointInRange<float>(0, 1)
                     : fuzzFloat(fdp);
    uint64_t seed = fdp.ConsumeIntegral<uint64_t>();
    bool valid = v >= 1 && v <= (int64_t(1) << 31) &&
                 std::isfinite(temperature) && temperature >= 0 && topK >= 0 &&
                 topP > 0 && topP <= 1;
    apifuzz::clearError();
    tfc_sampler_params params = {temperature, topK, topP, seed};
    tfc_sampler *s = tfc_sampler_create(v, &params);
    if (valid != (s != nullptr))
      fail(std::string("tfc_sampler_create ") +
           (s ? "accepted invalid" : "rejected valid") +
           " parameters: " + tfc_last_error());
    if (!s) {
      if (!tfc_last_error()[0])
        fail("tfc_sampler_create failed without an error message");
      return;
    }
    // Logits: the model's, or fuzzed ones (NaN and inf included).
    std::vector<float> logits(lastRow.begin(), lastRow.end());
    logits.resize(size_t(v), 0);
    bool finite = true;
    if (fdp.ConsumeBool())
      for (auto &l : logits) {
        l = fuzzFloat(fdp);
        finite = finite && std::isfinite(l);
      }
    for (int draw = fdp.ConsumeIntegralInRange(1, 3); draw > 0; --draw) {
      int32_t id = tfc_sampler_next(s, logits.data());
      if (id < 0 || id >= v)
        fail("tfc_sampler_next returned " + std::to_string(id) + " for vocab " +
             std::to_string(v));
      if (finite && (temperature == 0 || topK == 1))
        for (int64_t k = 0; k < v; ++k)
          if (logits[size_t(k)] > logits[size_t(id)] ||
              (logits[size_t(k)] == logits[size_t(id)] && k < id))
            fail("greedy tfc_sampler_next returned " + std::to_string(id) +
                 ", not the first largest logit " + std::to_string(k));
    }
    tfc_sampler_destroy(s);
  }

  // The byte tokenizer, loaded once.
  static const tfc_tokenizer *tokenizer() {
    static const tfc_tokenizer *t = [] {
      tfc_tokenizer *made = tfc_tokenizer_load(model(), nullptr);
      if (!made)
        fail(std::string("tfc_tokenizer_load: ") + tfc_last_error());
      return made;
    }();
    return t;
  }

  // A capacity around the size `need`: 0, one short, exact, more, negative.
  int64_t fuzzCapacity(int64_t need) {
    switch (fdp.ConsumeIntegralInRange(0, 5)) {
    case 0:
      return 0;
    case 1:
      return std::max<int64_t>(need - 1, 0);
    case 2:
      return need;
    case 3:
      return need + fdp.ConsumeIntegralInRange<int64_t>(1, 8);
    case 4:
      return fdp.ConsumeBool() ? -1 : std::numeric_limits<int64_t>::min();
    default:
      return fdp.ConsumeIntegralInRange<int64_t>(0, 80);
    }
  }

  static constexpr int32_t kSentinel = -12345;
  static constexpr char kByteSentinel = '\x7f';

  // tfc_tokenize: the byte tokenizer's ids are the bytes.
  void tokenize() {
    std::string text = fdp.ConsumeRandomLengthString(80);
    bool nullTok = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullText = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullOut = fdp.ConsumeIntegralInRange(0, 7) == 0;
    int64_t need = int64_t(text.size());
    int64_t capacity = fuzzCapacity(need);
    size_t room = capacity > 0 ? size_t(capacity) : 0;
    std::vector<int32_t> out(room + 4, kSentinel);
    bool valid = !nullTok && !nullText && capacity >= 0 &&
                 (!nullOut || capacity == 0);
    apifuzz::clearError();
    int64_t got = tfc_tokenize(nullTok ? nullptr : tokenizer(),
                               nullText ? nullptr : text.data(), text.size(),
                               nullOut ? nullptr : out.data(), capacity);
    apifuzz::checkResult(got < 0, valid, "tfc_tokenize", "FuzzRuntimeApi");
    if (valid && got != need)
      fail("tfc_tokenize counted " + std::to_string(got) + " ids for " +
           std::to_string(need) + " bytes");
    bool wrote = valid && got <= capacity && !nullOut;
    for (size_t k = 0; k < out.size(); ++k) {
      int32_t want = wrote && k < size_t(need)
                         ? int32_t(static_cast<unsigned char>(text[k]))
                         : kSentinel;
      if (out[k] != want)
        fail("tfc_tokenize: id " + std::to_string(k) + " is " +
             std::to_string(out[k]) + ", expected " + std::to_string(want) +
             " (capacity " + std::to_string(capacity) + ")");
    }
  }

  // tfc_detokenize: the text of byte ids is the bytes.
  void detokenize() {
    int64_t n = fdp.ConsumeIntegralInRange(0, 9) == 0
                    ? -fdp.ConsumeIntegralInRange<int64_t>(1, 3)
                    : fdp.ConsumeIntegralInRange<int64_t>(0, 40);
    std::vector<int32_t> ids(size_t(std::max<int64_t>(n, 0)) + 1);
    bool inRange = true;
    for (int64_t k = 0; k < n; ++k) {
      ids[size_t(k)] = fuzzToken(fdp, vocab);
      inRange = inRange && ids[size_t(k)] >= 0 && ids[size_t(k)] < vocab;
    }
    bool nullTok = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullIds = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullOut = fdp.ConsumeIntegralInRange(0, 7) == 0;
    int64_t need = std::max<int64_t>(n, 0) + 1;
    int64_t capacity = std::max<int64_t>(fuzzCapacity(need), 0);
    std::vector<char> out(size_t(capacity) + 4, kByteSentinel);
    bool valid = !nullTok && n >= 0 && (!nullIds || n == 0) &&
                 (!nullOut || capacity == 0) && inRange;
    apifuzz::clearError();
    int64_t got = tfc_detokenize(nullTok ? nullptr : tokenizer(),
                                 nullIds ? nullptr : ids.data(), n,
                                 nullOut ? nullptr : out.data(),
                                 size_t(capacity));
    apifuzz::checkResult(got < 0, valid, "tfc_detokenize", "FuzzRuntimeApi");
    if (valid && got != n)
      fail("tfc_detokenize: " + std::to_string(got) + " bytes for " +
           std::to_string(n) + " ids");
    bool wrote = valid && got < capacity && !nullOut;
    for (size_t k = 0; k < out.size(); ++k) {
      char want = !wrote || int64_t(k) > n ? kByteSentinel
                  : int64_t(k) == n        ? '\0'
                                           : char(ids[k]);
      if (out[k] != want)
        fail("tfc_detokenize: byte " + std::to_string(k) +
             " is wrong (capacity " + std::to_string(capacity) + ")");
    }
  }

  struct Pieces {
    std::string text;
    int calls = 0, stopAfter = 0;
  };
  static int onPiece(const char *piece, size_t len, void *user) {
    Pieces *p = static_cast<Pieces *>(user);
    if (piece[len] != '\0')
      fail("tfc_generate: a piece is not NUL-terminated");
    p->text.append(piece, len);
    ++p->calls;
    return p->stopAfter && p->calls >= p->stopAfter;
  }

  // tfc_generate on one context with fuzzed parameters.
  void generate() {
    int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
    std::string prompt;
    switch (fdp.ConsumeIntegralInRange(0, 7)) {
    case 0:
      break; // empty
    case 1:
      prompt.assign(size_t(maxSeq - pos[i] + fdp.ConsumeIntegralInRange(0, 2)),
                    'a');
      break;
    default:
      prompt = fdp.ConsumeRandomLengthString(12);
    }
    // The prompt is a C string: it ends at its first NUL.
    prompt = prompt.c_str();
    bool nullCtx = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullTok = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullPrompt = fdp.ConsumeIntegralInRange(0, 15) == 0;
    bool nullParams = fdp.ConsumeIntegralInRange(0, 7) == 0;
    tfc_generate_params gp = tfc_generate_default_params();
    gp.max_tokens = fdp.ConsumeIntegralInRange(0, 5) == 0
                        ? fdp.ConsumeIntegral<int32_t>()
                        : fdp.ConsumeIntegralInRange<int32_t>(0, 8);
    if (fdp.ConsumeBool()) {
      gp.sampler.temperature = fuzzFloat(fdp);
      gp.sampler.top_k = fdp.ConsumeIntegralInRange(-1, 300);
      gp.sampler.top_p = fdp.ConsumeBool()
                             ? fdp.ConsumeFloatingPointInRange<float>(0, 1)
                             : fuzzFloat(fdp);
    }
    gp.sampler.seed = fdp.ConsumeIntegral<uint64_t>();
    int32_t stops[3];
    for (int32_t &t : stops)
      t = fuzzToken(fdp, vocab);
    gp.num_stop_tokens = fdp.ConsumeIntegralInRange(-1, 3);
    gp.stop_tokens = fdp.ConsumeIntegralInRange(0, 7) == 0 ? nullptr : stops;
    if (nullParams)
      gp = tfc_generate_default_params();
    bool stopsValid = gp.num_stop_tokens >= 0 &&
                      (gp.stop_tokens || gp.num_stop_tokens == 0);
    for (int32_t k = 0; stopsValid && k < gp.num_stop_tokens; ++k)
      stopsValid = stops[k] >= 0 && stops[k] < vocab;
    const tfc_sampler_params &sp = gp.sampler;
    bool samplerValid = std::isfinite(sp.temperature) &&
                        sp.temperature >= 0 && sp.top_k >= 0 &&
                        sp.top_p > 0 && sp.top_p <= 1;
    int64_t n = int64_t(prompt.size());
    bool valid = !nullCtx && !nullTok && !nullPrompt && n >= 1 &&
                 gp.max_tokens >= 0 && stopsValid && samplerValid &&
                 n <= maxSeq - pos[i];
    Pieces pieces;
    pieces.stopAfter = fdp.ConsumeIntegralInRange(0, 3);
    bool withCallback = fdp.ConsumeIntegralInRange(0, 5) != 0;
    apifuzz::clearError();
    int64_t got = tfc_generate(nullCtx ? nullptr : ctx[i],
                               nullTok ? nullptr : tokenizer(),
                               nullPrompt ? nullptr : prompt.c_str(),
                               nullParams ? nullptr : &gp,
                               withCallback ? onPiece : nullptr, &pieces);
    apifuzz::checkResult(got < 0, valid, "tfc_generate", "FuzzRuntimeApi");
    if (got >= 0) {
      int64_t at = tfc_position(ctx[i]);
      int64_t budget = std::min<int64_t>(gp.max_tokens, maxSeq - pos[i] - n);
      if (got > budget || at < pos[i] + n || at > pos[i] + n + got + 1 ||
          at > maxSeq)
        fail("tfc_generate made " + std::to_string(got) + " tokens (budget " +
             std::to_string(budget) + ") and left the context at " +
             std::to_string(at) + " from " + std::to_string(pos[i]) +
             " with a prompt of " + std::to_string(n));
      // One byte a token; all of them unless the callback stopped early.
      bool stoppedEarly = pieces.stopAfter && pieces.calls >= pieces.stopAfter;
      if (withCallback && (int64_t(pieces.text.size()) > got ||
                           (!stoppedEarly && int64_t(pieces.text.size()) != got)))
        fail("tfc_generate handed on " + std::to_string(pieces.text.size()) +
             " bytes for " + std::to_string(got) + " tokens");
      pos[i] = at;
    }
    checkPositions("tfc_generate");
  }

  // Every context must still compute the probe's logits exactly.
  void checkUsable() {
    std::vector<float> out(3 * cols);
    for (int i = 0; i < kContexts; ++i) {
      if (tfc_forward(ctx[i], kProbe, 3, out.data()) != 0)
        fail("probe forward failed after the calls: " +
             std::string(tfc_last_error()));
      if (std::memcmp(out.data(), probeLogits().data(),
                      out.size() * sizeof(float)) != 0)
        fail("context " + std::to_string(i) +
             " computes different probe logits after the calls");
    }
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  probeLogits(); // before any fuzzed call
  FuzzedDataProvider fdp(data, size);
  Harness h(fdp);
  for (int op = 0; op < 48 && fdp.remaining_bytes() > 0; ++op) {
    switch (fdp.ConsumeIntegralInRange(0, 9)) {
    case 0:
    case 1:
      h.append(/*forward=*/false);
      break;
    case 2:
      h.append(/*forward=*/true);
      break;
    case 3: {
      int i = fdp.ConsumeIntegralInRange(0, kContexts - 1);
      tfc_reset(h.ctx[i]);
      h.pos[i] = 0;
      h.checkPositions("tfc_reset");
      break;
    }
    case 4:
      h.decodeBatch();
      break;
    case 5:
      h.tokenize();
      break;
    case 6:
      h.detokenize();
      break;
    case 7:
      h.generate();
      break;
    default:
      h.sample();
    }
  }
  h.checkUsable();
  return 0;
}
