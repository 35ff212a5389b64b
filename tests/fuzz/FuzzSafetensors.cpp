//===- FuzzSafetensors.cpp - libFuzzer target for safetensors files ------===//
//
// Any bytes become a file (the reader memory-maps paths, not buffers) that
// goes to SafetensorsFile::open. When it opens, open() has promised that
// every entry's data range lies inside the mapping with exactly numel *
// itemsize bytes, and that the non-empty ranges tile the data section (no
// gap, overlap or trailing byte): check that, read all of it (ASan catches a
// range past the mapping's end only as a SEGV, which libFuzzer reports too)
// and decode the floats. Every error must be one line: a string from the
// file is escaped, never copied raw (a NUL would cut the message short).
// Then loadWeights checks the file against a tiny decoder's manifest, in
// the native layout and in whatever layout detectLayout guesses.
//
//===----------------------------------------------------------------------===//
#include "SafetensorsReader.h"
#include "spec/SpecParser.h"
#include "weights/WeightLoader.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// The model the seed corpus was made for (tfc init-weights on this spec,
// native and hf-gpt2 layouts): small enough that a valid file stays a few
// KB, so the fuzzer mutates headers and data alike.
const char *const kTinySpec = R"(name: fuzz-tiny
family: decoder
dims:
  vocab: 16
  d_model: 8
  n_layers: 1
  n_heads: 2
  d_ff: 16
  max_seq: 8
)";

const tfc::ModelSpec &tinySpec() {
  static const tfc::ModelSpec spec = [] {
    std::string error;
    auto parsed = tfc::parseSpecString(kTinySpec, "fuzz-tiny.yaml", error);
    if (!parsed) {
      std::fprintf(stderr, "FuzzSafetensors: bad built-in spec: %s\n",
                   error.c_str());
      std::abort();
    }
    return *parsed;
  }();
  return spec;
}

const std::string &tempPath() {
  static const std::string path =
      "/tmp/tfc_fuzz_st_" + std::to_string(getpid()) + ".safetensors";
  return path;
}

bool writeFile(const std::string &path, const uint8_t *data, size_t size) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

void fail(const char *what, const std::string &detail) {
  std::fprintf(stderr, "FuzzSafetensors: %s: %s\n", what, detail.c_str());
  std::abort();
}

// A message holds no control byte (a tensor name with a NUL or a newline is
// shown escaped).
void checkOneLine(const std::string &error) {
  for (char c : error)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail("error message holds a control byte", error);
}

void checkLoad(const std::string &path, tfc::WeightLayout layout) {
  std::map<std::string, tfc::RefTensor> weights;
  std::string error;
  if (!tfc::loadWeights(tinySpec(), path, layout, weights, error)) {
    if (error.empty())
      fail("loadWeights failed with an empty error", tfc::toString(layout));
    checkOneLine(error);
    return;
  }
  if (weights.empty())
    fail("loadWeights succeeded with no tensors", tfc::toString(layout));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = tempPath();
  if (!writeFile(path, data, size))
    fail("cannot write", path);

  std::string error;
  std::unique_ptr<tfc::SafetensorsFile> file =
      tfc::SafetensorsFile::open(path, error);
  if (!file) {
    if (error.rfind(path, 0) != 0)
      fail("open() error does not start with the path", error);
    checkOneLine(error);
    return 0;
  }

  // open() succeeded, so size >= 8 and 8 + N <= size.
  uint64_t headerLen = 0;
  for (int i = 0; i < 8; ++i)
    headerLen |= static_cast<uint64_t>(data[i]) << (8 * i);
  uint64_t dataSize = size - 8 - headerLen;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const tfc::SafetensorsEntry &entry : file->entries())
    if (entry.end > entry.begin)
      ranges.emplace_back(entry.begin, entry.end);
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto &[begin, end] : ranges) {
    if (begin != covered)
      fail("open() accepted a gap or an overlap between tensors", path);
    covered = end;
  }
  if (covered != dataSize)
    fail("open() accepted data bytes after the last tensor", path);

  volatile uint8_t sink = 0;
  for (const tfc::SafetensorsEntry &entry : file->entries()) {
    int64_t itemSize = tfc::safetensorsItemSize(entry.dtype);
    if (itemSize <= 0 || entry.end < entry.begin ||
        entry.end - entry.begin !=
            static_cast<uint64_t>(entry.numel) * itemSize)
      fail("open() accepted an inconsistent entry", entry.name);
    if (file->find(entry.name) != &entry)
      fail("find() does not return the entry", entry.name);
    const uint8_t *bytes = file->data(entry);
    size_t n = static_cast<size_t>(entry.end - entry.begin);
    if (n && !bytes)
      fail("data() is null for a non-empty entry", entry.name);
    uint8_t acc = 0;
    for (size_t i = 0; i < n; ++i)
      acc ^= bytes[i];
    sink = sink ^ acc;

    std::vector<double> values;
    std::string decodeError;
    bool isFloat = entry.dtype == "F64" || entry.dtype == "F32" ||
                   entry.dtype == "F16" || entry.dtype == "BF16";
    bool decoded =
        tfc::decodeFloats(entry.dtype, bytes, static_cast<size_t>(entry.numel),
                          values, decodeError);
    if (decoded != isFloat)
      fail("decodeFloats disagrees with the dtype", entry.dtype);
    if (decoded && values.size() != static_cast<size_t>(entry.numel))
      fail("decodeFloats returned the wrong count", entry.name);
  }
  (void)sink;

  checkLoad(path, tfc::WeightLayout::Native);
  if (std::optional<tfc::WeightLayout> detected = tfc::detectLayout(*file))
    if (*detected != tfc::WeightLayout::Native)
      checkLoad(path, *detected);
  return 0;
}
