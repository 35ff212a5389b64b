//===- Printable.h - Bytes as one line of text ---------------------*- C++ -*-===//
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

} // namespace tfc

#endif // TFC_RUNTIME_PRINTABLE_H
