//===- InterpreterTest.cpp - The reference interpreter on whole models ---===//
//
// Builds the model-level IR of each tiny spec, runs it before and after
// tfm-decompose (model-level kernels vs primitive kernels: two independent
// implementations), and checks the properties the paper's model promises:
// causal decoders ignore later tokens, encoders do not.
//
//===----------------------------------------------------------------------===//
#include "reference/Interpreter.h"
#include "dialect/TfmPasses.h"
#include "lowering/SpecToTfm.h"
#include "spec/SpecParser.h"
#include "weights/InitWeights.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tfc;

namespace {

ModelSpec loadModel(const std::string &name) {
  std::string error;
  auto spec = parseSpecFile(
      std::string(TFC_SOURCE_DIR) + "/models/" + name + ".yaml", error);
  EXPECT_TRUE(spec.has_value()) << error;
  return *spec;
}

RefTensor ids(std::vector<double> v) {
  int64_t n = static_cast<int64_t>(v.size());
  return RefTensor({n}, std::move(v));
}

std::vector<RefTensor> inputsFor(const ModelSpec &spec) {
  switch (spec.family) {
  case Family::Decoder:
    return {ids({3, 1, 4, 1, 5})};
  case Family::Encoder: {
    // The last token is padding: the attention mask excludes it.
    std::vector<RefTensor> in = {ids({3, 1, 4, 1, 5})};
    if (spec.dims.typeVocab > 0)
      in.push_back(ids({0, 0, 0, 1, 1}));
    in.push_back(ids({1, 1, 1, 1, 0}));
    return in;
  }
  case Family::EncoderDecoder:
    return {ids({2, 7, 1, 8}), ids({3, 1, 4})};
  case Family::ViT: {
    const ImageSpec &img = *spec.image;
    RefTensor image({img.height, img.width, img.channels});
    for (int64_t i = 0; i < image.numel(); ++i)
      image[i] = std::sin(0.1 * static_cast<double>(i));
    return {image};
  }
  }
  return {};
}

struct Runner {
  /// stage 0: model-level IR; 1: after tfm-decompose; 2: after tfm-fuse.
  explicit Runner(const ModelSpec &spec, int stage) {
    module = buildModelIR(context, spec);
    EXPECT_TRUE(succeeded(mlir::verify(*module)));
    mlir::PassManager pm(&context);
    if (stage >= 1)
      pm.addPass(tfm::createTfmDecompose());
    if (stage >= 2)
      pm.addPass(tfm::createTfmFuse());
    EXPECT_TRUE(succeeded(pm.run(*module)));
  }
  bool run(const std::map<std::string, RefTensor> &weights,
           const std::vector<RefTensor> &inputs, RefTensor &out,
           std::string &error) {
    return interpret(*module, weights, inputs, out, error);
  }
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

double maxRelativeDifference(const RefTensor &a, const RefTensor &b) {
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst,
                     std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i])));
  return worst;
}

class TinyModel : public ::testing::TestWithParam<const char *> {};

TEST_P(TinyModel, DecomposedIRComputesTheSameOutput) {
  ModelSpec spec = loadModel(GetParam());
  auto weights = initWeights(spec, 11);
  auto inputs = inputsFor(spec);
  Runner modelLevel(spec, 0), primitive(spec, 1);
  RefTensor a, b;
  std::string error;
  ASSERT_TRUE(modelLevel.run(weights, inputs, a, error)) << error;
  ASSERT_TRUE(primitive.run(weights, inputs, b, error)) << error;
  ASSERT_EQ(a.shape, b.shape);
  EXPECT_LT(maxRelativeDifference(a, b), 1e-12);
  // Outputs are finite and not all equal (random weights do something).
  bool varied = false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i]));
    varied |= a[i] != a[0];
  }
  EXPECT_TRUE(varied);
}

INSTANTIATE_TEST_SUITE_P(Models, TinyModel,
                         ::testing::Values("tiny-decoder", "tiny-llama",
                                           "tiny-postnorm", "tiny-sinusoidal",
                                           "tiny-encoder", "tiny-vit",
                                           "tiny-encdec"));

/// Interprets the fused IR (tfm.kernel bodies) of `name` and checks that it
/// computes what the model-level IR does, with no op left outside a kernel;
/// returns the number of kernels.
int expectFusedMatches(const char *name, uint64_t seed) {
  ModelSpec spec = loadModel(name);
  auto weights = initWeights(spec, seed);
  auto inputs = inputsFor(spec);
  Runner modelLevel(spec, 0), fused(spec, 2);
  int kernels = 0, loose = 0;
  fused.module->walk([&](mlir::Operation *op) {
    if (mlir::isa<tfm::KernelOp>(op))
      ++kernels;
    else if (!op->getParentOfType<tfm::KernelOp>() &&
             !mlir::isa<tfm::WeightOp, mlir::func::ReturnOp,
                        mlir::func::FuncOp, mlir::ModuleOp>(op))
      ++loose;
  });
  EXPECT_EQ(loose, 0) << name << ": ops outside every kernel";
  RefTensor a, b;
  std::string error;
  EXPECT_TRUE(modelLevel.run(weights, inputs, a, error)) << error;
  EXPECT_TRUE(fused.run(weights, inputs, b, error)) << error;
  EXPECT_EQ(a.shape, b.shape);
  if (a.shape == b.shape)
    EXPECT_LT(maxRelativeDifference(a, b), 1e-12) << name;
  return kernels;
}

class FusedDecoder : public ::testing::TestWithParam<const char *> {};

// The fused IR (tfm.kernel bodies) computes what the model-level IR does.
TEST_P(FusedDecoder, KernelsComputeTheSameOutput) {
  ModelSpec spec = loadModel(GetParam());
  EXPECT_EQ(expectFusedMatches(GetParam(), 13),
            2 + 5 * spec.dims.nLayers); // embed, 5 per block, head
}

INSTANTIATE_TEST_SUITE_P(Models, FusedDecoder,
                         ::testing::Values("tiny-decoder", "tiny-llama",
                                           "tiny-postnorm", "tiny-sinusoidal"));

class FusedFamily : public ::testing::TestWithParam<const char *> {};

// The other families' groups (embedding norm and key mask, patch and
// classify, cross_q / cross_kv / cross_attention) compute what the
// model-level IR does too.
TEST_P(FusedFamily, KernelsComputeTheSameOutput) {
  EXPECT_GT(expectFusedMatches(GetParam(), 17), 0);
}

INSTANTIATE_TEST_SUITE_P(Models, FusedFamily,
                         ::testing::Values("tiny-encoder", "tiny-vit",
                                           "tiny-encdec"));

/// Row i of the output for tokens `t` with token `changeAt` replaced.
RefTensor runTokens(Runner &r, const std::map<std::string, RefTensor> &w,
                    std::vector<double> t) {
  RefTensor out;
  std::string error;
  EXPECT_TRUE(r.run(w, {ids(std::move(t))}, out, error)) << error;
  return out;
}

TEST(Interpreter, CausalDecoderIgnoresLaterTokens) {
  for (const char *name : {"tiny-decoder", "tiny-llama"}) {
    ModelSpec spec = loadModel(name);
    auto w = initWeights(spec, 3);
    Runner r(spec, 0);
    RefTensor a = runTokens(r, w, {5, 6, 7, 8});
    RefTensor b = runTokens(r, w, {5, 6, 7, 9});
    int64_t v = a.dim(1);
    for (int64_t i = 0; i < 3 * v; ++i)
      ASSERT_EQ(a[i], b[i]) << name << " row " << i / v;
    bool lastChanged = false;
    for (int64_t i = 3 * v; i < 4 * v; ++i)
      lastChanged |= a[i] != b[i];
    EXPECT_TRUE(lastChanged) << name;
  }
}

TEST(Interpreter, EncoderSeesLaterTokens) {
  ModelSpec spec = loadModel("tiny-encoder");
  auto w = initWeights(spec, 3);
  Runner r(spec, 0);
  RefTensor out1, out2;
  std::string error;
  RefTensor ones = ids({1, 1, 1});
  ASSERT_TRUE(r.run(w, {ids({5, 6, 7}), ids({0, 0, 0}), ones}, out1, error))
      << error;
  ASSERT_TRUE(r.run(w, {ids({5, 6, 9}), ids({0, 0, 0}), ones}, out2, error))
      << error;
  EXPECT_NE(out1[0], out2[0]); // token 0 attends to token 2
}

TEST(Interpreter, EncoderMaskHidesPadding) {
  // A padding token (mask 0) changes no other token's output, whatever its
  // id and type; unmasked, the same change does.
  ModelSpec spec = loadModel("tiny-encoder");
  auto w = initWeights(spec, 3);
  Runner r(spec, 0);
  RefTensor a, b, c;
  std::string error;
  RefTensor mask = ids({1, 1, 0});
  ASSERT_TRUE(r.run(w, {ids({5, 6, 7}), ids({0, 1, 0}), mask}, a, error))
      << error;
  ASSERT_TRUE(r.run(w, {ids({5, 6, 60}), ids({0, 1, 1}), mask}, b, error))
      << error;
  ASSERT_TRUE(r.run(w, {ids({5, 6, 60}), ids({0, 1, 1}), ids({1, 1, 1})}, c,
                    error))
      << error;
  int64_t d = a.dim(1);
  for (int64_t i = 0; i < 2 * d; ++i)
    ASSERT_EQ(a[i], b[i]) << "element " << i;
  EXPECT_NE(a[0], c[0]);
}

TEST(Interpreter, RopeMakesPositionMatter) {
  // With RoPE and no learned positions, the same token at two positions
  // gets different outputs only through the rotation.
  ModelSpec spec = loadModel("tiny-llama");
  auto w = initWeights(spec, 5);
  Runner r(spec, 0);
  RefTensor out = runTokens(r, w, {9, 9});
  int64_t v = out.dim(1);
  bool differ = false;
  for (int64_t j = 0; j < v; ++j)
    differ |= out[j] != out[v + j];
  EXPECT_TRUE(differ);
}

TEST(Interpreter, BadInputsAreErrors) {
  ModelSpec spec = loadModel("tiny-decoder");
  auto w = initWeights(spec, 1);
  Runner r(spec, 0);
  RefTensor out;
  std::string error;
  EXPECT_FALSE(r.run(w, {ids({1, 64})}, out, error));
  EXPECT_EQ(error, "token id 64 at position 1 is out of range [0, 64)");
  std::vector<double> many(65, 1.0);
  EXPECT_FALSE(r.run(w, {ids(many)}, out, error));
  EXPECT_EQ(error, "tokens: 65 tokens exceed the model's max_seq of 64");
  EXPECT_FALSE(r.run(w, {}, out, error));
  EXPECT_EQ(error, "expected 1 inputs, found 0");
  auto missing = w;
  missing.erase("layers.1.mlp.w2");
  EXPECT_FALSE(r.run(missing, {ids({1})}, out, error));
  EXPECT_EQ(error, "weight 'layers.1.mlp.w2' [64, 32] is not in the weights");
  auto wrong = w;
  wrong["layers.0.attn.wq"] = RefTensor({32, 16});
  EXPECT_FALSE(r.run(wrong, {ids({1})}, out, error));
  EXPECT_EQ(error, "weight 'layers.0.attn.wq': expected shape [32, 32], "
                   "found [32, 16]");
}

} // namespace
