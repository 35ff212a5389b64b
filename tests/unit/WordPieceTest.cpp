//===- WordPieceTest.cpp - BERT's WordPiece tokenizer ---------------------===//
//
// A 41-line vocab.txt written by the test, and the ids HF's BertTokenizer
// gives for each text (derived by hand from tokenization_bert.py and
// checked against a line-by-line Python port of it; see docs/tokenizers.md).
//
//===----------------------------------------------------------------------===//
#include "WordPiece.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace {

using Ids = std::vector<int32_t>;

// Line k (from 0) is token id k; line 35 is empty (it keeps its id).
const char *const kVocab[] = {
    "[PAD]", "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "the", "un",
    "##aff", "##able", "hello", "world", ",",      "!",   ".",
    "cafe",  "elan",   "Café",  "É",     "##lan",  "中",  "国",
    "a",     "##b",    "##c",   "'",     "s",      "don", "t",
    "##s",   "i",      "ᄒ",    "##ᅡ",  "##ᆫ",   "σ",   "ab",
    "",      "ασ",     "ας",    "=",     "$",      "café"};

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "tfc_wordpiece_" + name;
}

std::string vocabPath() {
  static const std::string path = [] {
    std::string text;
    for (const char *token : kVocab)
      text += std::string(token) + "\n";
    std::string p = tempPath("vocab.txt");
    writeFile(p, text);
    return p;
  }();
  return path;
}

std::unique_ptr<tfc::WordPieceTokenizer>
load(bool lowerCase, int stripAccents = -1, bool splitSpecial = true) {
  tfc::WordPieceOptions options;
  options.lowerCase = lowerCase;
  options.stripAccents = stripAccents;
  options.splitSpecialTokens = splitSpecial;
  std::string error;
  auto t = tfc::WordPieceTokenizer::load(vocabPath(), options, error);
  EXPECT_TRUE(t) << error;
  return t;
}

Ids encode(const tfc::Tokenizer &t, std::string_view text) {
  Ids ids{999};
  std::string error;
  EXPECT_TRUE(t.encode(text, ids, error)) << error;
  return ids;
}

const tfc::WordPieceTokenizer &uncased() {
  static auto t = load(true);
  return *t;
}
const tfc::WordPieceTokenizer &cased() {
  static auto t = load(false);
  return *t;
}

TEST(WordPiece, VocabularyAndSpecialIds) {
  EXPECT_EQ(uncased().vocabSize(), 41);
  EXPECT_EQ(uncased().padId(), 0);
  EXPECT_EQ(uncased().unkId(), 1);
  EXPECT_EQ(uncased().clsId(), 2);
  EXPECT_EQ(uncased().sepId(), 3);
  EXPECT_EQ(uncased().maskId(), 4);
  EXPECT_EQ(uncased().tokenId("##able"), 8);
  EXPECT_EQ(uncased().tokenId("able"), -1);
  EXPECT_EQ(uncased().tokenId(""), -1); // the empty line matches nothing
}

TEST(WordPiece, PlainWordsAndContinuations) {
  EXPECT_EQ(encode(uncased(), "hello world"), (Ids{9, 10}));
  EXPECT_EQ(encode(uncased(), "unaffable"), (Ids{6, 7, 8}));
  EXPECT_EQ(encode(uncased(), "The unaffable"), (Ids{5, 6, 7, 8}));
  // Longest match first: "ab" then "##b" "##b", never "a" "##b" ...
  EXPECT_EQ(encode(uncased(), "abbb"), (Ids{34, 22, 22}));
  EXPECT_EQ(encode(uncased(), "abc"), (Ids{34, 23}));
  // Cased: "Hello" is not "hello".
  EXPECT_EQ(encode(cased(), "Hello world"), (Ids{1, 10}));
}

TEST(WordPiece, PunctuationSplits) {
  EXPECT_EQ(encode(uncased(), "Hello, world!"), (Ids{9, 11, 10, 12}));
  EXPECT_EQ(encode(uncased(), "don't"), (Ids{26, 24, 27}));
  EXPECT_EQ(encode(uncased(), "hello..."), (Ids{9, 13, 13, 13}));
  EXPECT_EQ(encode(uncased(), "a$a"), (Ids{21, 39, 21})); // ASCII 36
  // U+2014 (Pd) splits and is unknown; U+00B4 (Sk) does not split.
  EXPECT_EQ(encode(uncased(), "hello\xE2\x80\x94world"), (Ids{9, 1, 10}));
  EXPECT_EQ(encode(cased(), "a\xC2\xB4"
                            "a"),
            (Ids{1}));
}

TEST(WordPiece, AccentsAndCase) {
  EXPECT_EQ(encode(uncased(), "Café Élan"), (Ids{14, 15}));
  // Already decomposed (e + U+0301) gives the same.
  EXPECT_EQ(encode(uncased(), "Cafe\xCC\x81"), (Ids{14}));
  EXPECT_EQ(encode(cased(), "Café Élan"), (Ids{16, 17, 18}));
  // Lower case without stripping accents.
  auto keep = load(true, /*stripAccents=*/0);
  EXPECT_EQ(encode(*keep, "CAFÉ"), (Ids{40}));
  // U+2260 decomposes to '=' + U+0338: stripped, it is punctuation.
  EXPECT_EQ(encode(uncased(), "a\xE2\x89\xA0"
                              "a"),
            (Ids{21, 38, 21}));
  // U+0130 lowers to "i" + U+0307; the mark is stripped.
  EXPECT_EQ(encode(uncased(), "\xC4\xB0"), (Ids{29}));
  // HF lower-cases one character at a time: no final sigma.
  EXPECT_EQ(encode(uncased(), "ΑΣ"), (Ids{36}));
  // Hangul syllables decompose to jamo under NFD.
  EXPECT_EQ(encode(uncased(), "한"), (Ids{30, 31, 32}));
  EXPECT_EQ(encode(cased(), "한"), (Ids{1}));
}

TEST(WordPiece, CJKCharactersAreWords) {
  EXPECT_EQ(encode(uncased(), "中国a"), (Ids{19, 20, 21}));
  EXPECT_EQ(encode(uncased(), "a中b"), (Ids{21, 19, 1}));
  EXPECT_EQ(encode(uncased(), "直"), (Ids{1}));
}

TEST(WordPiece, UnknownWords) {
  // A remainder with no piece makes the whole word one [UNK].
  EXPECT_EQ(encode(uncased(), "the abx the"), (Ids{5, 1, 5}));
  EXPECT_EQ(encode(uncased(), "hellox"), (Ids{1}));
  // A word-initial piece is not a continuation: "##b" alone is unknown.
  EXPECT_EQ(encode(uncased(), "b"), (Ids{1}));
}

TEST(WordPiece, LongWords) {
  // 100 code points is still a word; 101 is [UNK].
  Ids hundred{34};
  hundred.insert(hundred.end(), 98, 22);
  EXPECT_EQ(encode(uncased(), "a" + std::string(99, 'b')), hundred);
  EXPECT_EQ(encode(uncased(), "a" + std::string(100, 'b')), (Ids{1}));
  // Counted after accent stripping, as HF: "a" + U+0301 + 99 "b" is 101
  // code points in the text and 100 in the word.
  EXPECT_EQ(encode(uncased(), "a\xCC\x81" + std::string(99, 'b')), hundred);
  tfc::WordPieceOptions options;
  options.maxCharsPerWord = 3;
  std::string error;
  auto t = tfc::WordPieceTokenizer::load(vocabPath(), options, error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(encode(*t, "abb abbb"), (Ids{34, 22, 1}));
}

TEST(WordPiece, ControlAndWhitespace) {
  using namespace std::string_literals;
  EXPECT_EQ(encode(uncased(), "hel\x01lo\x7f wor\xE2\x80\x8B"
                              "ld"),
            (Ids{9, 10})); // Cc and Cf (U+200B) are dropped
  EXPECT_EQ(encode(uncased(), "hel\0lo"s), (Ids{9}));
  EXPECT_EQ(encode(uncased(), "\thello\r\nworld\n"), (Ids{9, 10}));
  // U+00A0 (Zs) and U+2028 (Zl, a separator for Python's str.split).
  EXPECT_EQ(encode(uncased(), "hello\xC2\xA0world"), (Ids{9, 10}));
  EXPECT_EQ(encode(uncased(), "hello\xE2\x80\xA8world"), (Ids{9, 10}));
  // \v and \f are control characters, not whitespace, in BERT.
  EXPECT_EQ(encode(uncased(), "hello\vworld"), (Ids{1}));
}

TEST(WordPiece, InvalidUtf8IsDropped) {
  // Each invalid sequence is U+FFFD (maximal subparts), which cleaning
  // drops: the word closes over it.
  EXPECT_EQ(encode(uncased(), "hel\xFFlo"), (Ids{9}));
  // E2 82 is one truncated sequence; the 'l' after it is kept.
  EXPECT_EQ(encode(uncased(), "wor\xE2\x82ld"), (Ids{10}));
  EXPECT_EQ(encode(uncased(), "wor\xED\xA0\x80ld \xC0\x80hello"), (Ids{10, 9}));
  EXPECT_EQ(encode(uncased(), "hello\xF0\x9F\x98"), (Ids{9}));
  EXPECT_EQ(encode(uncased(), "hel\xEF\xBF\xBDlo"), (Ids{9})); // real U+FFFD
}

TEST(WordPiece, EmptyText) {
  EXPECT_EQ(encode(uncased(), ""), (Ids{}));
  EXPECT_EQ(encode(uncased(), " \t\n\x01 "), (Ids{}));
}

TEST(WordPiece, SpecialTokens) {
  EXPECT_EQ(encode(uncased(), "[CLS] hello[SEP]world [MASK]"),
            (Ids{2, 9, 3, 10, 4}));
  // Case-sensitive, as HF: "[cls]" is text ('[' and ']' are unknown).
  EXPECT_EQ(encode(uncased(), "[cls]"), (Ids{1, 1, 1}));
  auto plain = load(true, -1, /*splitSpecial=*/false);
  EXPECT_EQ(encode(*plain, "[CLS]"), (Ids{1, 1, 1}));
}

TEST(WordPiece, Decode) {
  std::string text, error;
  ASSERT_TRUE(uncased().decode({9, 11, 10, 12}, text, error)) << error;
  EXPECT_EQ(text, "hello , world !");
  ASSERT_TRUE(uncased().decode({2, 6, 7, 8, 3}, text, error)) << error;
  EXPECT_EQ(text, "[CLS] unaffable [SEP]");
  ASSERT_TRUE(uncased().decode({7, 8}, text, error)) << error;
  EXPECT_EQ(text, "##affable"); // a leading continuation keeps its "##"
  ASSERT_TRUE(uncased().decode({}, text, error)) << error;
  EXPECT_EQ(text, "");
  ASSERT_TRUE(uncased().decode({9, 35, 10}, text, error)) << error;
  EXPECT_EQ(text, "hello  world"); // the empty line's token
  EXPECT_FALSE(uncased().decode({9, 41}, text, error));
  EXPECT_EQ(error, "token id 41 is out of range [0, 41)");
  EXPECT_FALSE(uncased().decode({-1}, text, error));
  EXPECT_EQ(error, "token id -1 is out of range [0, 41)");
  std::string bytes;
  ASSERT_TRUE(uncased().tokenBytes(7, bytes, error)) << error;
  EXPECT_EQ(bytes, "##aff");
  EXPECT_FALSE(uncased().tokenBytes(41, bytes, error));
  EXPECT_EQ(error, "token id 41 is out of range [0, 41)");
}

std::string loadError(const std::string &name, const std::string &text) {
  std::string path = tempPath(name);
  writeFile(path, text);
  std::string error;
  EXPECT_FALSE(tfc::loadWordPieceTokenizer(path, true, error));
  EXPECT_EQ(error.rfind(path, 0), 0u) << error; // starts with the file
  return error.substr(path.size());
}

TEST(WordPiece, VocabErrors) {
  std::string error;
  EXPECT_FALSE(
      tfc::loadWordPieceTokenizer(tempPath("missing.txt"), true, error));
  EXPECT_EQ(error, tempPath("missing.txt") +
                       ": cannot open: No such file or directory");
  EXPECT_EQ(loadError("dup.txt", "[UNK]\nthe\na\n\nthe\n"),
            ":5: token \"the\" repeats line 2");
  EXPECT_EQ(loadError("nounk.txt", "the\na\n"),
            ": the unknown token \"[UNK]\" is not in the vocabulary");
  EXPECT_EQ(loadError("empty.txt", ""), ": no tokens (the file is empty)");
  EXPECT_EQ(loadError("utf8.txt", "[UNK]\na\nb\xFF\n"),
            ":3: token is not valid UTF-8: \"b\xFF\"");
  tfc::WordPieceOptions options;
  options.maxCharsPerWord = -1;
  EXPECT_FALSE(tfc::WordPieceTokenizer::load(vocabPath(), options, error));
  EXPECT_EQ(error, vocabPath() + ": maxCharsPerWord must be >= 0, found -1");
}

TEST(WordPiece, VocabLineEnds) {
  // As Python's readlines() in text mode: \n, \r\n and \r end lines; a
  // last line without an end counts; empty lines keep their id.
  std::string path = tempPath("crlf.txt");
  writeFile(path, "[UNK]\r\nhello\r\rworld");
  std::string error;
  auto t = tfc::WordPieceTokenizer::load(path, {}, error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->vocabSize(), 4);
  EXPECT_EQ(encode(*t, "hello world"), (Ids{1, 3}));
  EXPECT_EQ(t->clsId(), -1); // missing special tokens have no id
  // A special token missing from the vocabulary still splits, to [UNK].
  EXPECT_EQ(encode(*t, "hello[CLS]world"), (Ids{1, 0, 3}));
}

} // namespace
