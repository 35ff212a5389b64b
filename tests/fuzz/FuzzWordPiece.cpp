//===- FuzzWordPiece.cpp - libFuzzer target for BERT's WordPiece ----------===//
//
// Any bytes are text for the uncased and the cased tokenizer over
// wordpiece-vocab.txt (365 tokens: English words and pieces, punctuation,
// accented Latin, Greek, Cyrillic, CJK, jamo, Arabic, Devanagari). encode
// must succeed with ids in range, decode must succeed, and encoding the
// decoded text must give the same ids again: every word's pieces join back
// into the word, words and punctuation come back separated by spaces, and
// lower-casing and accent stripping are idempotent (checked for every code
// point by scripts/gen-unicode-tables.py's tables, one code point at a
// time, as the tokenizer applies them).
//
//===----------------------------------------------------------------------===//
#include "WordPiece.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#ifndef TFC_WORDPIECE_VOCAB
#define TFC_WORDPIECE_VOCAB "tests/fuzz/wordpiece-vocab.txt"
#endif

namespace {

[[noreturn]] void fail(const char *name, const char *what,
                       const std::string &detail) {
  std::fprintf(stderr, "FuzzWordPiece (%s): %s: %s\n", name, what,
               detail.c_str());
  std::abort();
}

std::unique_ptr<tfc::WordPieceTokenizer> load(bool lowerCase) {
  tfc::WordPieceOptions options;
  options.lowerCase = lowerCase;
  std::string error;
  auto t = tfc::WordPieceTokenizer::load(TFC_WORDPIECE_VOCAB, options, error);
  if (!t)
    fail(lowerCase ? "uncased" : "cased", "cannot load the vocabulary", error);
  return t;
}

std::string idsText(const std::vector<int32_t> &ids) {
  std::string s;
  for (int32_t id : ids)
    s += std::to_string(id) + " ";
  return s;
}

void check(const tfc::WordPieceTokenizer &t, const std::string &text,
           const char *name) {
  std::vector<int32_t> ids, again;
  std::string error, decoded;
  if (!t.encode(text, ids, error))
    fail(name, "encode failed", error);
  for (int32_t id : ids)
    if (id < 0 || id >= t.vocabSize())
      fail(name, "encode produced an id outside the vocabulary",
           std::to_string(id));
  if (!t.decode(ids, decoded, error))
    fail(name, "decode of encode's ids failed", error);
  if (!t.encode(decoded, again, error))
    fail(name, "encode of the decoded text failed", error);
  if (again != ids)
    fail(name, "encode(decode(ids)) differs",
         "ids " + idsText(ids) + "| again " + idsText(again) + "| decoded \"" +
             decoded + "\"");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const auto uncased = load(true);
  static const auto cased = load(false);
  std::string text(reinterpret_cast<const char *>(data), size);
  check(*uncased, text, "uncased");
  check(*cased, text, "cased");
  return 0;
}
