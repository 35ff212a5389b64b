//===- TfmPasses.h - tfm passes ----------------------------------*- C++
//-*-===//
#ifndef TFC_DIALECT_TFMPASSES_H
#define TFC_DIALECT_TFMPASSES_H

#include "dialect/TfmDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace tfc::tfm {

#define GEN_PASS_DECL
#include "dialect/TfmPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/TfmPasses.h.inc"

} // namespace tfc::tfm

#endif // TFC_DIALECT_TFMPASSES_H
