//===- HalideCoexistenceTest.cpp - Halide 14 and MLIR 22 in one process --===//
//
// Halide 14 carries its own LLVM 14; tfc links it beside MLIR/LLVM 22. This
// test builds MLIR IR and JIT-compiles a Halide pipeline in the same
// process, and checks both results, so a symbol clash between the two LLVMs
// shows up here rather than in the kernel generator.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <Halide.h>
#include <gtest/gtest.h>

TEST(HalideCoexistence, MLIRAndHalideJITInOneProcess) {
  mlir::MLIRContext context;
  context.loadDialect<tfc::tfm::TfmDialect, mlir::func::FuncDialect>();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(
      "func.func @f(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {\n"
      "  %y = tfm.softmax %x : tensor<?x4xf32>\n"
      "  return %y : tensor<?x4xf32>\n"
      "}\n",
      &context);
  ASSERT_TRUE(module);
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*module)));

  Halide::Func f("f");
  Halide::Var x("x"), y("y");
  f(x, y) = x * 10 + y * y;
  f.vectorize(x, 8);
  Halide::Buffer<int> out = f.realize({16, 4});
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 16; ++i)
      ASSERT_EQ(out(i, j), i * 10 + j * j);
}
