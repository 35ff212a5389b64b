//===- WeightsTest.cpp - Manifests, layouts, loading, random weights ------===//
//
// Specs are filled in code so these tests do not depend on the YAML
// frontend.
//
//===----------------------------------------------------------------------===//
#include "weights/InitWeights.h"
#include "weights/Layouts.h"
#include "weights/Manifest.h"
#include "weights/WeightLoader.h"

#include "SafetensorsReader.h"
#include "SafetensorsWriter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unistd.h>

using namespace tfc;

namespace {

// initWeights(gpt2Spec(), 42): see InitWeights.DeterministicAndSeeded.
constexpr double kGoldenTokEmbed0 = 0x1.7734d0e10b9f7p-4;
constexpr double kGoldenGamma3 = 0x1.f5aebabcf334ap-1;

using Shape = std::vector<int64_t>;
using Tensors = std::map<std::string, RefTensor>;

ModelSpec gpt2Spec() {
  ModelSpec s;
  s.name = "tiny-gpt";
  s.family = Family::Decoder;
  s.dims = {
      /*vocab=*/50,  /*dModel=*/32,  /*nLayers=*/2, /*nHeads=*/4,
      /*headDim=*/8, /*nKVHeads=*/4, /*dFF=*/64,    /*maxSeq=*/16};
  s.layout = WeightLayout::HFGPT2;
  return s;
}

ModelSpec llamaSpec() {
  ModelSpec s;
  s.name = "tiny-llama";
  s.family = Family::Decoder;
  s.dims = {50, 32, 2, 4, 8, /*nKVHeads=*/2, /*dFF=*/48, 16};
  s.block.norm = NormKind::RMSNorm;
  s.block.attention.bias = false;
  s.block.mlp = {Activation::SiLU, /*gated=*/true, /*bias=*/false};
  s.positions.kind = PositionKind::RoPE;
  s.head.tieEmbeddings = false;
  s.layout = WeightLayout::HFLlama;
  return s;
}

ModelSpec bertSpec() {
  ModelSpec s;
  s.name = "tiny-bert";
  s.family = Family::Encoder;
  s.dims = {50, 32, 2, 4, 8, 4, 64, 16, /*typeVocab=*/2};
  s.block.placement = Placement::Post;
  s.block.attention.causal = false;
  s.block.mlp.activation = Activation::GELU;
  s.head.kind = HeadKind::None;
  s.finalNorm = false;
  s.embeddingNorm = true;
  s.layout = WeightLayout::HFBERT;
  return s;
}

ModelSpec vitSpec() {
  ModelSpec s;
  s.name = "tiny-vit";
  s.family = Family::ViT;
  s.dims = {0, 32, 2, 4, 8, 4, 64, 0};
  s.block.attention.causal = false;
  s.head.kind = HeadKind::Classifier;
  s.head.classes = 5;
  ImageSpec img;
  img.height = 8, img.width = 12, img.channels = 3, img.patch = 4;
  s.image = img;
  s.layout = WeightLayout::HFViT;
  return s;
}

ModelSpec encDecSpec() {
  ModelSpec s;
  s.name = "tiny-t";
  s.family = Family::EncoderDecoder;
  s.dims = {50, 32, 2, 4, 8, 4, 64, 16};
  s.encoder = StackSpec{s.dims, s.block};
  s.encoder->block.attention.causal = false;
  s.decoder = StackSpec{s.dims, s.block};
  s.decoder->dims.nLayers = 1;
  s.layout = WeightLayout::Native;
  return s;
}

std::string tempPath(const std::string &name) {
  const auto *info = testing::UnitTest::GetInstance()->current_test_info();
  return testing::TempDir() + "tfc_w_" + std::to_string(getpid()) + "_" +
         info->name() + "_" + name;
}

const TensorInfo *findInfo(const std::vector<TensorInfo> &m,
                           const std::string &name) {
  for (const TensorInfo &t : m)
    if (t.name == name)
      return &t;
  return nullptr;
}

Shape shapeOf(const std::vector<TensorInfo> &m, const std::string &name) {
  const TensorInfo *t = findInfo(m, name);
  return t ? t->shape : Shape{-1};
}

std::vector<std::string> namesOf(const std::vector<TensorInfo> &m) {
  std::vector<std::string> names;
  for (const TensorInfo &t : m)
    names.push_back(t.name);
  return names;
}

// Writes tensors as F32 under their given names, bypassing layouts, so tests
// can build broken files.
void writeRawF32(const std::string &path,
                 const std::vector<std::pair<std::string, RefTensor>> &ts) {
  std::vector<SafetensorsTensor> file;
  for (const auto &[name, t] : ts) {
    SafetensorsTensor s{name, "F32", t.shape, {}};
    std::string error;
    ASSERT_TRUE(
        encodeFloats("F32", t.data.data(), t.data.size(), s.bytes, error));
    file.push_back(std::move(s));
  }
  std::string error;
  ASSERT_TRUE(writeSafetensors(path, file, {}, error)) << error;
}

std::vector<std::pair<std::string, RefTensor>> asList(const Tensors &m) {
  return {m.begin(), m.end()};
}

double f32(double v) { return static_cast<double>(static_cast<float>(v)); }

// Loaded tensors equal the originals rounded to f32 (relTol 0), or within a
// relative tolerance (f16, bf16).
void expectSameWeights(const Tensors &want, const Tensors &got, double relTol) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto &[name, w] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name;
    const RefTensor &g = it->second;
    ASSERT_EQ(w.shape, g.shape) << name;
    ASSERT_EQ(w.data.size(), g.data.size()) << name;
    for (size_t i = 0; i < w.data.size(); ++i) {
      if (relTol == 0)
        ASSERT_EQ(f32(w.data[i]), g.data[i]) << name << "[" << i << "]";
      else
        ASSERT_NEAR(w.data[i], g.data[i], relTol * std::fabs(w.data[i]) + 1e-7)
            << name << "[" << i << "]";
    }
  }
}

void roundTrip(const ModelSpec &spec, WeightLayout layout, DType dtype,
               double relTol) {
  Tensors native = initWeights(spec, 7);
  std::string path = tempPath(std::string(toString(layout)) + "_" +
                              toString(dtype) + ".safetensors");
  std::string error;
  ASSERT_TRUE(writeWeights(spec, native, layout, dtype, path, error)) << error;
  Tensors loaded;
  ASSERT_TRUE(loadWeights(spec, path, layout, loaded, error)) << error;
  expectSameWeights(native, loaded, relTol);

  auto file = SafetensorsFile::open(path, error);
  ASSERT_NE(file, nullptr) << error;
  EXPECT_EQ(detectLayout(*file), layout);
  EXPECT_EQ(file->metadata().at("tfc.layout"), toString(layout));
  EXPECT_EQ(file->metadata().at("tfc.model"), spec.name);
  EXPECT_EQ(file->metadata().count("format"),
            layout == WeightLayout::Native ? 0u : 1u);
  std::remove(path.c_str());
}

const RefTensor &
layoutTensor(const std::vector<std::pair<std::string, RefTensor>> &ts,
             const std::string &name) {
  for (const auto &[n, t] : ts)
    if (n == name)
      return t;
  static RefTensor none;
  ADD_FAILURE() << "no tensor " << name;
  return none;
}

} // namespace

//===----------------------------------------------------------------------===//
// Manifest
//===----------------------------------------------------------------------===//

TEST(Manifest, SmallDecoder) {
  std::vector<TensorInfo> m = buildManifest(gpt2Spec());
  std::vector<std::string> layer0 = {
      "layers.0.attn_norm.gamma", "layers.0.attn_norm.beta",
      "layers.0.attn.wq",         "layers.0.attn.wk",
      "layers.0.attn.wv",         "layers.0.attn.wo",
      "layers.0.attn.bq",         "layers.0.attn.bk",
      "layers.0.attn.bv",         "layers.0.attn.bo",
      "layers.0.mlp_norm.gamma",  "layers.0.mlp_norm.beta",
      "layers.0.mlp.w1",          "layers.0.mlp.w2",
      "layers.0.mlp.b1",          "layers.0.mlp.b2"};
  std::vector<std::string> names = namesOf(m);
  ASSERT_EQ(names.size(), 2u + 2 * 16 + 2);
  EXPECT_EQ(names[0], "tok_embed");
  EXPECT_EQ(names[1], "pos_embed");
  EXPECT_EQ(std::vector<std::string>(names.begin() + 2, names.begin() + 18),
            layer0);
  EXPECT_EQ(names[18], "layers.1.attn_norm.gamma");
  EXPECT_EQ(names[34], "final_norm.gamma");
  EXPECT_EQ(names[35], "final_norm.beta");
  EXPECT_EQ(shapeOf(m, "tok_embed"), (Shape{50, 32}));
  EXPECT_EQ(shapeOf(m, "pos_embed"), (Shape{16, 32}));
  EXPECT_EQ(shapeOf(m, "layers.1.attn.wo"), (Shape{32, 32}));
  EXPECT_EQ(shapeOf(m, "layers.1.mlp.w1"), (Shape{32, 64}));
  EXPECT_EQ(shapeOf(m, "layers.1.mlp.w2"), (Shape{64, 32}));
  EXPECT_EQ(shapeOf(m, "layers.1.mlp.b1"), (Shape{64}));
  EXPECT_EQ(findInfo(m, "lm_head.w"), nullptr); // tied

  ModelSpec untied = gpt2Spec();
  untied.head.tieEmbeddings = false;
  untied.positions.kind = PositionKind::Sinusoidal;
  m = buildManifest(untied);
  EXPECT_EQ(m.back().name, "lm_head.w");
  EXPECT_EQ(m.back().shape, (Shape{32, 50}));
  EXPECT_EQ(findInfo(m, "pos_embed"), nullptr);
}

TEST(Manifest, GatedGQALlama) {
  std::vector<TensorInfo> m = buildManifest(llamaSpec());
  EXPECT_EQ(namesOf(m), (std::vector<std::string>{"tok_embed",
                                                  "layers.0.attn_norm.gamma",
                                                  "layers.0.attn.wq",
                                                  "layers.0.attn.wk",
                                                  "layers.0.attn.wv",
                                                  "layers.0.attn.wo",
                                                  "layers.0.mlp_norm.gamma",
                                                  "layers.0.mlp.w1",
                                                  "layers.0.mlp.w2",
                                                  "layers.0.mlp.w3",
                                                  "layers.1.attn_norm.gamma",
                                                  "layers.1.attn.wq",
                                                  "layers.1.attn.wk",
                                                  "layers.1.attn.wv",
                                                  "layers.1.attn.wo",
                                                  "layers.1.mlp_norm.gamma",
                                                  "layers.1.mlp.w1",
                                                  "layers.1.mlp.w2",
                                                  "layers.1.mlp.w3",
                                                  "final_norm.gamma",
                                                  "lm_head.w"}));
  EXPECT_EQ(shapeOf(m, "layers.0.attn.wq"), (Shape{32, 32}));
  EXPECT_EQ(shapeOf(m, "layers.0.attn.wk"), (Shape{32, 16})); // Hkv*K
  EXPECT_EQ(shapeOf(m, "layers.0.attn.wv"), (Shape{32, 16}));
  EXPECT_EQ(shapeOf(m, "layers.0.mlp.w3"), (Shape{32, 48}));
  EXPECT_EQ(shapeOf(m, "layers.0.mlp.w2"), (Shape{48, 32}));
  EXPECT_EQ(shapeOf(m, "lm_head.w"), (Shape{32, 50}));

  ModelSpec biased = llamaSpec();
  biased.block.attention.bias = true;
  biased.block.mlp.bias = true;
  m = buildManifest(biased);
  EXPECT_EQ(shapeOf(m, "layers.0.attn.bk"), (Shape{16}));
  EXPECT_EQ(shapeOf(m, "layers.0.attn.bo"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "layers.0.mlp.b3"), (Shape{48}));
}

TEST(Manifest, ViT) {
  std::vector<TensorInfo> m = buildManifest(vitSpec());
  std::vector<std::string> names = namesOf(m);
  ASSERT_GE(names.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 4),
            (std::vector<std::string>{"patch.w", "patch.b", "cls_token",
                                      "pos_embed"}));
  EXPECT_EQ(shapeOf(m, "patch.w"), (Shape{4 * 4 * 3, 32}));
  EXPECT_EQ(shapeOf(m, "patch.b"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "cls_token"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "pos_embed"), (Shape{1 + 2 * 3, 32}));
  EXPECT_EQ(shapeOf(m, "final_norm.beta"), (Shape{32}));
  EXPECT_EQ(names[names.size() - 2], "classifier.w");
  EXPECT_EQ(shapeOf(m, "classifier.w"), (Shape{32, 5}));
  EXPECT_EQ(shapeOf(m, "classifier.b"), (Shape{5}));
  EXPECT_EQ(findInfo(m, "tok_embed"), nullptr);
  EXPECT_EQ(findInfo(m, "lm_head.w"), nullptr);
}

TEST(Manifest, EncoderOnlyBert) {
  std::vector<TensorInfo> m = buildManifest(bertSpec());
  std::vector<std::string> names = namesOf(m);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 5),
            (std::vector<std::string>{"tok_embed", "type_embed", "pos_embed",
                                      "embed_norm.gamma", "embed_norm.beta"}));
  EXPECT_EQ(shapeOf(m, "type_embed"), (Shape{2, 32}));
  EXPECT_EQ(findInfo(m, "final_norm.gamma"), nullptr);
  EXPECT_EQ(names.back(), "layers.1.mlp.b2");
}

TEST(Manifest, EncoderDecoder) {
  std::vector<TensorInfo> m = buildManifest(encDecSpec());
  std::vector<std::string> names = namesOf(m);
  EXPECT_EQ(names[0], "tok_embed");
  EXPECT_EQ(names[1], "encoder.pos_embed");
  EXPECT_EQ(names[2], "decoder.pos_embed");
  EXPECT_EQ(names[3], "encoder.layers.0.attn_norm.gamma");
  EXPECT_EQ(findInfo(m, "pos_embed"), nullptr);
  EXPECT_EQ(shapeOf(m, "encoder.layers.1.attn.wq"), (Shape{32, 32}));
  EXPECT_EQ(findInfo(m, "encoder.layers.0.cross.wq"), nullptr);
  EXPECT_EQ(findInfo(m, "decoder.layers.1.attn.wq"), nullptr); // 1 layer
  EXPECT_EQ(shapeOf(m, "decoder.layers.0.cross_norm.gamma"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "decoder.layers.0.cross_norm.beta"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "decoder.layers.0.cross.wk"), (Shape{32, 32}));
  EXPECT_EQ(shapeOf(m, "decoder.layers.0.cross.bo"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "encoder.final_norm.gamma"), (Shape{32}));
  EXPECT_EQ(shapeOf(m, "decoder.final_norm.beta"), (Shape{32}));
  EXPECT_EQ(findInfo(m, "final_norm.gamma"), nullptr);
  // Decoder layer order: self-attention, cross-attention, MLP.
  auto index = [&](const std::string &n) {
    return std::find(names.begin(), names.end(), n) - names.begin();
  };
  EXPECT_LT(index("decoder.layers.0.attn.bo"),
            index("decoder.layers.0.cross_norm.gamma"));
  EXPECT_LT(index("decoder.layers.0.cross.bo"),
            index("decoder.layers.0.mlp_norm.gamma"));
}

TEST(Manifest, FormatShape) {
  EXPECT_EQ(formatShape({768, 2304}), "[768, 2304]");
  EXPECT_EQ(formatShape({5}), "[5]");
  EXPECT_EQ(formatShape({}), "[]");
}

//===----------------------------------------------------------------------===//
// Random weights
//===----------------------------------------------------------------------===//

TEST(InitWeights, DeterministicAndSeeded) {
  ModelSpec spec = gpt2Spec();
  Tensors a = initWeights(spec, 42), b = initWeights(spec, 42),
          c = initWeights(spec, 43);
  ASSERT_EQ(a.size(), buildManifest(spec).size());
  for (const TensorInfo &info : buildManifest(spec)) {
    const RefTensor &ta = a.at(info.name);
    EXPECT_EQ(ta.shape, info.shape);
    ASSERT_EQ(ta.data.size(), b.at(info.name).data.size());
    EXPECT_EQ(std::memcmp(ta.data.data(), b.at(info.name).data.data(),
                          ta.data.size() * sizeof(double)),
              0)
        << info.name;
    EXPECT_NE(ta.data, c.at(info.name).data) << info.name;
  }
  // Golden values: the generator uses only exact IEEE operations, so these
  // bits are the same on every platform.
  EXPECT_EQ(a.at("tok_embed")[0], kGoldenTokEmbed0);
  EXPECT_EQ(a.at("layers.1.attn_norm.gamma")[3], kGoldenGamma3);
}

TEST(InitWeights, ScalesAndNoise) {
  ModelSpec spec = gpt2Spec();
  Tensors w = initWeights(spec, 1);
  auto stats = [](const RefTensor &t, double &mean, double &sd) {
    mean = 0;
    for (double v : t.data)
      mean += v;
    mean /= static_cast<double>(t.data.size());
    double var = 0;
    for (double v : t.data)
      var += (v - mean) * (v - mean);
    sd = std::sqrt(var / static_cast<double>(t.data.size()));
  };
  double mean, sd;
  stats(w.at("layers.0.mlp.w1"), mean, sd); // 2048 values, N(0, 1/sqrt(32))
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sd, 1.0 / std::sqrt(32.0), 0.02);
  stats(w.at("layers.0.mlp.w2"), mean, sd); // N(0, 1/8 / sqrt(4))
  EXPECT_NEAR(sd, 0.125 / 2.0, 0.01);
  stats(w.at("layers.0.attn_norm.gamma"), mean, sd);
  EXPECT_NEAR(mean, 1.0, 0.06);
  EXPECT_GT(sd, 0.05); // noisy, so tests exercise gamma
  stats(w.at("layers.0.attn.bq"), mean, sd);
  EXPECT_GT(sd, 0.02);
  EXPECT_LT(sd, 0.08);
}

//===----------------------------------------------------------------------===//
// Layouts: write, load, compare
//===----------------------------------------------------------------------===//

TEST(Layouts, NativeRoundTrip) {
  roundTrip(gpt2Spec(), WeightLayout::Native, DType::F32, 0);
  roundTrip(llamaSpec(), WeightLayout::Native, DType::F32, 0);
  roundTrip(vitSpec(), WeightLayout::Native, DType::F32, 0);
  roundTrip(encDecSpec(), WeightLayout::Native, DType::F32, 0);
  roundTrip(gpt2Spec(), WeightLayout::Native, DType::F16, 1e-3);
  roundTrip(gpt2Spec(), WeightLayout::Native, DType::BF16, 8e-3);
}

TEST(Layouts, HFGPT2RoundTrip) {
  roundTrip(gpt2Spec(), WeightLayout::HFGPT2, DType::F32, 0);
  roundTrip(gpt2Spec(), WeightLayout::HFGPT2, DType::F16, 1e-3);
  ModelSpec untied = gpt2Spec();
  untied.head.tieEmbeddings = false;
  roundTrip(untied, WeightLayout::HFGPT2, DType::F32, 0);
}

TEST(Layouts, HFLlamaRoundTrip) {
  roundTrip(llamaSpec(), WeightLayout::HFLlama, DType::F32, 0);
  roundTrip(llamaSpec(), WeightLayout::HFLlama, DType::F16, 1e-3);
}

TEST(Layouts, HFBertRoundTrip) {
  roundTrip(bertSpec(), WeightLayout::HFBERT, DType::F32, 0);
  roundTrip(bertSpec(), WeightLayout::HFBERT, DType::F16, 1e-3);
}

TEST(Layouts, HFViTRoundTrip) {
  roundTrip(vitSpec(), WeightLayout::HFViT, DType::F32, 0);
  roundTrip(vitSpec(), WeightLayout::HFViT, DType::F16, 1e-3);
  ModelSpec bare = vitSpec(); // ViTModel: no "vit." prefix
  bare.head.kind = HeadKind::None;
  roundTrip(bare, WeightLayout::HFViT, DType::F32, 0);
}

TEST(Layouts, GPT2TransformerPrefixAndBuffers) {
  ModelSpec spec = gpt2Spec();
  Tensors native = initWeights(spec, 3);
  std::vector<std::pair<std::string, RefTensor>> hf;
  std::string error;
  ASSERT_TRUE(toLayout(spec, WeightLayout::HFGPT2, native, hf, error)) << error;
  // GPT2LMHeadModel's state dict: "transformer." names, the causal-mask
  // buffers, and the tied lm_head.weight (equal to wte).
  std::vector<std::pair<std::string, RefTensor>> file;
  for (auto &[name, t] : hf)
    file.emplace_back("transformer." + name, t);
  for (int i = 0; i < 2; ++i) {
    std::string h = "transformer.h." + std::to_string(i) + ".attn.";
    file.emplace_back(h + "bias", RefTensor({1, 1, 16, 16}));
    file.emplace_back(h + "masked_bias", RefTensor({}, {-1e4}));
  }
  file.emplace_back("lm_head.weight", layoutTensor(hf, "wte.weight"));
  std::string path = tempPath("prefixed.safetensors");
  writeRawF32(path, file);
  Tensors loaded;
  ASSERT_TRUE(loadWeights(spec, path, WeightLayout::HFGPT2, loaded, error))
      << error;
  expectSameWeights(native, loaded, 0);

  // A tied lm_head.weight that is not wte is refused.
  file.back().second[5] += 1.0;
  writeRawF32(path, file);
  EXPECT_FALSE(loadWeights(spec, path, WeightLayout::HFGPT2, loaded, error));
  EXPECT_EQ(error, path + ": tensor 'lm_head.weight' differs from "
                          "'transformer.wte.weight', but the spec ties the "
                          "embeddings (head.tie_embeddings: true)");
  std::remove(path.c_str());
}

TEST(Layouts, GPT2FusedQKV) {
  ModelSpec spec = gpt2Spec();
  Tensors native = initWeights(spec, 5);
  std::vector<std::pair<std::string, RefTensor>> hf;
  std::string error;
  ASSERT_TRUE(toLayout(spec, WeightLayout::HFGPT2, native, hf, error)) << error;
  const RefTensor &w = layoutTensor(hf, "h.1.attn.c_attn.weight");
  ASSERT_EQ(w.shape, (Shape{32, 96})); // Conv1D: [in, 3 D]
  const RefTensor &wq = native.at("layers.1.attn.wq");
  const RefTensor &wk = native.at("layers.1.attn.wk");
  const RefTensor &wv = native.at("layers.1.attn.wv");
  for (int64_t r : {0, 7, 31}) {
    EXPECT_EQ(w[r * 96 + 0], wq[r * 32 + 0]);
    EXPECT_EQ(w[r * 96 + 31], wq[r * 32 + 31]);
    EXPECT_EQ(w[r * 96 + 32], wk[r * 32 + 0]);
    EXPECT_EQ(w[r * 96 + 45], wk[r * 32 + 13]);
    EXPECT_EQ(w[r * 96 + 64], wv[r * 32 + 0]);
    EXPECT_EQ(w[r * 96 + 95], wv[r * 32 + 31]);
  }
  const RefTensor &b = layoutTensor(hf, "h.1.attn.c_attn.bias");
  ASSERT_EQ(b.shape, (Shape{96}));
  EXPECT_EQ(b[3], native.at("layers.1.attn.bq")[3]);
  EXPECT_EQ(b[32 + 3], native.at("layers.1.attn.bk")[3]);
  EXPECT_EQ(b[64 + 3], native.at("layers.1.attn.bv")[3]);
  // Conv1D c_proj / c_fc are [in, out] like native: no transpose.
  EXPECT_EQ(layoutTensor(hf, "h.0.mlp.c_fc.weight").data,
            native.at("layers.0.mlp.w1").data);
  EXPECT_EQ(layoutTensor(hf, "h.0.ln_1.bias").data,
            native.at("layers.0.attn_norm.beta").data);
  EXPECT_EQ(layoutTensor(hf, "wpe.weight").data, native.at("pos_embed").data);
}

TEST(Layouts, LinearWeightsAreTransposed) {
  ModelSpec spec = llamaSpec();
  Tensors native = initWeights(spec, 5);
  std::vector<std::pair<std::string, RefTensor>> hf;
  std::string error;
  ASSERT_TRUE(toLayout(spec, WeightLayout::HFLlama, native, hf, error))
      << error;
  const RefTensor &k =
      layoutTensor(hf, "model.layers.0.self_attn.k_proj.weight");
  ASSERT_EQ(k.shape, (Shape{16, 32}));                 // nn.Linear [out, in]
  const RefTensor &wk = native.at("layers.0.attn.wk"); // [32, 16]
  EXPECT_EQ(k[3 * 32 + 20], wk[20 * 16 + 3]);
  const RefTensor &gate =
      layoutTensor(hf, "model.layers.1.mlp.gate_proj.weight");
  const RefTensor &up = layoutTensor(hf, "model.layers.1.mlp.up_proj.weight");
  const RefTensor &down =
      layoutTensor(hf, "model.layers.1.mlp.down_proj.weight");
  ASSERT_EQ(gate.shape, (Shape{48, 32}));
  ASSERT_EQ(down.shape, (Shape{32, 48}));
  EXPECT_EQ(gate[5 * 32 + 2], native.at("layers.1.mlp.w1")[2 * 48 + 5]);
  EXPECT_EQ(up[5 * 32 + 2], native.at("layers.1.mlp.w3")[2 * 48 + 5]);
  EXPECT_EQ(down[2 * 48 + 5], native.at("layers.1.mlp.w2")[5 * 32 + 2]);
  const RefTensor &head = layoutTensor(hf, "lm_head.weight");
  ASSERT_EQ(head.shape, (Shape{50, 32}));
  EXPECT_EQ(head[49 * 32 + 1], native.at("lm_head.w")[1 * 50 + 49]);
  EXPECT_EQ(layoutTensor(hf, "model.norm.weight").data,
            native.at("final_norm.gamma").data);
}

TEST(Layouts, ViTPatchConvolution) {
  ModelSpec spec = vitSpec();
  Tensors native = initWeights(spec, 5);
  std::vector<std::pair<std::string, RefTensor>> hf;
  std::string error;
  ASSERT_TRUE(toLayout(spec, WeightLayout::HFViT, native, hf, error)) << error;
  const RefTensor &conv =
      layoutTensor(hf, "vit.embeddings.patch_embeddings.projection.weight");
  ASSERT_EQ(conv.shape, (Shape{32, 3, 4, 4})); // [D, C, P, P]
  const RefTensor &pw = native.at("patch.w");  // [(row, col, ch), D]
  for (int64_t d : {0, 17})
    for (int64_t c : {0, 2})
      for (int64_t y : {1, 3})
        for (int64_t x : {0, 2})
          EXPECT_EQ(conv[((d * 3 + c) * 4 + y) * 4 + x],
                    pw[((y * 4 + x) * 3 + c) * 32 + d]);
  EXPECT_EQ(layoutTensor(hf, "vit.embeddings.cls_token").shape,
            (Shape{1, 1, 32}));
  EXPECT_EQ(layoutTensor(hf, "vit.embeddings.position_embeddings").shape,
            (Shape{1, 7, 32}));
  const RefTensor &cls = layoutTensor(hf, "classifier.weight");
  ASSERT_EQ(cls.shape, (Shape{5, 32}));
  EXPECT_EQ(cls[4 * 32 + 9], native.at("classifier.w")[9 * 5 + 4]);
  EXPECT_EQ(layoutTensor(hf, "vit.encoder.layer.1.layernorm_after.bias").data,
            native.at("layers.1.mlp_norm.beta").data);
}

TEST(Layouts, BertNamesAndOptionalPrefix) {
  ModelSpec spec = bertSpec();
  Tensors native = initWeights(spec, 9);
  std::vector<std::pair<std::string, RefTensor>> hf;
  std::string error;
  ASSERT_TRUE(toLayout(spec, WeightLayout::HFBERT, native, hf, error)) << error;
  EXPECT_EQ(
      layoutTensor(hf, "encoder.layer.0.attention.output.LayerNorm.weight")
          .data,
      native.at("layers.0.attn_norm.gamma").data);
  EXPECT_EQ(layoutTensor(hf, "embeddings.token_type_embeddings.weight").data,
            native.at("type_embed").data);
  // BertForPreTraining-style file: "bert." prefix, pooler and cls heads,
  // the position_ids buffer; all but the weights are skipped.
  std::vector<std::pair<std::string, RefTensor>> file;
  for (auto &[name, t] : hf)
    file.emplace_back("bert." + name, t);
  file.emplace_back("bert.pooler.dense.weight", RefTensor({32, 32}));
  file.emplace_back("bert.embeddings.position_ids", RefTensor({1, 16}));
  file.emplace_back("cls.predictions.bias", RefTensor({50}));
  std::string path = tempPath("bert.safetensors");
  writeRawF32(path, file);
  Tensors loaded;
  ASSERT_TRUE(loadWeights(spec, path, WeightLayout::HFBERT, loaded, error))
      << error;
  expectSameWeights(native, loaded, 0);
  std::remove(path.c_str());
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

class WeightErrors : public testing::Test {
protected:
  ModelSpec spec = gpt2Spec();
  Tensors native = initWeights(spec, 11);
  std::string path = tempPath("bad.safetensors");
  std::string error;
  Tensors loaded;

  void TearDown() override { std::remove(path.c_str()); }

  // Writes `ts` raw and expects loading in `layout` to fail with `message`.
  void expectError(const std::vector<std::pair<std::string, RefTensor>> &ts,
                   WeightLayout layout, const std::string &message) {
    writeRawF32(path, ts);
    EXPECT_FALSE(loadWeights(spec, path, layout, loaded, error));
    EXPECT_EQ(error, path + ": " + message);
  }
};

TEST_F(WeightErrors, WrongShapeNative) {
  native["layers.0.attn.wq"] = RefTensor({32, 16});
  expectError(asList(native), WeightLayout::Native,
              "tensor 'layers.0.attn.wq': expected shape [32, 32], found "
              "[32, 16]");
}

TEST_F(WeightErrors, WrongShapeUsesFileNames) {
  std::vector<std::pair<std::string, RefTensor>> hf;
  ASSERT_TRUE(toLayout(spec, WeightLayout::HFGPT2, native, hf, error));
  for (auto &[name, t] : hf)
    if (name == "h.1.attn.c_attn.weight")
      t = RefTensor({32, 64});
  expectError(hf, WeightLayout::HFGPT2,
              "tensor 'h.1.attn.c_attn.weight': expected shape [32, 96], "
              "found [32, 64]");
}

TEST_F(WeightErrors, MissingTensor) {
  native.erase("layers.1.mlp.b2");
  expectError(asList(native), WeightLayout::Native,
              "missing tensor 'layers.1.mlp.b2' (expected shape [32], layout "
              "'native')");
}

TEST_F(WeightErrors, ExtraTensor) {
  native["layers.0.attn.extra"] = RefTensor({2});
  expectError(asList(native), WeightLayout::Native,
              "unexpected tensor 'layers.0.attn.extra' (not a weight of "
              "model 'tiny-gpt' in layout 'native')");
  // lm_head.w of a tied model is an extra tensor too.
  native.erase("layers.0.attn.extra");
  native["lm_head.w"] = RefTensor({32, 50});
  expectError(asList(native), WeightLayout::Native,
              "unexpected tensor 'lm_head.w' (not a weight of model "
              "'tiny-gpt' in layout 'native')");
}

TEST_F(WeightErrors, ControlCharactersInNamesAreEscaped) {
  // A NUL would cut the message short, a newline would split it.
  native[std::string("layers.0.attn.x") + '\0' + "y\nz"] = RefTensor({2});
  expectError(asList(native), WeightLayout::Native,
              "unexpected tensor 'layers.0.attn.x\\x00y\\nz' (not a weight "
              "of model 'tiny-gpt' in layout 'native')");
}

TEST_F(WeightErrors, LayoutMismatch) {
  expectError(asList(native), WeightLayout::HFGPT2,
              "the tensor names are those of layout 'native', but the spec "
              "says weights.layout: 'hf-gpt2'");
}

TEST_F(WeightErrors, NonFloatDType) {
  std::string path2 = path;
  std::vector<SafetensorsTensor> file;
  for (const auto &[name, t] : native) {
    SafetensorsTensor s{name, "F32", t.shape, {}};
    ASSERT_TRUE(
        encodeFloats("F32", t.data.data(), t.data.size(), s.bytes, error));
    if (name == "pos_embed")
      s.dtype = "I32";
    file.push_back(std::move(s));
  }
  ASSERT_TRUE(writeSafetensors(path2, file, {}, error)) << error;
  EXPECT_FALSE(loadWeights(spec, path2, WeightLayout::Native, loaded, error));
  EXPECT_EQ(error, path2 + ": tensor 'pos_embed': dtype I32 is not a float "
                           "type (F64, F32, F16, BF16)");
}

TEST_F(WeightErrors, LayoutCannotExpressModel) {
  ModelSpec gated = gpt2Spec();
  gated.block.mlp.gated = true;
  std::vector<std::pair<std::string, RefTensor>> out;
  EXPECT_FALSE(
      toLayout(gated, WeightLayout::HFGPT2, initWeights(gated, 1), out, error));
  EXPECT_EQ(error, "model 'tiny-gpt': layout 'hf-gpt2' has no name for "
                   "tensor 'layers.0.mlp.w3'; use layout 'native'");

  ModelSpec t5 = encDecSpec();
  EXPECT_FALSE(writeWeights(t5, initWeights(t5, 1), WeightLayout::HFLlama,
                            DType::F32, path, error));
  EXPECT_EQ(error, path + ": model 'tiny-t': layout 'hf-llama' cannot hold "
                          "an encoder-decoder model; use layout 'native'");

  native.erase("final_norm.beta");
  EXPECT_FALSE(toLayout(spec, WeightLayout::Native, native, out, error));
  EXPECT_EQ(error, "model 'tiny-gpt': missing native tensor "
                   "'final_norm.beta'");
}
