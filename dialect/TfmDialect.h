//===- TfmDialect.h - The tfm dialect and its ops ----------------*- C++
//-*-===//
#ifndef TFC_DIALECT_TFMDIALECT_H
#define TFC_DIALECT_TFMDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/TfmDialect.h.inc"
#include "dialect/TfmEnums.h.inc"

#define GET_OP_CLASSES
#include "dialect/TfmOps.h.inc"

#endif // TFC_DIALECT_TFMDIALECT_H
