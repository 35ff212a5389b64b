//===- SafetensorsWriter.cpp - Writing safetensors files
//-------------------===//
#include "SafetensorsWriter.h"

#include "JsonParser.h"
#include "SafetensorsReader.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

namespace tfc {

namespace {

bool writeAll(std::FILE *f, const void *data, size_t size) {
  return size == 0 || std::fwrite(data, 1, size, f) == size;
}

} // namespace

bool writeSafetensors(const std::string &path,
                      const std::vector<SafetensorsTensor> &tensors,
                      const std::map<std::string, std::string> &metadata,
                      std::string &error) {
  // Header first: it also checks every tensor before a byte is written.
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (auto it = metadata.begin(); it != metadata.end(); ++it)
      header += (it == metadata.begin() ? "" : ",") + jsonQuote(it->first) +
                ":" + jsonQuote(it->second);
    header += "}";
    first = false;
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const SafetensorsTensor &t : tensors) {
    std::string where = path + ": tensor '" + t.name + "'";
    if (t.name == "__metadata__" || !names.insert(t.name).second) {
      error = where + ": duplicate or reserved tensor name";
      return false;
    }
    int64_t itemSize = safetensorsItemSize(t.dtype);
    if (itemSize == 0) {
      error = where + ": unknown dtype '" + t.dtype + "'";
      return false;
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) {
        error = where + ": negative dimension " + std::to_string(d);
        return false;
      }
      numel *= static_cast<uint64_t>(d);
    }
    if (t.bytes.size() != numel * static_cast<uint64_t>(itemSize)) {
      error = where + ": has " + std::to_string(t.bytes.size()) +
              " bytes, but its shape of " + t.dtype + " needs " +
              std::to_string(numel * itemSize);
      return false;
    }
    header += (first ? "" : ",") + jsonQuote(t.name) + ":{\"dtype\":\"" +
              t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
    first = false;
  }
  header += "}";
  // Pad with spaces (valid JSON whitespace) so the data section starts at a
  // multiple of 8 and a mapped F64/I64 tensor at offset 0 is aligned.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string tmp = path + ".tmp";
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = tmp + ": cannot create: " + std::strerror(errno);
    return false;
  }
  uint8_t lengthBytes[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    lengthBytes[i] = static_cast<uint8_t>(n >> (8 * i));
  bool ok =
      writeAll(f, lengthBytes, 8) && writeAll(f, header.data(), header.size());
  for (size_t i = 0; ok && i < tensors.size(); ++i)
    ok = writeAll(f, tensors[i].bytes.data(), tensors[i].bytes.size());
  int savedErrno = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    savedErrno = errno;
  }
  if (!ok) {
    error = tmp + ": write failed: " + std::strerror(savedErrno);
    std::remove(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": cannot rename " + tmp + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

} // namespace tfc
