//===- ApiFuzz.h - Pieces the C API fuzzers share ------------------------===//
//
// FuzzRuntimeApi (a decoder) and FuzzEncDecApi (an encoder-decoder) drive a
// compiled model's C API with fuzzed programs of calls; these are the parts
// that do not depend on the model's family. Messages name the fuzzer.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_FUZZ_APIFUZZ_H
#define TFC_FUZZ_APIFUZZ_H

#include "ApiError.h"
#include "tfc_runtime.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace apifuzz {

/// Aborts (a libFuzzer finding) with "NAME: what".
[[noreturn]] inline void fail(const char *fuzzer, const std::string &what) {
  std::fprintf(stderr, "%s: %s\n", fuzzer, what.c_str());
  std::abort();
}

/// The weights at `path`, loaded once; a load error is a finding.
inline const tfc_weights *loadOnce(const tfc_model *model, const char *path,
                                   const char *fuzzer) {
  static const tfc_weights *w = [&] {
    tfc_weights *loaded = tfc_weights_load(model, path);
    if (!loaded)
      fail(fuzzer, std::string("cannot load ") + path + ": " +
                       tfc_last_error());
    return loaded;
  }();
  return w;
}

/// Token ids: mostly valid, sometimes just outside or far outside.
inline int32_t fuzzToken(FuzzedDataProvider &fdp, int64_t vocab) {
  switch (fdp.ConsumeIntegralInRange(0, 7)) {
  case 0:
    return -1;
  case 1:
    return int32_t(vocab);
  case 2:
    return fdp.ConsumeIntegral<int32_t>();
  default:
    return fdp.ConsumeIntegralInRange<int32_t>(0, int32_t(vocab - 1));
  }
}

/// Empties tfc_last_error(), so that checkResult can tell whether the next
/// call left a message.
inline void clearError() { tfc::setLastError(""); }

/// A call's result against the API model's prediction: success exactly on
/// valid input, and a failure always says why (in tfc_last_error(), emptied
/// by clearError() before the call).
inline void checkResult(int rc, bool valid, const char *call,
                        const char *fuzzer) {
  if (valid && rc != 0)
    fail(fuzzer, std::string(call) +
                     " failed on valid input: " + tfc_last_error());
  if (!valid && rc == 0)
    fail(fuzzer, std::string(call) + " succeeded on invalid input");
  if (!valid && tfc_last_error()[0] == '\0')
    fail(fuzzer, std::string(call) + " failed without an error message");
}

} // namespace apifuzz

#endif // TFC_FUZZ_APIFUZZ_H
