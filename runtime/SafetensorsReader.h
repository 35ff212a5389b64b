//===- SafetensorsReader.h - Memory-mapped, validated safetensors -*- C++
//-*-===//
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON (name -> {dtype, shape, data_offsets}, plus an optional
// "__metadata__" object of strings), then the data section. open() maps the
// file read-only and checks everything a later reader would trust (see
// docs/weights.md): after a successful open, data(entry) points at exactly
// numel * itemsize bytes inside the mapping.
//
// Also here: the dtype helpers shared by the reader and the writer (item
// sizes, and float data to and from double with round-to-nearest-even).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_SAFETENSORSREADER_H
#define TFC_RUNTIME_SAFETENSORSREADER_H

#include "Printable.h" // printableText, for the messages of its users

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tfc {

struct SafetensorsEntry {
  std::string name;
  std::string dtype; // "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // data_offsets, relative to the data section
  int64_t numel = 0;
};

class SafetensorsFile {
public:
  /// Opens and validates `path`. On failure returns null and sets `error`
  /// to a message that starts with `path`.
  static std::unique_ptr<SafetensorsFile> open(const std::string &path,
                                               std::string &error);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  /// The tensors in header order.
  const std::vector<SafetensorsEntry> &entries() const { return tensors; }
  const SafetensorsEntry *find(const std::string &name) const;
  /// The entry's bytes, inside the mapping; not necessarily aligned.
  const uint8_t *data(const SafetensorsEntry &entry) const;
  const std::map<std::string, std::string> &metadata() const { return meta; }
  const std::string &path() const { return filePath; }

private:
  SafetensorsFile() = default;

  std::string filePath;
  const uint8_t *mapping = nullptr;
  size_t mappingSize = 0;
  size_t dataStart = 0; // 8 + N
  std::vector<SafetensorsEntry> tensors;
  std::unordered_map<std::string, size_t> byName;
  std::map<std::string, std::string> meta;
};

/// Bytes per element of a safetensors dtype, or 0 if unknown.
int64_t safetensorsItemSize(const std::string &dtype);

/// Converts `count` little-endian elements of a float dtype (F64, F32, F16,
/// BF16) to doubles. False (with `error`) for other dtypes.
bool decodeFloats(const std::string &dtype, const uint8_t *bytes, size_t count,
                  std::vector<double> &out, std::string &error);

/// Converts doubles to little-endian F64/F32/F16/BF16, rounding to nearest
/// even; values beyond the format's range become +-inf.
bool encodeFloats(const std::string &dtype, const double *values, size_t count,
                  std::vector<uint8_t> &out, std::string &error);

double halfBitsToDouble(uint16_t bits);
double bfloat16BitsToDouble(uint16_t bits);
uint16_t doubleToHalfBits(double value);
uint16_t doubleToBFloat16Bits(double value);

} // namespace tfc

#endif // TFC_RUNTIME_SAFETENSORSREADER_H
