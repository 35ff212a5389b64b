//===- Printable.h - Bytes as one line of text ---------------------*- C++ -*-===//
//
// Two escapes for messages: printableBytes for bytes that may be anything
// (every byte outside printable ASCII as \xHH), printableText for strings
// from a file that are meant as text (UTF-8 passes; control bytes escaped).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_PRINTABLE_H
#define TFC_RUNTIME_PRINTABLE_H

#include <cstdio>
#include <string>
#include <string_view>

namespace tfc {

/// `s` as text for a one-line message: bytes outside printable ASCII (a
/// NUL, a newline, half a UTF-8 sequence from a binary file) as \xHH.
inline std::string printableBytes(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

/// `text` from a file (a tensor name, a metadata key or value) made safe to
/// put in a one-line message: a control byte (below 0x20, or 0x7f) becomes
/// \xHH, except \n, \r and \t, and a backslash becomes \\. Other bytes,
/// UTF-8 included, pass unchanged. Every message that quotes a string from
/// a weights file goes through this, so a NUL cannot cut it short and a
/// newline cannot split it.
inline std::string printableText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace tfc

#endif // TFC_RUNTIME_PRINTABLE_H
