//===- SpecParser.h - YAML model spec to a validated ModelSpec --*- C++ -*-===//
//
// The frontend: reads a YAML model spec (keys in docs/spec.md), fills every
// default, checks that the dimensions are consistent, and returns a
// ModelSpec. Errors come back as one line,
//   FILE:LINE:COL: KEY: expected ..., found ...
// with the 1-based position of the offending node and KEY its dotted path
// (e.g. `dims.n_heads`). Nothing is thrown out of these functions.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_SPEC_SPECPARSER_H
#define TFC_SPEC_SPECPARSER_H

#include "spec/ModelSpec.h"

#include <optional>
#include <string>

namespace tfc {

/// Reads and validates the spec in the file at `path`. On failure returns
/// nullopt and sets `error`.
std::optional<ModelSpec> parseSpecFile(const std::string &path,
                                       std::string &error);

/// Same, for YAML text; `displayName` stands for the file name in messages
/// and becomes ModelSpec::sourcePath.
std::optional<ModelSpec> parseSpecString(const std::string &yamlText,
                                         const std::string &displayName,
                                         std::string &error);

/// The validated spec as YAML with every default filled in; parses back to
/// an equal spec (and prints identically again).
std::string printSpec(const ModelSpec &spec);

} // namespace tfc

#endif // TFC_SPEC_SPECPARSER_H
