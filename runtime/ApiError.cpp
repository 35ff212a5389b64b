//===- ApiError.cpp - The C API's one error convention --------------------===//
#include "ApiError.h"

#include "tfc_runtime.h"

namespace {
thread_local std::string lastError;
} // namespace

namespace tfc {
void setLastError(const std::string &message) { lastError = message; }
} // namespace tfc

extern "C" {
const char *tfc_last_error(void) { return lastError.c_str(); }
int tfc_api_version(void) { return TFC_API_VERSION; }
}
