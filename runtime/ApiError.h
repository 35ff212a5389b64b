//===- ApiError.h - The C API's one error convention ---------------*- C++ -*-===//
//
// Every failing call of tfc_runtime.h leaves a one-line message for
// tfc_last_error(), per thread, and returns NULL or a non-zero status.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_APIERROR_H
#define TFC_RUNTIME_APIERROR_H

#include <string>

namespace tfc {

/// Sets the calling thread's tfc_last_error() message (newlines become
/// spaces; at most 1023 bytes are kept). Allocates nothing: the calls that
/// promise no allocation (tfc_forward, ...) fail through it too.
void setLastError(const char *message);
inline void setLastError(const std::string &message) {
  setLastError(message.c_str());
}

/// setLastError(message), then `result`: `return fail(nullptr, "...")`.
template <typename T> T fail(T result, const std::string &message) {
  setLastError(message);
  return result;
}

} // namespace tfc

#endif // TFC_RUNTIME_APIERROR_H
