//===- TuningFile.h - Per-kernel schedule parameters on disk ----*- C++ -*-===//
//
// `tfc tune` writes, and `tfc compile --tuning FILE` reads, one line per
// kernel whose schedule differs from the target's default:
//
//   # comments start with '#', anywhere on a line; blank lines are ignored
//   tfk_mlp_up_ln_e1em05_d768_f3072_gelu_tanh_bias panel=64 tile_rows=6
//   tfk_attention_h12_kv12_k64_causal query_tile=4  # N=1: 0.21 -> 0.18 ms
//
// The first word is the kernel's base symbol (baseSymbol() in
// fusion/KernelAttr.h: the symbol with its storage type and without
// schedule parameters, so a file tuned for int8 weights does not apply to
// f32 ones). Then one or more KEY=VALUE words, each key at most once:
//   panel       columns of a matrix product's register tile and of a packed
//               weight panel (only when the matrices are packed)
//   tile_rows   rows of that register tile
//   query_tile  attention: query rows per score tile
// Values are integers in [1, 4096]. A kernel appears at most once. Kernels
// the file does not name keep their defaults; names that match no kernel
// of the model are ignored (the file may serve several models).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_TUNING_TUNINGFILE_H
#define TFC_TUNING_TUNINGFILE_H

#include "fusion/KernelAttr.h"

#include <map>
#include <string>

namespace tfc {

/// Parses the text of a tuning file; `path` only names it in messages
/// ("PATH:LINE: ..."). On error `tuning` is left unchanged.
bool parseTuning(const std::string &text, const std::string &path,
                 std::map<std::string, KernelTuning> &tuning,
                 std::string &error);

/// Reads and parses the file at `path`, replacing `tuning`'s contents.
bool readTuningFile(const std::string &path,
                    std::map<std::string, KernelTuning> &tuning,
                    std::string &error);

/// The text of a tuning file: `header` lines as comments, then one line per
/// kernel (parameters that are 0 are left out), followed by "  # NOTE" when
/// `notes` has one for that kernel.
std::string formatTuning(const std::map<std::string, KernelTuning> &tuning,
                         const std::string &header = "",
                         const std::map<std::string, std::string> &notes = {});

/// Writes formatTuning(...) to `path` atomically: a temporary file in the
/// same directory, renamed into place, so a failed write leaves the old file.
bool writeTuningFile(const std::string &path,
                     const std::map<std::string, KernelTuning> &tuning,
                     std::string &error, const std::string &header = "",
                     const std::map<std::string, std::string> &notes = {});

} // namespace tfc

#endif // TFC_TUNING_TUNINGFILE_H
