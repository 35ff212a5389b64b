//===- TfmDialect.cpp - Registration of the tfm dialect ----------------===//
#include "dialect/TfmDialect.h"

using namespace mlir;
using namespace tfc::tfm;

#include "dialect/TfmDialect.cpp.inc"
#include "dialect/TfmEnums.cpp.inc"

void TfmDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/TfmOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "dialect/TfmOps.cpp.inc"
