//===- Generate.h - The generation loop shared by the API and main -*- C++ -*-===//
//
// The tokenizer loader and the loop that samples and appends tokens, for both tfc_generate (Text.cpp) and
// the executable's --max-tokens (tfc_main.cpp), so that the two give the
// same tokens for the same options and seed. Internal: not part of the C
// API.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_GENERATE_H
#define TFC_RUNTIME_GENERATE_H

#include "tfc_runtime.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace tfc {

class Tokenizer;

/// The model's own tokenizer (tfc_model_tokenizer): "byte" needs no files,
/// "gpt2" reads encoder.json and vocab.bpe from `dir`. NULL with `error`
/// for a model without one, a missing or bad file, or a tokenizer with
/// more ids than the model's vocabulary. tfc_tokenizer_load and the
/// executable's --prompt both load through it.
std::unique_ptr<Tokenizer> loadModelTokenizer(const tfc_model *model,
                                              const char *dir,
                                              std::string &error);

/// The model a context runs (NULL for a NULL context).
const tfc_model *contextModel(const tfc_context *ctx);

/// One generation: what to do and what happened.
struct GenerateLoop {
  tfc_sampler *sampler = nullptr; // made for tfc_vocab(model)
  int64_t maxTokens = 0;          // >= 0
  const int32_t *stopTokens = nullptr;
  int64_t numStopTokens = 0;
  /// Each sampled token, in order; `stop`: it is one of the stop tokens
  /// (generation ends after it). A non-zero return ends generation.
  std::function<int(int32_t id, bool stop)> onToken;
  /// Optional: every row of logits sampling reads (the prompt's last row,
  /// then one per appended token).
  std::function<void(const float *row)> onLogits;
  // Results.
  int64_t sampled = 0;     // tokens sampled, a stop token included
  int64_t decodeSteps = 0; // one-token appends
  double prefillMs = 0, decodeMs = 0;
};

/// Appends the n prompt tokens at the context's position (all_rows = 0),
/// then samples up to min(maxTokens, max_seq - position) tokens, appending
/// each but the last. Returns the number of tokens generated (a stop token
/// excluded), or -1 with tfc_last_error() set.
int64_t generateTokens(tfc_context *ctx, const int32_t *prompt, int64_t n,
                       GenerateLoop &loop);

} // namespace tfc

#endif // TFC_RUNTIME_GENERATE_H
