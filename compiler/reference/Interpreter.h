//===- Interpreter.h - The reference interpreter ----------------*- C++ -*-===//
//
// Executes tfm IR (model-level or primitive ops) with plain loops in double
// precision: the oracle that every compiled kernel is checked against.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_REFERENCE_INTERPRETER_H
#define TFC_REFERENCE_INTERPRETER_H

#include "reference/RefTensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace tfc {

/// Runs `func.func @forward` of `module` on `inputs` (one tensor per
/// function argument, token ids as exact doubles), binding each tfm.weight
/// by name from `weights`. On a bad input (a token id out of range, a
/// sequence longer than the model allows, a missing or misshapen weight)
/// returns false with a one-line message in `error`.
bool interpret(mlir::ModuleOp module,
               const std::map<std::string, RefTensor> &weights,
               const std::vector<RefTensor> &inputs, RefTensor &output,
               std::string &error);

} // namespace tfc

#endif // TFC_REFERENCE_INTERPRETER_H
