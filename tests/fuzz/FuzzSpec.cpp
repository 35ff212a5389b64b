//===- FuzzSpec.cpp - libFuzzer target for the YAML spec parser ----------===//
//
// Any bytes go to parseSpecString; it must return (never throw, crash or
// hang). A spec that parses is printed, and the printed form must parse
// again and print identically: printSpec promises a fixed point, and a
// mismatch means the printer and the parser disagree about some value.
//
//===----------------------------------------------------------------------===//
#include "spec/SpecParser.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  std::string error;
  std::optional<tfc::ModelSpec> spec =
      tfc::parseSpecString(text, "fuzz.yaml", error);
  if (!spec) {
    // A failure must say why; an empty message is a parser bug.
    if (error.empty()) {
      std::fprintf(stderr, "parseSpecString failed with an empty error\n");
      std::abort();
    }
    return 0;
  }
  std::string printed = tfc::printSpec(*spec);
  std::string error2;
  std::optional<tfc::ModelSpec> again =
      tfc::parseSpecString(printed, "fuzz.yaml", error2);
  if (!again) {
    std::fprintf(stderr,
                 "printed spec does not parse again: %s\n--- printed:\n%s\n",
                 error2.c_str(), printed.c_str());
    std::abort();
  }
  std::string reprinted = tfc::printSpec(*again);
  if (reprinted != printed) {
    std::fprintf(stderr,
                 "printSpec is not a fixed point\n--- first:\n%s\n--- "
                 "second:\n%s\n",
                 printed.c_str(), reprinted.c_str());
    std::abort();
  }
  return 0;
}
