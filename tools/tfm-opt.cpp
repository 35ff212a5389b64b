//===- tfm-opt.cpp - Runs tfm passes on .mlir files ---------------------===//
//
// mlir-opt for the tfm dialect: parses a file, runs the passes named on the
// command line (e.g. --tfm-decompose, --canonicalize, --cse) and prints
// the result. Used by the lit tests of every pass.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmDialect.h"
#include "dialect/TfmPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<tfc::tfm::TfmDialect, mlir::func::FuncDialect>();
  tfc::tfm::registerTfmPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "tfm optimizer driver\n", registry));
}
