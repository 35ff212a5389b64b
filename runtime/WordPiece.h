//===- WordPiece.h - BERT's WordPiece tokenizer -----------------*- C++ -*-===//
//-*-===//
//
// BERT's tokenizer, loaded from a vocab.txt (one token per line, the id is
// the line number from 0): the same ids as Hugging Face's BertTokenizer
// (BasicTokenizer + WordpieceTokenizer, tokenization_bert.py) for any text,
// including its Unicode handling (cleaning, CJK splitting, lower case and
// accent stripping, punctuation), from tables generated from Python's
// unicodedata by scripts/gen-unicode-tables.py. See docs/tokenizers.md for
// what differs (invalid UTF-8, vocab.txt files the reference loads
// ambiguously). No dependency beyond the standard library; all methods are
// const and safe to call from several threads at once.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_WORDPIECE_H
#define TFC_RUNTIME_WORDPIECE_H

#include "Tokenizer.h"

#include <string>
#include <unordered_map>

namespace tfc {

struct WordPieceOptions {
  /// BERT "uncased": lower-case the text (Python's str.lower()).
  bool lowerCase = true;
  /// Remove accents (NFD, then drop Mn marks). -1: same as lowerCase, as
  /// BERT and HF do when strip_accents is not given; 0: no; 1: yes.
  int stripAccents = -1;
  /// Put spaces around CJK ideographs (HF tokenize_chinese_chars).
  bool splitCJK = true;
  /// The text "[CLS]", "[SEP]", ... is the special token, as HF's
  /// tokenize() does; false: such text is ordinary text.
  bool splitSpecialTokens = true;
  /// A word longer than this (in code points) is one unknown token.
  int maxCharsPerWord = 100;
  std::string unkToken = "[UNK]";
  std::string clsToken = "[CLS]";
  std::string sepToken = "[SEP]";
  std::string padToken = "[PAD]";
  std::string maskToken = "[MASK]";
};

class WordPieceTokenizer final : public Tokenizer {
public:
  /// Null on error, with `error` naming the file (and line). The unknown
  /// token must be in the vocabulary; the other special tokens may be
  /// missing (their id is then -1).
  static std::unique_ptr<WordPieceTokenizer>
  load(const std::string &vocabTxt, const WordPieceOptions &options,
       std::string &error);

  /// The word pieces' ids, without [CLS]/[SEP] (add clsId()/sepId() for a
  /// BERT input, as HF's encode() does). Invalid UTF-8 is dropped (see
  /// docs/tokenizers.md); never fails.
  bool encode(std::string_view text, std::vector<int32_t> &ids,
              std::string &error) const override;
  /// The tokens joined by spaces, continuation pieces ("##ing") glued to
  /// the previous one: HF's convert_tokens_to_string (decode without
  /// clean_up_tokenization_spaces).
  bool decode(const std::vector<int32_t> &ids, std::string &text,
              std::string &error) const override;
  /// The token as written in vocab.txt ("##ing" included).
  bool tokenBytes(int32_t id, std::string &bytes,
                  std::string &error) const override;
  int64_t vocabSize() const override {
    return static_cast<int64_t>(tokens_.size());
  }

  /// The id of a token of the vocabulary, or -1.
  int32_t tokenId(std::string_view token) const;
  int32_t unkId() const { return unkId_; }
  int32_t clsId() const { return clsId_; }
  int32_t sepId() const { return sepId_; }
  int32_t padId() const { return padId_; }
  int32_t maskId() const { return maskId_; }

private:
  WordPieceTokenizer() = default;
  void encodeChunk(std::string_view text, std::vector<int32_t> &ids) const;
  void encodeWord(const std::u32string &word, std::vector<int32_t> &ids) const;

  WordPieceOptions options_;
  bool stripAccents_ = true;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  size_t longestToken_ = 0; // bytes, for bounding the longest-match search
  int32_t unkId_ = -1, clsId_ = -1, sepId_ = -1, padId_ = -1, maskId_ = -1;
  std::vector<std::pair<std::string, int32_t>> specials_;
};

/// BERT's tokenizer with the default options (uncased: lowerCase = true and
/// accents stripped; cased: neither).
std::unique_ptr<Tokenizer> loadWordPieceTokenizer(const std::string &vocabTxt,
                                                  bool lowerCase,
                                                  std::string &error);

} // namespace tfc

#endif // TFC_RUNTIME_WORDPIECE_H
