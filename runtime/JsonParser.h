//===- JsonParser.h - A small strict JSON parser ------------------*- C++
//-*-===//
//
// Parses the JSON header of a safetensors file (and anything else small the
// runtime needs) without an external library: the runtime links into user
// programs and should pull in nothing. Strict RFC 8259: no comments, no
// trailing commas, no trailing garbage, strings must be valid UTF-8,
// duplicate object keys are rejected (a safetensors header with two entries
// of one name would be ambiguous). Objects keep their insertion order.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_JSONPARSER_H
#define TFC_RUNTIME_JSONPARSER_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tfc {

struct JsonValue {
  enum class Kind { Null, Bool, Int, Double, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolValue = false;
  int64_t intValue = 0;     // Kind::Int: a number without fraction/exponent
  double doubleValue = 0.0; // Kind::Double
  std::string stringValue;  // Kind::String, UTF-8
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;

  bool isObject() const { return kind == Kind::Object; }
  bool isArray() const { return kind == Kind::Array; }
  bool isString() const { return kind == Kind::String; }
  bool isInt() const { return kind == Kind::Int; }
  /// The member `key` of an object, or null if absent (or not an object).
  const JsonValue *get(std::string_view key) const;
};

/// The largest nesting of arrays and objects accepted; deeper input is an
/// error rather than a stack overflow.
constexpr int kJsonMaxDepth = 64;

/// Parses `text` as one JSON value. On failure returns false and sets
/// `error` to "byte <offset>: <what>" (offset from the start of `text`).
bool parseJson(std::string_view text, JsonValue &out, std::string &error);

/// `s` as a JSON string literal, quotes included.
std::string jsonQuote(std::string_view s);

/// The name of a JSON kind for messages ("object", "string", ...).
const char *toString(JsonValue::Kind kind);

} // namespace tfc

#endif // TFC_RUNTIME_JSONPARSER_H
