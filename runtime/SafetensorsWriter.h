//===- SafetensorsWriter.h - Writing safetensors files ------------*- C++
//-*-===//
//
// Writes tensors given as raw little-endian bytes. The header is padded with
// spaces so the data section starts 8-byte aligned, and the file appears
// atomically (written to "<path>.tmp", then renamed), so a reader never sees
// half a file.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_SAFETENSORSWRITER_H
#define TFC_RUNTIME_SAFETENSORSWRITER_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tfc {

struct SafetensorsTensor {
  std::string name;
  std::string dtype; // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes; // numel * itemsize, little-endian
};

/// Writes `tensors` (in the given order) and `metadata` to `path`. Checks
/// dtypes, byte counts and duplicate names first.
bool writeSafetensors(const std::string &path,
                      const std::vector<SafetensorsTensor> &tensors,
                      const std::map<std::string, std::string> &metadata,
                      std::string &error);

} // namespace tfc

#endif // TFC_RUNTIME_SAFETENSORSWRITER_H
