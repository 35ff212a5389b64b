//===- ApiError.cpp - The C API's one error convention --------------------===//
#include "ApiError.h"

#include "tfc_runtime.h"

namespace {
thread_local char lastError[1024];
} // namespace

namespace tfc {
void setLastError(const char *message) {
  size_t n = 0;
  for (; message && message[n] && n + 1 < sizeof lastError; ++n)
    lastError[n] = message[n] == '\n' ? ' ' : message[n];
  lastError[n] = '\0';
}
} // namespace tfc

extern "C" {
const char *tfc_last_error(void) { return lastError; }
int tfc_api_version(void) { return TFC_API_VERSION; }
}
