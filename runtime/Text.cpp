//===- Text.cpp - Tokenizers and text generation of the C API ------------===//
//
// tfc_tokenizer wraps the C++ tokenizers of Tokenizer.h; tfc_generate
// tokenizes a prompt and runs the generation loop of Generate.h, which the
// executable's --max-tokens shares, and hands the text on in complete UTF-8
// pieces.
//
//===----------------------------------------------------------------------===//
#include "tfc_runtime.h"

#include "ApiError.h"
#include "Generate.h"
#include "Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

struct tfc_tokenizer {
  std::unique_ptr<tfc::Tokenizer> impl;
};

namespace tfc {

namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

/// The length of the longest prefix of `s` that does not end inside a UTF-8
/// character: a lead byte among the last three bytes whose sequence is not
/// complete yet is held back. Invalid bytes (stray continuation bytes, 0xC0,
/// 0xC1, 0xF5..0xFF) are never held: they pass through as they are.
size_t completeUtf8(const std::string &s) {
  size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    unsigned char c = static_cast<unsigned char>(s[n - k]);
    if ((c & 0xC0) == 0x80)
      continue; // a continuation byte: look further back
    size_t need = c >= 0xC2 && c <= 0xDF   ? 2
                  : c >= 0xE0 && c <= 0xEF ? 3
                  : c >= 0xF0 && c <= 0xF4 ? 4
                                           : 1;
    return need > k ? n - k : n;
  }
  return n;
}

std::string vocabMismatch(int64_t tokenizerVocab, int64_t modelVocab) {
  return "the tokenizer has " + std::to_string(tokenizerVocab) +
         " tokens, more than the model's vocab of " +
         std::to_string(modelVocab);
}

} // namespace

int64_t generateTokens(tfc_context *ctx, const int32_t *prompt, int64_t n,
                       GenerateLoop &loop) {
  const tfc_model *m = contextModel(ctx);
  if (!m)
    return fail<int64_t>(-1, "context is NULL");
  if (!prompt)
    return fail<int64_t>(-1, "prompt tokens are NULL");
  if (!loop.sampler)
    return fail<int64_t>(-1, "sampler is NULL");
  if (loop.maxTokens < 0)
    return fail<int64_t>(-1, "max_tokens " + std::to_string(loop.maxTokens) +
                                 " is negative");
  int64_t maxSeq = tfc_max_seq(m), pos = tfc_position(ctx);
  if (n > maxSeq - pos)
    return fail<int64_t>(
        -1, "prompt of " + std::to_string(n) + " tokens " +
                (pos ? "after " + std::to_string(pos) + " cached " : "") +
                "exceeds max_seq " + std::to_string(maxSeq));
  int64_t budget = std::min(loop.maxTokens, maxSeq - pos - n);
  std::vector<float> row(static_cast<size_t>(tfc_output_cols(m)));
  loop.sampled = loop.decodeSteps = 0;
  loop.prefillMs = loop.decodeMs = 0;
  auto t0 = std::chrono::steady_clock::now();
  if (tfc_append(ctx, prompt, n, row.data(), 0) != 0)
    return -1;
  loop.prefillMs = msSince(t0);
  int64_t generated = 0;
  for (;;) {
    if (loop.onLogits)
      loop.onLogits(row.data());
    if (loop.sampled == budget)
      break;
    int32_t next = tfc_sampler_next(loop.sampler, row.data());
    if (next < 0)
      return -1;
    ++loop.sampled;
    bool stop = std::find(loop.stopTokens,
                          loop.stopTokens + loop.numStopTokens,
                          next) != loop.stopTokens + loop.numStopTokens;
    if (!stop)
      ++generated;
    if ((loop.onToken && loop.onToken(next, stop) != 0) || stop ||
        loop.sampled == budget)
      break;
    auto t1 = std::chrono::steady_clock::now();
    if (tfc_append(ctx, &next, 1, row.data(), 0) != 0)
      return -1;
    loop.decodeMs += msSince(t1);
    ++loop.decodeSteps;
  }
  return generated;
}

std::unique_ptr<Tokenizer> loadModelTokenizer(const tfc_model *model,
                                              const char *dir,
                                              std::string &error) {
  std::string kind = tfc_model_tokenizer(model);
  std::string name = tfc_model_name(model);
  std::unique_ptr<Tokenizer> impl;
  if (kind == "byte") {
    impl = makeByteTokenizer();
  } else if (kind == "gpt2") {
    if (!dir) {
      error = "model '" + name +
              "' uses the gpt2 tokenizer: path must name the directory of "
              "encoder.json and vocab.bpe, not NULL";
      return nullptr;
    }
    std::string d = dir;
    impl = loadGPT2Tokenizer(d + "/encoder.json", d + "/vocab.bpe", error);
    if (!impl)
      return nullptr;
  } else {
    error = "model '" + name + "' names no tokenizer (spec key `tokenizer:`)";
    return nullptr;
  }
  if (impl->vocabSize() > tfc_vocab(model)) {
    error = vocabMismatch(impl->vocabSize(), tfc_vocab(model));
    return nullptr;
  }
  return impl;
}

} // namespace tfc

extern "C" {

tfc_tokenizer *tfc_tokenizer_load(const tfc_model *model, const char *path) {
  if (!model)
    return tfc::fail<tfc_tokenizer *>(nullptr, "model is NULL");
  try {
    std::string error;
    std::unique_ptr<tfc::Tokenizer> impl =
        tfc::loadModelTokenizer(model, path, error);
    if (!impl)
      return tfc::fail<tfc_tokenizer *>(nullptr, error);
    tfc_tokenizer *t = new tfc_tokenizer;
    t->impl = std::move(impl);
    return t;
  } catch (const std::exception &e) {
    return tfc::fail<tfc_tokenizer *>(
        nullptr, std::string("tokenizer: ") + e.what());
  }
}

void tfc_tokenizer_free(tfc_tokenizer *tokenizer) { delete tokenizer; }

int64_t tfc_tokenize(const tfc_tokenizer *tokenizer, const char *text,
                     size_t len, int32_t *tokens, int64_t capacity) {
  if (!tokenizer)
    return tfc::fail<int64_t>(-1, "tokenizer is NULL");
  if (!text)
    return tfc::fail<int64_t>(-1, "text is NULL");
  if (capacity < 0)
    return tfc::fail<int64_t>(-1, "capacity " + std::to_string(capacity) +
                                      " is negative");
  if (!tokens && capacity > 0)
    return tfc::fail<int64_t>(-1, "tokens is NULL");
  try {
    std::vector<int32_t> ids;
    std::string error;
    if (!tokenizer->impl->encode(std::string_view(text, len), ids, error))
      return tfc::fail<int64_t>(-1, error);
    int64_t count = static_cast<int64_t>(ids.size());
    if (count <= capacity && count > 0)
      std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
    return count;
  } catch (const std::exception &e) {
    return tfc::fail<int64_t>(-1, std::string("tokenize: ") + e.what());
  }
}

int64_t tfc_detokenize(const tfc_tokenizer *tokenizer, const int32_t *tokens,
                       int64_t n, char *text, size_t capacity) {
  if (!tokenizer)
    return tfc::fail<int64_t>(-1, "tokenizer is NULL");
  if (n < 0)
    return tfc::fail<int64_t>(-1, "token count " + std::to_string(n) +
                                      " is negative");
  if (!tokens && n > 0)
    return tfc::fail<int64_t>(-1, "tokens is NULL");
  if (!text && capacity > 0)
    return tfc::fail<int64_t>(-1, "text is NULL");
  try {
    std::vector<int32_t> ids(tokens, tokens + n);
    std::string out, error;
    if (!tokenizer->impl->decode(ids, out, error))
      return tfc::fail<int64_t>(-1, error);
    if (out.size() < capacity) {
      std::memcpy(text, out.data(), out.size());
      text[out.size()] = '\0';
    }
    return static_cast<int64_t>(out.size());
  } catch (const std::exception &e) {
    return tfc::fail<int64_t>(-1, std::string("detokenize: ") + e.what());
  }
}

tfc_generate_params tfc_generate_default_params(void) {
  tfc_generate_params p;
  p.max_tokens = 64;
  p.sampler = tfc_sampler_default_params();
  p.stop_tokens = nullptr;
  p.num_stop_tokens = 0;
  return p;
}

int64_t tfc_generate(tfc_context *ctx, const tfc_tokenizer *tokenizer,
                     const char *prompt, const tfc_generate_params *params,
                     tfc_piece_fn on_piece, void *user) {
  const tfc_model *m = tfc::contextModel(ctx);
  if (!m)
    return tfc::fail<int64_t>(-1, "context is NULL");
  if (!tokenizer)
    return tfc::fail<int64_t>(-1, "tokenizer is NULL");
  if (!prompt)
    return tfc::fail<int64_t>(-1, "prompt is NULL");
  tfc_generate_params defaults = tfc_generate_default_params();
  const tfc_generate_params &p = params ? *params : defaults;
  int64_t vocab = tfc_vocab(m);
  int family = tfc_model_family(m);
  if (family != TFC_FAMILY_DECODER && family != TFC_FAMILY_ENCODER_DECODER)
    return tfc::fail<int64_t>(-1, "model '" + std::string(tfc_model_name(m)) +
                                      "' does not generate: tfc_generate "
                                      "needs a decoder or an "
                                      "encoder-decoder");
  if (p.max_tokens < 0)
    return tfc::fail<int64_t>(-1, "max_tokens " +
                                      std::to_string(p.max_tokens) +
                                      " is negative");
  if (p.num_stop_tokens < 0)
    return tfc::fail<int64_t>(-1, "num_stop_tokens " +
                                      std::to_string(p.num_stop_tokens) +
                                      " is negative");
  if (!p.stop_tokens && p.num_stop_tokens > 0)
    return tfc::fail<int64_t>(-1, "stop_tokens is NULL");
  for (int32_t i = 0; i < p.num_stop_tokens; ++i)
    if (p.stop_tokens[i] < 0 || p.stop_tokens[i] >= vocab)
      return tfc::fail<int64_t>(
          -1, "stop token " + std::to_string(p.stop_tokens[i]) +
                  " is out of range [0, " + std::to_string(vocab) + ")");
  const tfc::Tokenizer &tok = *tokenizer->impl;
  if (tok.vocabSize() > vocab)
    return tfc::fail<int64_t>(-1, tfc::vocabMismatch(tok.vocabSize(), vocab));
  tfc_sampler *sampler = nullptr;
  try {
    std::vector<int32_t> ids;
    std::string error;
    if (!tok.encode(prompt, ids, error))
      return tfc::fail<int64_t>(-1, error);
    if (ids.empty())
      return tfc::fail<int64_t>(-1, "the prompt encodes to no tokens");
    sampler = tfc_sampler_create(vocab, &p.sampler);
    if (!sampler)
      return -1;
    // Bytes of the text not yet handed on: the start of a character whose
    // other bytes come with the next token.
    std::string pending, bytes;
    bool stopped = false;
    tfc::GenerateLoop loop;
    loop.sampler = sampler;
    loop.maxTokens = p.max_tokens;
    loop.stopTokens = p.stop_tokens;
    loop.numStopTokens = p.num_stop_tokens;
    loop.onToken = [&](int32_t id, bool stop) {
      // A stop token prints nothing; an id the tokenizer has no text for
      // (a vocabulary padded past the tokenizer's) neither.
      if (stop || !on_piece || !tok.tokenBytes(id, bytes, error))
        return 0;
      pending += bytes;
      size_t done = tfc::completeUtf8(pending);
      if (done == 0)
        return 0;
      std::string piece = pending.substr(0, done);
      pending.erase(0, done);
      if (on_piece(piece.c_str(), piece.size(), user) != 0)
        stopped = true;
      return stopped ? 1 : 0;
    };
    int64_t made = tfc::generateTokens(ctx, ids.data(),
                                       static_cast<int64_t>(ids.size()), loop);
    tfc_sampler_destroy(sampler);
    sampler = nullptr;
    if (made >= 0 && !stopped && on_piece && !pending.empty())
      on_piece(pending.c_str(), pending.size(), user); // as it is
    return made;
  } catch (const std::exception &e) {
    tfc_sampler_destroy(sampler);
    return tfc::fail<int64_t>(-1, std::string("generate: ") + e.what());
  }
}

} // extern "C"
