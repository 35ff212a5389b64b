//===- JsonParser.cpp - A small strict JSON parser
//-------------------------===//
//
// Recursive descent over a string_view. Every error carries the byte offset
// where the input stopped making sense, so a broken safetensors header can be
// found with a hex dump.
//
//===----------------------------------------------------------------------===//
#include "JsonParser.h"

#include <charconv>
#include <cstdio>
#include <unordered_set>

namespace tfc {

const JsonValue *JsonValue::get(std::string_view key) const {
  for (const auto &member : object)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const char *toString(JsonValue::Kind kind) {
  switch (kind) {
  case JsonValue::Kind::Null:
    return "null";
  case JsonValue::Kind::Bool:
    return "boolean";
  case JsonValue::Kind::Int:
    return "integer";
  case JsonValue::Kind::Double:
    return "number";
  case JsonValue::Kind::String:
    return "string";
  case JsonValue::Kind::Array:
    return "array";
  case JsonValue::Kind::Object:
    return "object";
  }
  return "?";
}

namespace {

class Parser {
public:
  explicit Parser(std::string_view input) : text(input) {}

  bool parseDocument(JsonValue &out) {
    skipSpace();
    if (!parseValue(out, 0))
      return false;
    skipSpace();
    if (pos != text.size())
      return fail("unexpected trailing characters after the JSON value");
    return true;
  }

  std::string error;

private:
  std::string_view text;
  size_t pos = 0;

  bool fail(const std::string &what) {
    error = "byte " + std::to_string(pos) + ": " + what;
    return false;
  }
  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return text[pos]; }

  void skipSpace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      ++pos;
  }

  static std::string describe(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f)
      return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", u);
    return buf;
  }

  bool parseValue(JsonValue &out, int depth) {
    if (atEnd())
      return fail("unexpected end of input, expected a value");
    char c = peek();
    switch (c) {
    case '{':
      return parseObject(out, depth + 1);
    case '[':
      return parseArray(out, depth + 1);
    case '"':
      out.kind = JsonValue::Kind::String;
      return parseString(out.stringValue);
    case 't':
      return parseLiteral("true", out, JsonValue::Kind::Bool, true);
    case 'f':
      return parseLiteral("false", out, JsonValue::Kind::Bool, false);
    case 'n':
      return parseLiteral("null", out, JsonValue::Kind::Null, false);
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(out);
      return fail("unexpected character " + describe(c) + ", expected a value");
    }
  }

  bool parseLiteral(std::string_view word, JsonValue &out, JsonValue::Kind kind,
                    bool value) {
    if (text.substr(pos, word.size()) != word)
      return fail("invalid literal, expected '" + std::string(word) + "'");
    pos += word.size();
    out.kind = kind;
    out.boolValue = value;
    return true;
  }

  bool parseObject(JsonValue &out, int depth) {
    if (depth > kJsonMaxDepth)
      return fail("nesting deeper than " + std::to_string(kJsonMaxDepth));
    out.kind = JsonValue::Kind::Object;
    ++pos; // '{'
    skipSpace();
    if (!atEnd() && peek() == '}') {
      ++pos;
      return true;
    }
    std::unordered_set<std::string> seen;
    while (true) {
      skipSpace();
      if (atEnd() || peek() != '"')
        return fail(atEnd()
                        ? "unexpected end of input, expected a key"
                        : "expected a string key, found " + describe(peek()));
      size_t keyPos = pos;
      std::string key;
      if (!parseString(key))
        return false;
      if (!seen.insert(key).second) {
        pos = keyPos;
        return fail("duplicate key " + jsonQuote(key));
      }
      skipSpace();
      if (atEnd() || peek() != ':')
        return fail(atEnd() ? "unexpected end of input, expected ':'"
                            : "expected ':', found " + describe(peek()));
      ++pos;
      skipSpace();
      out.object.emplace_back(std::move(key), JsonValue());
      if (!parseValue(out.object.back().second, depth))
        return false;
      skipSpace();
      if (atEnd())
        return fail("unexpected end of input, expected ',' or '}'");
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}', found " + describe(peek()));
    }
  }

  bool parseArray(JsonValue &out, int depth) {
    if (depth > kJsonMaxDepth)
      return fail("nesting deeper than " + std::to_string(kJsonMaxDepth));
    out.kind = JsonValue::Kind::Array;
    ++pos; // '['
    skipSpace();
    if (!atEnd() && peek() == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      out.array.emplace_back();
      if (!parseValue(out.array.back(), depth))
        return false;
      skipSpace();
      if (atEnd())
        return fail("unexpected end of input, expected ',' or ']'");
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']', found " + describe(peek()));
    }
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xc0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xe0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      s += static_cast<char>(0xf0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  bool parseHex4(uint32_t &value) {
    if (pos + 4 > text.size())
      return fail("unexpected end of input in \\u escape");
    value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos + i];
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else {
        pos += i;
        return fail("invalid hex digit " + describe(c) + " in \\u escape");
      }
      value = value * 16 + digit;
    }
    pos += 4;
    return true;
  }

  // One UTF-8 sequence starting at pos, copied to `s`. Rejects overlong
  // forms, surrogates and code points above U+10FFFF.
  bool copyUtf8(std::string &s) {
    unsigned char lead = static_cast<unsigned char>(peek());
    int extra;
    uint32_t cp, min;
    if (lead >= 0xc2 && lead <= 0xdf) {
      extra = 1, cp = lead & 0x1f, min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      extra = 2, cp = lead & 0x0f, min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      extra = 3, cp = lead & 0x07, min = 0x10000;
    } else {
      return fail("invalid UTF-8 byte " + describe(peek()) + " in string");
    }
    if (pos + extra >= text.size())
      return fail("truncated UTF-8 sequence in string");
    for (int i = 1; i <= extra; ++i) {
      unsigned char c = static_cast<unsigned char>(text[pos + i]);
      if ((c & 0xc0) != 0x80)
        return fail("invalid UTF-8 sequence in string");
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return fail("invalid UTF-8 sequence in string");
    s.append(text.data() + pos, extra + 1);
    pos += extra + 1;
    return true;
  }

  bool parseString(std::string &s) {
    ++pos; // opening quote
    s.clear();
    while (true) {
      if (atEnd())
        return fail("unterminated string");
      char c = peek();
      unsigned char u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (u < 0x20)
        return fail("unescaped control character " + describe(c) +
                    " in string");
      if (u >= 0x80) {
        if (!copyUtf8(s))
          return false;
        continue;
      }
      if (c != '\\') {
        s += c;
        ++pos;
        continue;
      }
      ++pos; // backslash
      if (atEnd())
        return fail("unterminated escape in string");
      char e = peek();
      ++pos;
      switch (e) {
      case '"':
        s += '"';
        break;
      case '\\':
        s += '\\';
        break;
      case '/':
        s += '/';
        break;
      case 'b':
        s += '\b';
        break;
      case 'f':
        s += '\f';
        break;
      case 'n':
        s += '\n';
        break;
      case 'r':
        s += '\r';
        break;
      case 't':
        s += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
          pos -= 6;
          return fail("unpaired low surrogate in \\u escape");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
          // A high surrogate must be followed by an escaped low surrogate.
          if (text.substr(pos, 2) != "\\u") {
            pos -= 6;
            return fail("unpaired high surrogate in \\u escape");
          }
          pos += 2;
          uint32_t low;
          if (!parseHex4(low))
            return false;
          if (low < 0xdc00 || low > 0xdfff) {
            pos -= 6;
            return fail("high surrogate not followed by a low surrogate");
          }
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        appendUtf8(s, cp);
        break;
      }
      default:
        pos -= 2; // point at the backslash
        // A control byte is shown as 0x.., so the message stays one line.
        return fail("invalid escape " +
                    (static_cast<unsigned char>(e) >= 0x20 &&
                             static_cast<unsigned char>(e) < 0x7f
                         ? "\\" + std::string(1, e)
                         : "\\ followed by " + describe(e)) +
                    " in string");
      }
    }
  }

  bool parseNumber(JsonValue &out) {
    size_t start = pos;
    bool isInteger = true;
    if (peek() == '-')
      ++pos;
    if (atEnd() || !isDigit(peek()))
      return fail("expected a digit");
    if (peek() == '0') {
      ++pos;
      if (!atEnd() && isDigit(peek()))
        return fail("leading zeros are not allowed");
    } else {
      while (!atEnd() && isDigit(peek()))
        ++pos;
    }
    if (!atEnd() && peek() == '.') {
      isInteger = false;
      ++pos;
      if (atEnd() || !isDigit(peek()))
        return fail("expected a digit after '.'");
      while (!atEnd() && isDigit(peek()))
        ++pos;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      isInteger = false;
      ++pos;
      if (!atEnd() && (peek() == '+' || peek() == '-'))
        ++pos;
      if (atEnd() || !isDigit(peek()))
        return fail("expected a digit in the exponent");
      while (!atEnd() && isDigit(peek()))
        ++pos;
    }
    const char *first = text.data() + start, *last = text.data() + pos;
    if (isInteger) {
      out.kind = JsonValue::Kind::Int;
      auto [ptr, ec] = std::from_chars(first, last, out.intValue);
      if (ec == std::errc::result_out_of_range || ptr != last) {
        pos = start;
        return fail("integer " + std::string(first, last) +
                    " does not fit in 64 bits");
      }
      return true;
    }
    out.kind = JsonValue::Kind::Double;
    // from_chars ignores the locale, unlike strtod.
    auto [ptr, ec] = std::from_chars(first, last, out.doubleValue);
    if (ec == std::errc::result_out_of_range || ptr != last) {
      pos = start;
      return fail("number " + std::string(first, last) + " is out of range");
    }
    return true;
  }

  static bool isDigit(char c) { return c >= '0' && c <= '9'; }
};

} // namespace

bool parseJson(std::string_view text, JsonValue &out, std::string &error) {
  Parser parser(text);
  out = JsonValue();
  if (parser.parseDocument(out))
    return true;
  error = parser.error;
  return false;
}

std::string jsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (u < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", u);
        out += buf;
      } else {
        out += c;
      }
    }
  }
  out += '"';
  return out;
}

} // namespace tfc
