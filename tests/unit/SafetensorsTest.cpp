//===- SafetensorsTest.cpp - JSON parser, safetensors reader and writer ---===//
#include "JsonParser.h"
#include "SafetensorsReader.h"
#include "SafetensorsWriter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>

using namespace tfc;

namespace {

// A per-test file path under the test temp dir.
std::string tempPath(const std::string &name) {
  const auto *info = testing::UnitTest::GetInstance()->current_test_info();
  return testing::TempDir() + "tfc_st_" + std::to_string(getpid()) + "_" +
         info->name() + "_" + name;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string lengthPrefix(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A file with `header` as its JSON and `dataBytes` zero bytes of data.
std::string rawFile(const std::string &name, const std::string &header,
                    size_t dataBytes) {
  std::string path = tempPath(name);
  writeBytes(path, lengthPrefix(header.size()) + header +
                       std::string(dataBytes, '\0'));
  return path;
}

// Opening must fail; returns the message.
std::string openError(const std::string &path) {
  std::string error;
  auto file = SafetensorsFile::open(path, error);
  EXPECT_EQ(file, nullptr) << path;
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  std::remove(path.c_str()); // each bad file is opened once
  return error;
}

std::vector<uint8_t> f32Bytes(const std::vector<float> &v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

} // namespace

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

TEST(Json, ParsesAllKindsAndKeepsObjectOrder) {
  JsonValue v;
  std::string error;
  ASSERT_TRUE(parseJson(
      R"( {"z": 1, "a": [true, false, null], "m": -2.5e2, "s": "x"} )", v,
      error))
      << error;
  ASSERT_TRUE(v.isObject());
  ASSERT_EQ(v.object.size(), 4u);
  EXPECT_EQ(v.object[0].first, "z");
  EXPECT_EQ(v.object[1].first, "a");
  EXPECT_EQ(v.object[2].first, "m");
  EXPECT_EQ(v.get("z")->intValue, 1);
  EXPECT_EQ(v.get("z")->kind, JsonValue::Kind::Int);
  const JsonValue *a = v.get("a");
  ASSERT_EQ(a->array.size(), 3u);
  EXPECT_TRUE(a->array[0].boolValue);
  EXPECT_EQ(a->array[1].kind, JsonValue::Kind::Bool);
  EXPECT_FALSE(a->array[1].boolValue);
  EXPECT_EQ(a->array[2].kind, JsonValue::Kind::Null);
  EXPECT_EQ(v.get("m")->kind, JsonValue::Kind::Double);
  EXPECT_EQ(v.get("m")->doubleValue, -250.0);
  EXPECT_EQ(v.get("s")->stringValue, "x");
  EXPECT_EQ(v.get("missing"), nullptr);
}

TEST(Json, StringEscapes) {
  JsonValue v;
  std::string error;
  ASSERT_TRUE(parseJson(R"("q\"b\\s\/\b\f\n\r\t")", v, error)) << error;
  EXPECT_EQ(v.stringValue, "q\"b\\s/\b\f\n\r\t");
  ASSERT_TRUE(parseJson(R"("\u0041\u00e9\u20AC")", v, error)) << error;
  EXPECT_EQ(v.stringValue, "A\xc3\xa9\xe2\x82\xac"); // A, e-acute, euro
  // U+1F600 as a surrogate pair becomes 4 bytes of UTF-8.
  ASSERT_TRUE(parseJson(R"("\uD83D\uDE00")", v, error)) << error;
  EXPECT_EQ(v.stringValue, "\xf0\x9f\x98\x80");
  // Raw UTF-8 passes through.
  ASSERT_TRUE(parseJson("\"\xe2\x82\xac\"", v, error)) << error;
  EXPECT_EQ(v.stringValue, "\xe2\x82\xac");
}

TEST(Json, Errors) {
  struct Case {
    const char *text;
    const char *message;
  } cases[] = {
      {R"("\uD83D")", "byte 1: unpaired high surrogate"},
      {R"("\uDE00")", "byte 1: unpaired low surrogate"},
      {R"("\uD83D\u0041")", "high surrogate not followed by a low surrogate"},
      {R"("\x")", "byte 1: invalid escape \\x"},
      {"\"\\\n\"", "byte 1: invalid escape \\ followed by 0x0a in string"},
      {R"("\u12G4")", "invalid hex digit 'G'"},
      {"\"a\nb\"", "byte 2: unescaped control character 0x0a"},
      {"\"\xc0\x80\"", "invalid UTF-8"},     // overlong NUL
      {"\"\xed\xa0\x80\"", "invalid UTF-8"}, // encoded surrogate
      {"\"\xe2\x82\"", "invalid UTF-8"},     // truncated
      {"{\"a\": 1} x", "byte 9: unexpected trailing characters"},
      {"[1, 2,]", "byte 6: unexpected character ']'"},
      {"{\"a\" 1}", "byte 5: expected ':'"},
      {"{\"a\": 1, \"a\": 2}", "byte 9: duplicate key \"a\""},
      {"01", "leading zeros"},
      {"1.", "expected a digit after '.'"},
      {"tru", "invalid literal, expected 'true'"},
      {"[1", "unexpected end of input, expected ',' or ']'"},
      {"", "byte 0: unexpected end of input, expected a value"},
      {"9223372036854775808", "integer 9223372036854775808 does not fit"},
      {"-9223372036854775809", "does not fit in 64 bits"},
      {"1e999", "number 1e999 is out of range"},
  };
  for (const Case &c : cases) {
    JsonValue v;
    std::string error;
    EXPECT_FALSE(parseJson(c.text, v, error)) << c.text;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.text << " gave: " << error;
  }
}

TEST(Json, IntegerLimits) {
  JsonValue v;
  std::string error;
  ASSERT_TRUE(parseJson("9223372036854775807", v, error)) << error;
  EXPECT_EQ(v.intValue, std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(parseJson("-9223372036854775808", v, error)) << error;
  EXPECT_EQ(v.intValue, std::numeric_limits<int64_t>::min());
}

TEST(Json, DepthLimit) {
  JsonValue v;
  std::string error;
  std::string ok =
      std::string(kJsonMaxDepth, '[') + std::string(kJsonMaxDepth, ']');
  EXPECT_TRUE(parseJson(ok, v, error)) << error;
  std::string deep = "[" + ok + "]";
  EXPECT_FALSE(parseJson(deep, v, error));
  EXPECT_NE(error.find("byte 64: nesting deeper than 64"), std::string::npos)
      << error;
  // Far deeper input must fail cleanly, not overflow the stack.
  std::string veryDeep(100000, '{');
  EXPECT_FALSE(parseJson(veryDeep, v, error));
}

TEST(Json, QuoteRoundTrips) {
  std::string s = "a\"b\\c\n\x01\xe2\x82\xac";
  JsonValue v;
  std::string error;
  ASSERT_TRUE(parseJson(jsonQuote(s), v, error)) << error;
  EXPECT_EQ(v.stringValue, s);
}

//===----------------------------------------------------------------------===//
// Float conversions
//===----------------------------------------------------------------------===//

TEST(DType, ItemSizes) {
  EXPECT_EQ(safetensorsItemSize("F64"), 8);
  EXPECT_EQ(safetensorsItemSize("F32"), 4);
  EXPECT_EQ(safetensorsItemSize("BF16"), 2);
  EXPECT_EQ(safetensorsItemSize("I8"), 1);
  EXPECT_EQ(safetensorsItemSize("BOOL"), 1);
  EXPECT_EQ(safetensorsItemSize("F8_E4M3"), 0);
}

TEST(DType, HalfExactValues) {
  EXPECT_EQ(doubleToHalfBits(1.0), 0x3c00);
  EXPECT_EQ(doubleToHalfBits(-2.5), 0xc100);
  EXPECT_EQ(doubleToHalfBits(65504.0), 0x7bff);
  EXPECT_EQ(doubleToHalfBits(0x1.0p-24), 0x0001); // smallest subnormal
  EXPECT_EQ(doubleToHalfBits(0x1.0p-14), 0x0400); // smallest normal
  EXPECT_EQ(doubleToHalfBits(-0.0), 0x8000);
  EXPECT_EQ(halfBitsToDouble(0x3c00), 1.0);
  EXPECT_EQ(halfBitsToDouble(0xc100), -2.5);
  EXPECT_EQ(halfBitsToDouble(0x7bff), 65504.0);
  EXPECT_EQ(halfBitsToDouble(0x0001), 0x1.0p-24);
  EXPECT_EQ(halfBitsToDouble(0x03ff), 0x3ffp-24); // largest subnormal
  EXPECT_TRUE(std::isinf(halfBitsToDouble(0x7c00)));
  EXPECT_LT(halfBitsToDouble(0xfc00), 0.0);
  EXPECT_TRUE(std::isnan(halfBitsToDouble(0x7e00)));
}

TEST(DType, HalfRoundsToNearestEven) {
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to even (1.0).
  EXPECT_EQ(doubleToHalfBits(1.0 + 0x1.0p-11), 0x3c00);
  // 1 + 3 * 2^-11 is halfway between 0x3c01 and 0x3c02: even is 0x3c02.
  EXPECT_EQ(doubleToHalfBits(1.0 + 3 * 0x1.0p-11), 0x3c02);
  // Just above halfway rounds up.
  EXPECT_EQ(doubleToHalfBits(1.0 + 0x1.0p-11 + 0x1.0p-30), 0x3c01);
  // Half of the smallest subnormal ties to even (zero); a bit more is 1.
  EXPECT_EQ(doubleToHalfBits(0x1.0p-25), 0x0000);
  EXPECT_EQ(doubleToHalfBits(0x1.8p-25), 0x0001);
  EXPECT_EQ(doubleToHalfBits(3 * 0x1.0p-25), 0x0002);
  // 65520 is halfway between 65504 and 65536 (beyond range): inf.
  EXPECT_EQ(doubleToHalfBits(65519.0), 0x7bff);
  EXPECT_EQ(doubleToHalfBits(65520.0), 0x7c00);
  EXPECT_EQ(doubleToHalfBits(1e300), 0x7c00);
  EXPECT_EQ(doubleToHalfBits(-std::numeric_limits<double>::infinity()), 0xfc00);
  uint16_t nan = doubleToHalfBits(std::nan(""));
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // Subnormal rounding up into the smallest normal.
  EXPECT_EQ(doubleToHalfBits(0x1.ffcp-15 + 0x1.0p-26), 0x0400);
}

TEST(DType, BFloat16) {
  EXPECT_EQ(doubleToBFloat16Bits(1.0), 0x3f80);
  EXPECT_EQ(doubleToBFloat16Bits(-2.5), 0xc020);
  EXPECT_EQ(bfloat16BitsToDouble(0x3f80), 1.0);
  EXPECT_EQ(bfloat16BitsToDouble(0xc020), -2.5);
  // 1 + 2^-8 ties to even (1.0); 1 + 3 * 2^-8 ties up to 1 + 2^-6.
  EXPECT_EQ(doubleToBFloat16Bits(1.0 + 0x1.0p-8), 0x3f80);
  EXPECT_EQ(doubleToBFloat16Bits(1.0 + 3 * 0x1.0p-8), 0x3f82);
  EXPECT_EQ(doubleToBFloat16Bits(0x1.0p-133), 0x0001); // smallest subnormal
  EXPECT_EQ(bfloat16BitsToDouble(0x0001), 0x1.0p-133);
  EXPECT_EQ(doubleToBFloat16Bits(1e39), 0x7f80);
  EXPECT_TRUE(std::isinf(bfloat16BitsToDouble(0xff80)));
  EXPECT_TRUE(std::isnan(bfloat16BitsToDouble(doubleToBFloat16Bits(NAN))));
}

TEST(DType, EncodeDecodeArrays) {
  std::vector<double> values = {1.0, -2.5, 0.1, 3e38 * 10};
  std::vector<uint8_t> bytes;
  std::vector<double> back;
  std::string error;
  ASSERT_TRUE(encodeFloats("F32", values.data(), values.size(), bytes, error));
  ASSERT_EQ(bytes.size(), 16u);
  ASSERT_TRUE(decodeFloats("F32", bytes.data(), values.size(), back, error));
  EXPECT_EQ(back[0], 1.0);
  EXPECT_EQ(back[1], -2.5);
  EXPECT_EQ(back[2], static_cast<double>(0.1f));
  EXPECT_TRUE(std::isinf(back[3]));
  ASSERT_TRUE(encodeFloats("F64", values.data(), 3, bytes, error));
  ASSERT_TRUE(decodeFloats("F64", bytes.data(), 3, back, error));
  EXPECT_EQ(back[2], 0.1);
  EXPECT_FALSE(encodeFloats("I32", values.data(), 1, bytes, error));
  EXPECT_EQ(error, "dtype I32 is not a float type (F64, F32, F16, BF16)");
  EXPECT_FALSE(decodeFloats("U8", bytes.data(), 1, back, error));
  EXPECT_EQ(error, "dtype U8 is not a float type (F64, F32, F16, BF16)");
}

//===----------------------------------------------------------------------===//
// Writer and reader
//===----------------------------------------------------------------------===//

TEST(Safetensors, RoundTrip) {
  std::string path = tempPath("rt.safetensors");
  std::vector<SafetensorsTensor> tensors;
  tensors.push_back({"b.weight", "F32", {2, 3}, f32Bytes({1, 2, 3, 4, 5, 6})});
  tensors.push_back({"a", "F16", {2}, {0x00, 0x3c, 0x00, 0xc1}}); // 1, -2.5
  tensors.push_back({"empty", "F32", {0, 4}, {}});
  tensors.push_back({"scalar", "I64", {}, std::vector<uint8_t>(8, 0)});
  tensors[3].bytes[0] = 42;
  tensors.push_back({"odd \"name\"", "U8", {3}, {7, 8, 9}});
  std::string error;
  ASSERT_TRUE(writeSafetensors(path, tensors,
                               {{"format", "pt"}, {"note", "a \"q\""}}, error))
      << error;
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0); // renamed away

  // Header length is a multiple of 8.
  std::ifstream raw(path, std::ios::binary);
  uint8_t len[8];
  raw.read(reinterpret_cast<char *>(len), 8);
  EXPECT_EQ(len[0] % 8, 0);

  auto file = SafetensorsFile::open(path, error);
  ASSERT_NE(file, nullptr) << error;
  ASSERT_EQ(file->entries().size(), 5u);
  EXPECT_EQ(file->entries()[0].name, "b.weight"); // header order
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("note"), "a \"q\"");

  const SafetensorsEntry *b = file->find("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, "F32");
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->numel, 6);
  std::vector<double> values;
  ASSERT_TRUE(decodeFloats(b->dtype, file->data(*b), 6, values, error));
  EXPECT_EQ(values, (std::vector<double>{1, 2, 3, 4, 5, 6}));

  const SafetensorsEntry *a = file->find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(decodeFloats("F16", file->data(*a), 2, values, error));
  EXPECT_EQ(values, (std::vector<double>{1.0, -2.5}));
  EXPECT_EQ(file->find("empty")->numel, 0);
  EXPECT_EQ(file->find("scalar")->shape.size(), 0u);
  EXPECT_EQ(file->data(*file->find("scalar"))[0], 42);
  EXPECT_EQ(file->data(*file->find("odd \"name\""))[2], 9);
  EXPECT_EQ(file->find("nope"), nullptr);
  std::remove(path.c_str());
}

TEST(Safetensors, WriterRejectsBadTensors) {
  std::string path = tempPath("bad.safetensors");
  std::string error;
  EXPECT_FALSE(
      writeSafetensors(path, {{"x", "F32", {2}, {0, 0, 0}}}, {}, error));
  EXPECT_EQ(error, path + ": tensor 'x': has 3 bytes, but its shape of F32 "
                          "needs 8");
  EXPECT_FALSE(writeSafetensors(path, {{"x", "Q4", {1}, {0}}}, {}, error));
  EXPECT_EQ(error, path + ": tensor 'x': unknown dtype 'Q4'");
  EXPECT_FALSE(writeSafetensors(
      path, {{"x", "U8", {1}, {0}}, {"x", "U8", {1}, {0}}}, {}, error));
  EXPECT_NE(error.find("tensor 'x': duplicate"), std::string::npos);
  EXPECT_NE(access(path.c_str(), F_OK), 0); // nothing written
}

TEST(Safetensors, TruncatedFiles) {
  std::string shortPath = tempPath("short");
  writeBytes(shortPath, "abc");
  EXPECT_EQ(openError(shortPath),
            shortPath +
                ": file is 3 bytes, too short for the 8-byte header length");

  std::string past = tempPath("past");
  writeBytes(past, lengthPrefix(100) + "{}");
  EXPECT_EQ(openError(past),
            past + ": header length 100 runs past the end of the file (10 "
                   "bytes)");

  std::string huge = tempPath("huge");
  writeBytes(huge, lengthPrefix(1ull << 40) + "{}");
  EXPECT_NE(openError(huge).find("header length 1099511627776 exceeds the "
                                 "100 MiB limit"),
            std::string::npos);

  // The data section holds 10 of the 24 bytes the offsets promise.
  std::string data = rawFile(
      "data", R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})",
      10);
  EXPECT_EQ(openError(data),
            data + ": tensor 'w': data_offsets [0, 24] run past the end of "
                   "the data section (10 bytes)");

  std::string missing = tempPath("does-not-exist");
  EXPECT_NE(openError(missing).find("cannot open"), std::string::npos);
}

TEST(Safetensors, BadHeaders) {
  std::string json = rawFile("json", R"({"w": [1, 2)", 0);
  EXPECT_EQ(openError(json),
            json + ": header is not valid JSON: byte 11: unexpected end of "
                   "input, expected ',' or ']'");

  std::string arr = rawFile("arr", "[1, 2]", 0);
  EXPECT_EQ(openError(arr),
            arr + ": header is a JSON array, expected an object");

  std::string meta = rawFile("meta", R"({"__metadata__": {"a": 1}})", 0);
  EXPECT_EQ(openError(meta), meta + ": __metadata__ value \"a\" is a "
                                    "integer, expected a string");

  std::string utf = rawFile("utf", "{\"\xff\": 1}", 0);
  EXPECT_NE(openError(utf).find("invalid UTF-8 byte 0xff"), std::string::npos);

  std::string notObj = rawFile("notobj", R"({"w": 3})", 0);
  EXPECT_EQ(openError(notObj),
            notObj + ": tensor 'w': entry is a integer, expected an object "
                     "with dtype, shape and data_offsets");

  std::string extra = rawFile(
      "extra", R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}})",
      4);
  EXPECT_EQ(openError(extra),
            extra + ": tensor 'w': unexpected key \"x\" (expected dtype, "
                    "shape, data_offsets)");

  std::string noShape =
      rawFile("noshape", R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4);
  EXPECT_EQ(openError(noShape), noShape + ": tensor 'w': missing 'shape'");
}

TEST(Safetensors, BadEntries) {
  std::string dtype = rawFile(
      "dtype", R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", 1);
  EXPECT_EQ(openError(dtype),
            dtype + ": tensor 'w': unknown dtype \"F8\" (expected one of F64 "
                    "F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");

  std::string neg = rawFile(
      "neg", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0);
  EXPECT_EQ(openError(neg), neg + ": tensor 'w': shape must be an array of "
                                  "non-negative integers");

  std::string ovf = rawFile(
      "ovf",
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
      0);
  EXPECT_EQ(openError(ovf),
            ovf + ": tensor 'w': shape [4294967296, 4294967296] of F32 has "
                  "more bytes than fit in 64 bits");

  std::string order = rawFile(
      "order", R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[5,4]}})", 8);
  EXPECT_EQ(openError(order),
            order + ": tensor 'w': data_offsets [5, 4] have begin after end");

  std::string size = rawFile(
      "size",
      R"({"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[5,6],"data_offsets":[0,100]}})",
      200);
  EXPECT_EQ(openError(size),
            size + ": tensor 'h.0.attn.c_attn.weight': data_offsets [0, 100] "
                   "hold 100 bytes, but shape [5, 6] of F32 needs 120");

  std::string offs = rawFile(
      "offs", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8);
  EXPECT_EQ(openError(offs), offs + ": tensor 'w': data_offsets must be "
                                    "[begin, end] with non-negative integers");
}

TEST(Safetensors, OverlapsAndEmptyTensors) {
  std::string overlap =
      rawFile("overlap",
              R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
              20);
  EXPECT_EQ(openError(overlap),
            overlap + ": tensor 'b': data_offsets [12, 20] overlap tensor "
                      "'a' [0, 16]");

  // Listed out of order, touching, plus empty tensors at shared offsets.
  std::string ok =
      rawFile("ok",
              R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
              R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},)"
              R"("e2":{"dtype":"BOOL","shape":[3,0],"data_offsets":[8,8]},)"
              R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
              24);
  std::string error;
  auto file = SafetensorsFile::open(ok, error);
  ASSERT_NE(file, nullptr) << error;
  EXPECT_EQ(file->entries().size(), 4u);
  EXPECT_EQ(file->entries()[0].name, "b");
  std::remove(ok.c_str());
}

TEST(Safetensors, NotARegularFile) {
  // A FIFO with no writer: a blocking open would wait forever.
  std::string fifo = tempPath("fifo");
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_EQ(openError(fifo), fifo + ": not a regular file (a FIFO)");

  std::string dir = tempPath("dir");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << std::strerror(errno);
  EXPECT_EQ(openError(dir), dir + ": not a regular file (a directory)");

  // Not through openError, which removes the file.
  std::string error;
  EXPECT_EQ(SafetensorsFile::open("/dev/zero", error), nullptr);
  EXPECT_EQ(error, "/dev/zero: not a regular file (a character device)");
}

TEST(Safetensors, EveryDataByteBelongsToATensor) {
  const char *two =
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})";
  std::string trailing = rawFile("trailing", two, 24 + 64);
  EXPECT_EQ(openError(trailing),
            trailing + ": 64 bytes after the last tensor's data (the data "
                       "section is 88 bytes, its tensors cover 24)");

  std::string gap =
      rawFile("gap",
              R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[20,28]}})",
              28);
  EXPECT_EQ(openError(gap), gap + ": 4 bytes between tensor 'a' [0, 16] and "
                                  "tensor 'b' [20, 28] belong to no tensor");

  std::string leading =
      rawFile("leading",
              R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 16);
  EXPECT_EQ(openError(leading),
            leading + ": 8 bytes before the first tensor's data belong to no "
                      "tensor (tensor 'b' has data_offsets [8, 16])");

  std::string onlyEmpty =
      rawFile("onlyempty",
              R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 4);
  EXPECT_EQ(openError(onlyEmpty),
            onlyEmpty + ": 4 bytes of data, but no tensor holds any (the data "
                        "section must be empty)");

  // Two entries for the same bytes: an overlap, named in a fixed order.
  std::string alias =
      rawFile("alias",
              R"({"z":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
              R"("y":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
              32);
  EXPECT_EQ(openError(alias), alias + ": tensor 'z': data_offsets [0, 16] "
                                      "overlap tensor 'y' [0, 16]");

  // No tensors and no data; the writer's files (RoundTrip) tile too.
  std::string empty = rawFile("empty", "{}", 0);
  std::string error;
  EXPECT_NE(SafetensorsFile::open(empty, error), nullptr) << error;
  std::remove(empty.c_str());
  std::string written = tempPath("written");
  ASSERT_TRUE(writeSafetensors(written,
                               {{"e", "F32", {0}, {}},
                                {"a", "U8", {3}, {1, 2, 3}},
                                {"b", "F64", {1}, std::vector<uint8_t>(8)}},
                               {}, error))
      << error;
  EXPECT_NE(SafetensorsFile::open(written, error), nullptr) << error;
  std::remove(written.c_str());
}

TEST(Safetensors, ControlCharactersInMessagesAreEscaped) {
  EXPECT_EQ(printableText(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printableText("l1\nl2\r\t\x1f\x7f\\ \xe2\x82\xac"),
            "l1\\nl2\\r\\t\\x1f\\x7f\\\\ \xe2\x82\xac");

  // The JSON escape \u0000 puts a NUL in the name; it must not cut the
  // message at "tensor 'a".
  std::string nul = rawFile(
      "nul", R"({"a\u0000b":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})",
      1);
  std::string message = openError(nul);
  EXPECT_EQ(message, nul + ": tensor 'a\\x00b': unknown dtype \"F8\" "
                           "(expected one of F64 F32 F16 BF16 I64 I32 I16 I8 "
                           "U8 BOOL)");
  EXPECT_EQ(message.find('\0'), std::string::npos);

  std::string newline =
      rawFile("newline",
              R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
              R"("b\nc":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
              20);
  EXPECT_EQ(openError(newline), newline +
                                    ": tensor 'b\\nc': data_offsets "
                                    "[12, 20] overlap tensor 'a' [0, 16]");

  std::string meta =
      rawFile("meta", R"({"__metadata__": {"k\u0000\n": 1}})", 0);
  EXPECT_EQ(openError(meta), meta + ": __metadata__ value \"k\\x00\\n\" is a "
                                    "integer, expected a string");

  std::string key = rawFile(
      "key",
      R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x\u0001":1}})",
      4);
  EXPECT_EQ(openError(key), key + ": tensor 'w': unexpected key \"x\\x01\" "
                                  "(expected dtype, shape, data_offsets)");

  std::string dtype = rawFile(
      "dtype", R"({"w":{"dtype":"F\u0000","shape":[1],"data_offsets":[0,1]}})",
      1);
  EXPECT_NE(openError(dtype).find("unknown dtype \"F\\x00\""),
            std::string::npos);
}
