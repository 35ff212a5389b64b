//===- SpecParserTest.cpp - The YAML spec frontend ------------------------===//
//
// Defaults per family, every error class with its exact message (position
// included), the shipped models/*.yaml, and print -> parse round trips.
//
//===----------------------------------------------------------------------===//
#include "spec/SpecParser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <dirent.h>
#include <fstream>

using namespace tfc;

namespace {

std::optional<ModelSpec> parse(const std::string &yaml, std::string &err) {
  return parseSpecString(yaml, "t.yaml", err);
}

ModelSpec parseOk(const std::string &yaml) {
  std::string err;
  std::optional<ModelSpec> s = parse(yaml, err);
  EXPECT_TRUE(s.has_value()) << err;
  return s ? *s : ModelSpec();
}

std::string errorOf(const std::string &yaml) {
  std::string err;
  std::optional<ModelSpec> s = parse(yaml, err);
  EXPECT_FALSE(s.has_value()) << yaml;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  return err;
}

// A minimal decoder: lines 1-7. Tests append to it.
const std::string kDecoder = "name: m\n"
                             "dims:\n"
                             "  vocab: 64\n"
                             "  d_model: 32\n"
                             "  n_layers: 2\n"
                             "  n_heads: 4\n"
                             "  max_seq: 32\n";

std::string modelsDir() { return std::string(TFC_SOURCE_DIR) + "/models"; }

std::vector<std::string> modelFiles() {
  std::vector<std::string> files;
  if (DIR *d = opendir(modelsDir().c_str())) {
    while (dirent *e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".yaml") == 0)
        files.push_back(modelsDir() + "/" + n);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

ModelSpec model(const std::string &name) {
  std::string err;
  std::optional<ModelSpec> s =
      parseSpecFile(modelsDir() + "/" + name + ".yaml", err);
  EXPECT_TRUE(s.has_value()) << err;
  return s ? *s : ModelSpec();
}

} // namespace

//===----------------------------------------------------------------------===//
// Defaults
//===----------------------------------------------------------------------===//

TEST(SpecDefaults, Decoder) {
  ModelSpec s = parseOk(kDecoder);
  EXPECT_EQ(s.name, "m");
  EXPECT_EQ(s.sourcePath, "t.yaml");
  EXPECT_EQ(s.family, Family::Decoder);
  EXPECT_EQ(s.dims.vocab, 64);
  EXPECT_EQ(s.dims.headDim, 8);  // K = D / H
  EXPECT_EQ(s.dims.nKVHeads, 4); // = H
  EXPECT_EQ(s.dims.dFF, 128);    // 4 D
  EXPECT_EQ(s.dims.typeVocab, 0);
  EXPECT_EQ(s.block.norm, NormKind::LayerNorm);
  EXPECT_EQ(s.block.normEps, 1e-5);
  EXPECT_EQ(s.block.placement, Placement::Pre);
  EXPECT_TRUE(s.block.attention.causal);
  EXPECT_TRUE(s.block.attention.bias);
  EXPECT_EQ(s.block.mlp.activation, Activation::GELUTanh);
  EXPECT_FALSE(s.block.mlp.gated);
  EXPECT_TRUE(s.block.mlp.bias);
  EXPECT_EQ(s.positions.kind, PositionKind::Learned);
  EXPECT_EQ(s.positions.ropeTheta, 10000.0);
  EXPECT_EQ(s.head.kind, HeadKind::LM);
  EXPECT_TRUE(s.head.tieEmbeddings);
  EXPECT_EQ(s.head.classes, 0);
  EXPECT_EQ(s.head.pool, Pool::CLS);
  EXPECT_TRUE(s.finalNorm);
  EXPECT_FALSE(s.embeddingNorm);
  EXPECT_EQ(s.dtype, DType::F32);
  EXPECT_EQ(s.layout, WeightLayout::Native);
  EXPECT_FALSE(s.image.has_value());
  EXPECT_FALSE(s.encoder.has_value());
  EXPECT_FALSE(s.decoder.has_value());
}

TEST(SpecDefaults, Encoder) {
  ModelSpec s = parseOk(kDecoder + "family: encoder\n");
  EXPECT_EQ(s.family, Family::Encoder);
  EXPECT_FALSE(s.block.attention.causal);
  EXPECT_EQ(s.head.kind, HeadKind::None);
  // An explicit key wins over the family's default.
  s = parseOk(kDecoder + "family: encoder\nblock: {attention: {causal: "
                         "true}}\nhead: {kind: lm}\n");
  EXPECT_TRUE(s.block.attention.causal);
  EXPECT_EQ(s.head.kind, HeadKind::LM);
}

TEST(SpecDefaults, ViT) {
  ModelSpec s = parseOk("name: v\nfamily: vit\n"
                        "image: {height: 32, width: 16, patch: 8}\n"
                        "dims: {d_model: 32, n_layers: 1, n_heads: 2}\n"
                        "head: {classes: 5}\n");
  EXPECT_EQ(s.family, Family::ViT);
  ASSERT_TRUE(s.image.has_value());
  EXPECT_EQ(s.image->channels, 3);
  EXPECT_EQ(s.image->numPatches(), 8);
  EXPECT_EQ(s.image->mean, std::vector<double>({0.5, 0.5, 0.5}));
  EXPECT_EQ(s.image->std, std::vector<double>({0.5, 0.5, 0.5}));
  EXPECT_EQ(s.dims.maxSeq, 9); // class token + 8 patches
  EXPECT_EQ(s.dims.vocab, 0);
  EXPECT_EQ(s.dims.headDim, 16);
  EXPECT_FALSE(s.block.attention.causal);
  EXPECT_EQ(s.head.kind, HeadKind::Classifier);
  EXPECT_EQ(s.head.classes, 5);
  EXPECT_EQ(s.head.pool, Pool::CLS);

  s = parseOk("name: v\nfamily: vit\n"
              "image: {height: 4, width: 4, channels: 1, patch: 2, "
              "mean: [0.25], std: [2]}\n"
              "dims: {d_model: 8, n_layers: 1, n_heads: 2, max_seq: 5}\n"
              "head: {kind: none}\n");
  EXPECT_EQ(s.image->mean, std::vector<double>({0.25}));
  EXPECT_EQ(s.image->std, std::vector<double>({2.0}));
  EXPECT_EQ(s.dims.maxSeq, 5);
  EXPECT_EQ(s.head.kind, HeadKind::None);
}

TEST(SpecDefaults, EncoderDecoder) {
  ModelSpec s = parseOk(kDecoder + "family: encoder-decoder\n");
  ASSERT_TRUE(s.encoder.has_value());
  ASSERT_TRUE(s.decoder.has_value());
  EXPECT_FALSE(s.encoder->block.attention.causal);
  EXPECT_TRUE(s.decoder->block.attention.causal);
  EXPECT_EQ(s.head.kind, HeadKind::LM);
  EXPECT_EQ(s.encoder->dims.nLayers, 2);
  EXPECT_EQ(s.decoder->dims.headDim, 8);
  EXPECT_EQ(s.decoder->dims.dFF, 128);
}

TEST(SpecDefaults, EncoderDecoderOverrides) {
  ModelSpec s =
      parseOk(kDecoder + "family: encoder-decoder\n"
                         "block:\n"
                         "  norm: rmsnorm\n"
                         "  attention: {bias: false}\n"
                         "encoder:\n"
                         "  dims: {max_seq: 16, d_ff: 40}\n"
                         "  block: {mlp: {activation: relu}}\n"
                         "decoder:\n"
                         "  dims: {n_layers: 1, n_heads: 8, n_kv_heads: 2}\n"
                         "  block: {attention: {causal: false}}\n");
  const StackSpec &e = *s.encoder, &d = *s.decoder;
  // Overridden key by key, the rest from the top level.
  EXPECT_EQ(e.dims.maxSeq, 16);
  EXPECT_EQ(e.dims.dFF, 40);
  EXPECT_EQ(e.dims.nLayers, 2);
  EXPECT_EQ(e.block.mlp.activation, Activation::ReLU);
  EXPECT_EQ(e.block.norm, NormKind::RMSNorm);
  EXPECT_FALSE(e.block.attention.bias);
  EXPECT_FALSE(e.block.attention.causal);
  EXPECT_EQ(d.dims.maxSeq, 32);
  EXPECT_EQ(d.dims.nLayers, 1);
  EXPECT_EQ(d.dims.nHeads, 8);
  EXPECT_EQ(d.dims.headDim, 4); // derived from the stack's own H
  EXPECT_EQ(d.dims.nKVHeads, 2);
  EXPECT_EQ(d.dims.dFF, 128);
  EXPECT_EQ(d.block.mlp.activation, Activation::GELUTanh);
  EXPECT_EQ(d.block.norm, NormKind::RMSNorm);
  EXPECT_FALSE(d.block.attention.causal); // the override key wins
  // The top level keeps its own values.
  EXPECT_EQ(s.dims.nLayers, 2);
  EXPECT_EQ(s.dims.nHeads, 4);

  // A top-level causal key is a default for both stacks.
  s = parseOk(kDecoder + "family: encoder-decoder\n"
                         "block: {attention: {causal: true}}\n");
  EXPECT_TRUE(s.encoder->block.attention.causal);
  EXPECT_TRUE(s.decoder->block.attention.causal);
}

//===----------------------------------------------------------------------===//
// The shipped models
//===----------------------------------------------------------------------===//

TEST(SpecModels, AllParse) {
  std::vector<std::string> files = modelFiles();
  EXPECT_GE(files.size(), 10u);
  for (const std::string &f : files) {
    std::string err;
    std::optional<ModelSpec> s = parseSpecFile(f, err);
    EXPECT_TRUE(s.has_value()) << err;
    if (s)
      EXPECT_EQ(s->sourcePath, f);
  }
}

TEST(SpecModels, GPT2Small) {
  ModelSpec s = model("gpt2-small");
  EXPECT_EQ(s.name, "gpt2-small");
  EXPECT_EQ(s.family, Family::Decoder);
  EXPECT_EQ(s.dims.vocab, 50257);
  EXPECT_EQ(s.dims.dModel, 768);
  EXPECT_EQ(s.dims.nLayers, 12);
  EXPECT_EQ(s.dims.nHeads, 12);
  EXPECT_EQ(s.dims.headDim, 64);
  EXPECT_EQ(s.dims.nKVHeads, 12);
  EXPECT_EQ(s.dims.dFF, 3072);
  EXPECT_EQ(s.dims.maxSeq, 1024);
  EXPECT_EQ(s.block.normEps, 1e-5);
  EXPECT_EQ(s.block.mlp.activation, Activation::GELUTanh);
  EXPECT_EQ(s.positions.kind, PositionKind::Learned);
  EXPECT_TRUE(s.head.tieEmbeddings);
  EXPECT_EQ(s.layout, WeightLayout::HFGPT2);
}

TEST(SpecModels, LlamaStyle) {
  ModelSpec s = model("llama-style");
  EXPECT_EQ(s.dims.vocab, 32000);
  EXPECT_EQ(s.dims.dModel, 2048);
  EXPECT_EQ(s.dims.nLayers, 22);
  EXPECT_EQ(s.dims.nHeads, 32);
  EXPECT_EQ(s.dims.nKVHeads, 4);
  EXPECT_EQ(s.dims.headDim, 64);
  EXPECT_EQ(s.dims.dFF, 5632);
  EXPECT_EQ(s.dims.maxSeq, 2048);
  EXPECT_EQ(s.block.norm, NormKind::RMSNorm);
  EXPECT_EQ(s.positions.kind, PositionKind::RoPE);
  EXPECT_EQ(s.positions.ropeTheta, 10000.0);
  EXPECT_TRUE(s.block.mlp.gated);
  EXPECT_EQ(s.block.mlp.activation, Activation::SiLU);
  EXPECT_FALSE(s.block.mlp.bias);
  EXPECT_FALSE(s.block.attention.bias);
  EXPECT_FALSE(s.head.tieEmbeddings);
  EXPECT_EQ(s.layout, WeightLayout::HFLlama);
}

TEST(SpecModels, BertBase) {
  ModelSpec s = model("bert-base");
  EXPECT_EQ(s.family, Family::Encoder);
  EXPECT_EQ(s.dims.vocab, 30522);
  EXPECT_EQ(s.dims.typeVocab, 2);
  EXPECT_EQ(s.dims.maxSeq, 512);
  EXPECT_EQ(s.block.placement, Placement::Post);
  EXPECT_EQ(s.block.normEps, 1e-12);
  EXPECT_EQ(s.block.mlp.activation, Activation::GELU);
  EXPECT_FALSE(s.block.attention.causal);
  EXPECT_TRUE(s.embeddingNorm);
  EXPECT_FALSE(s.finalNorm);
  EXPECT_EQ(s.head.kind, HeadKind::None);
  EXPECT_EQ(s.layout, WeightLayout::HFBERT);
}

TEST(SpecModels, ViTB16) {
  ModelSpec s = model("vit-b16");
  ASSERT_TRUE(s.image.has_value());
  EXPECT_EQ(s.image->height, 224);
  EXPECT_EQ(s.image->width, 224);
  EXPECT_EQ(s.image->channels, 3);
  EXPECT_EQ(s.image->patch, 16);
  EXPECT_EQ(s.dims.maxSeq, 197);
  EXPECT_EQ(s.dims.dFF, 3072);
  EXPECT_EQ(s.block.normEps, 1e-12);
  EXPECT_EQ(s.head.kind, HeadKind::Classifier);
  EXPECT_EQ(s.head.classes, 1000);
  EXPECT_EQ(s.head.pool, Pool::CLS);
  EXPECT_TRUE(s.finalNorm);
  EXPECT_EQ(s.layout, WeightLayout::HFViT);
}

TEST(SpecModels, TransformerBaseAndTinyEncDec) {
  ModelSpec s = model("transformer-base");
  EXPECT_EQ(s.family, Family::EncoderDecoder);
  EXPECT_EQ(s.positions.kind, PositionKind::Sinusoidal);
  ASSERT_TRUE(s.encoder && s.decoder);
  for (const StackSpec *st : {&*s.encoder, &*s.decoder}) {
    EXPECT_EQ(st->dims.dModel, 512);
    EXPECT_EQ(st->dims.nLayers, 6);
    EXPECT_EQ(st->dims.nHeads, 8);
    EXPECT_EQ(st->dims.dFF, 2048);
    EXPECT_EQ(st->dims.vocab, 32000);
    EXPECT_EQ(st->block.placement, Placement::Post);
    EXPECT_EQ(st->block.mlp.activation, Activation::ReLU);
  }
  EXPECT_FALSE(s.encoder->block.attention.causal);
  EXPECT_TRUE(s.decoder->block.attention.causal);

  s = model("tiny-encdec");
  ASSERT_TRUE(s.encoder && s.decoder);
  EXPECT_EQ(s.encoder->dims.nLayers, 2);
  EXPECT_EQ(s.decoder->dims.nLayers, 1);
  EXPECT_EQ(s.decoder->dims.dModel, 32);
}

TEST(SpecModels, Tiny) {
  ModelSpec s = model("tiny-llama");
  EXPECT_EQ(s.dims.nKVHeads, 2);
  EXPECT_EQ(s.dims.dFF, 48);
  EXPECT_EQ(s.positions.kind, PositionKind::RoPE);
  EXPECT_TRUE(s.block.mlp.gated);
  EXPECT_FALSE(s.head.tieEmbeddings);
  s = model("tiny-encoder");
  EXPECT_EQ(s.dims.typeVocab, 2);
  EXPECT_TRUE(s.embeddingNorm);
  s = model("tiny-vit");
  EXPECT_EQ(s.dims.maxSeq, 17);
  EXPECT_EQ(s.head.classes, 10);
  s = model("tiny-decoder");
  EXPECT_EQ(s.dims.dFF, 64);
  EXPECT_EQ(s.dims.maxSeq, 64);
}

//===----------------------------------------------------------------------===//
// Printing
//===----------------------------------------------------------------------===//

TEST(SpecPrint, RoundTripEveryModel) {
  for (const std::string &f : modelFiles()) {
    std::string err;
    std::optional<ModelSpec> a = parseSpecFile(f, err);
    ASSERT_TRUE(a.has_value()) << err;
    std::string text = printSpec(*a);
    std::optional<ModelSpec> b = parseSpecString(text, f + ".printed", err);
    ASSERT_TRUE(b.has_value()) << err << "\n" << text;
    EXPECT_EQ(printSpec(*b), text) << f;
    EXPECT_EQ(b->encoder.has_value(), a->encoder.has_value());
  }
}

TEST(SpecPrint, ExactTextAndOrder) {
  EXPECT_EQ(printSpec(model("tiny-decoder")), "name: tiny-decoder\n"
                                              "family: decoder\n"
                                              "dims:\n"
                                              "  vocab: 64\n"
                                              "  d_model: 32\n"
                                              "  n_layers: 2\n"
                                              "  n_heads: 4\n"
                                              "  head_dim: 8\n"
                                              "  n_kv_heads: 4\n"
                                              "  d_ff: 64\n"
                                              "  max_seq: 64\n"
                                              "  type_vocab: 0\n"
                                              "block:\n"
                                              "  norm: layernorm\n"
                                              "  norm_eps: 1e-05\n"
                                              "  placement: pre\n"
                                              "  attention:\n"
                                              "    causal: true\n"
                                              "    bias: true\n"
                                              "  mlp:\n"
                                              "    activation: gelu_tanh\n"
                                              "    gated: false\n"
                                              "    bias: true\n"
                                              "positions:\n"
                                              "  kind: learned\n"
                                              "  rope_theta: 10000\n"
                                              "head:\n"
                                              "  kind: lm\n"
                                              "  tie_embeddings: true\n"
                                              "  classes: 0\n"
                                              "  pool: cls\n"
                                              "final_norm: true\n"
                                              "embedding_norm: false\n"
                                              "dtype: f32\n"
                                              "tokenizer: none\n"
                                              "weights:\n"
                                              "  layout: native\n");
  std::string vit = printSpec(model("tiny-vit"));
  EXPECT_NE(vit.find("family: vit\nimage:\n  height: 16\n  width: 16\n"
                     "  channels: 3\n  patch: 4\n  mean: [0.5, 0.5, 0.5]\n"
                     "  std: [0.5, 0.5, 0.5]\n  resize: crop\ndims:\n"
                     "  vocab: 0\n"),
            std::string::npos)
      << vit;
  std::string encdec = printSpec(model("tiny-encdec"));
  EXPECT_NE(encdec.find("decoder:\n  dims:\n    vocab: 64\n    d_model: 32\n"
                        "    n_layers: 1\n"),
            std::string::npos)
      << encdec;
  EXPECT_NE(encdec.find("decoder:\n  dims:"), std::string::npos);
  EXPECT_NE(encdec.find("\n  block:\n    norm: layernorm\n"),
            std::string::npos);
}

TEST(SpecPrint, NumbersReadBackExactly) {
  ModelSpec s = parseOk(kDecoder + "block: {norm_eps: 0.30000000000000004}\n"
                                   "positions: {rope_theta: 500000.5}\n");
  std::string text = printSpec(s);
  EXPECT_NE(text.find("norm_eps: 0.30000000000000004\n"), std::string::npos);
  EXPECT_NE(text.find("rope_theta: 500000.5\n"), std::string::npos);
  ModelSpec b = parseOk(text);
  EXPECT_EQ(b.block.normEps, 0.1 + 0.2);
  EXPECT_EQ(b.positions.ropeTheta, 500000.5);
  EXPECT_NE(printSpec(model("bert-base")).find("norm_eps: 1e-12\n"),
            std::string::npos);
}

TEST(SpecPrint, QuotesNamesThatNeedIt) {
  ModelSpec s = parseOk("name: 'a: b #c'\n" + kDecoder.substr(8));
  EXPECT_EQ(s.name, "a: b #c");
  EXPECT_EQ(parseOk(printSpec(s)).name, "a: b #c");
}

//===----------------------------------------------------------------------===//
// Errors: one class per test, exact messages
//===----------------------------------------------------------------------===//

TEST(SpecErrors, YAMLSyntax) {
  EXPECT_EQ(errorOf("name: m\ndims: [1, 2\nblock: {}\n"),
            "t.yaml:3:6: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(errorOf("name: m\n  dims: x\n"),
            "t.yaml:2:7: invalid YAML: illegal map value");
}

TEST(SpecErrors, EmptyAndNonMapRoots) {
  EXPECT_EQ(errorOf(""), "t.yaml:1:1: expected a map of spec keys (name, "
                         "family, dims, ...), found an empty document");
  EXPECT_EQ(errorOf("# just a comment\n"),
            "t.yaml:1:1: expected a map of spec keys (name, family, dims, "
            "...), found an empty document");
  EXPECT_EQ(errorOf("- a\n- b\n"), "t.yaml:1:1: expected a map of spec keys "
                                   "(name, family, dims, ...), found a "
                                   "sequence");
  EXPECT_EQ(errorOf("gpt2\n"), "t.yaml:1:1: expected a map of spec keys "
                               "(name, family, dims, ...), found 'gpt2'");
  EXPECT_EQ(errorOf(kDecoder + "---\nname: n\n"),
            "t.yaml:9:1: expected one YAML document, found 2");
  // yaml-cpp 0.7's LoadAll never returns on a stray top-level ','
  // (tests/fuzz/corpus/spec/hang-stray-comma.yaml); the parser must.
  EXPECT_EQ(errorOf(","), "t.yaml:1:1: invalid YAML: unexpected token (a "
                          "stray ',' or flow indicator?)");
  EXPECT_EQ(errorOf(kDecoder + "---\nname: n\n---\nname: m\n"),
            "t.yaml:9:1: expected one YAML document, found 3");
}

TEST(SpecErrors, UnknownKey) {
  EXPECT_EQ(errorOf(kDecoder + "block:\n  attention:\n    casual: true\n"),
            "t.yaml:10:5: block.attention.casual: unknown key; expected one "
            "of causal, bias");
  EXPECT_EQ(errorOf(kDecoder + "layers: 3\n"),
            "t.yaml:8:1: layers: unknown key; expected one of name, family, "
            "image, dims, block, encoder, decoder, positions, head, "
            "final_norm, embedding_norm, dtype, weights, tokenizer");
  EXPECT_EQ(errorOf(kDecoder + "  d_head: 8\n"),
            "t.yaml:8:3: dims.d_head: unknown key; expected one of vocab, "
            "d_model, n_layers, n_heads, head_dim, n_kv_heads, d_ff, "
            "max_seq, type_vocab");
  EXPECT_EQ(errorOf(kDecoder + "family: encoder-decoder\n"
                               "decoder:\n  dims: {n_layers: 1}\n"
                               "  blocks: {}\n"),
            "t.yaml:11:3: decoder.blocks: unknown key; expected one of dims, "
            "block");
  EXPECT_EQ(errorOf(kDecoder + "  d_model: 64\n"),
            "t.yaml:8:3: dims.d_model: duplicate key; first given at 4:3");
}

TEST(SpecErrors, WrongType) {
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 64\n  d_model: abc\n"),
            "t.yaml:4:12: dims.d_model: expected a positive integer, found "
            "'abc'");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 64\n  d_model: 32.5\n"),
            "t.yaml:4:12: dims.d_model: expected a positive integer, found "
            "'32.5'");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 64\n  d_model:\n"),
            "t.yaml:4:3: dims.d_model: expected a positive integer, found "
            "nothing");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 64\n  d_model: {a: 1}\n"),
            "t.yaml:4:12: dims.d_model: expected a positive integer, found a "
            "map");
  EXPECT_EQ(errorOf(kDecoder + "final_norm: yes\n"),
            "t.yaml:8:13: final_norm: expected true or false, found 'yes'");
  EXPECT_EQ(errorOf(kDecoder + "block:\n  mlp:\n    gated: [1]\n"),
            "t.yaml:10:12: block.mlp.gated: expected true or false, found a "
            "sequence");
  EXPECT_EQ(errorOf(kDecoder + "block:\n  norm_eps: small\n"),
            "t.yaml:9:13: block.norm_eps: expected a positive number, found "
            "'small'");
  EXPECT_EQ(errorOf(kDecoder + "positions:\n  rope_theta: .inf\n"),
            "t.yaml:9:15: positions.rope_theta: expected a number, found "
            "'.inf'");
  EXPECT_EQ(errorOf(kDecoder + "block: relu\n"),
            "t.yaml:8:8: block: expected a map, found 'relu'");
  EXPECT_EQ(errorOf("name: {a: 1}\n"),
            "t.yaml:1:7: name: expected a non-empty string, found a map");
}

TEST(SpecErrors, BadEnum) {
  EXPECT_EQ(errorOf(kDecoder + "block:\n  mlp:\n    activation: swish\n"),
            "t.yaml:10:17: block.mlp.activation: expected one of relu, gelu, "
            "gelu_tanh, silu, found 'swish'");
  EXPECT_EQ(errorOf("name: m\nfamily: gpt\n"),
            "t.yaml:2:9: family: expected one of decoder, encoder, vit, "
            "encoder-decoder, found 'gpt'");
  EXPECT_EQ(errorOf(kDecoder + "weights: {layout: hf-t5}\n"),
            "t.yaml:8:19: weights.layout: expected one of native, hf-gpt2, "
            "hf-llama, hf-bert, hf-vit, found 'hf-t5'");
  EXPECT_EQ(errorOf(kDecoder + "weights: {layout: hf-bert}\n"),
            "t.yaml:8:19: weights.layout: expected native or a layout of "
            "family decoder, found 'hf-bert'");
}

TEST(SpecErrors, MissingRequiredKey) {
  EXPECT_EQ(errorOf("family: decoder\n"),
            "t.yaml:1:1: name: missing required key; expected a non-empty "
            "string");
  EXPECT_EQ(errorOf("name: m\n"),
            "t.yaml:1:1: dims: missing required key; expected a map with "
            "d_model, n_layers and n_heads");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 64\n  n_layers: 2\n"),
            "t.yaml:3:3: dims.d_model: missing required key; expected a "
            "positive integer");
  EXPECT_EQ(errorOf("name: m\ndims: {d_model: 8, n_layers: 1, n_heads: 2}\n"),
            "t.yaml:2:7: dims.vocab: missing required key; expected a "
            "positive integer");
  EXPECT_EQ(errorOf("name: m\ndims: {vocab: 9, d_model: 8, n_layers: 1, "
                    "n_heads: 2}\n"),
            "t.yaml:2:7: dims.max_seq: missing required key; expected a "
            "positive integer");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\n"
                    "dims: {d_model: 8, n_layers: 1, n_heads: 2}\n"),
            "t.yaml:1:1: image: missing required key; expected a map with "
            "height, width and patch (family vit)");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\nimage:\n  height: 4\n  width: 4\n"
                    "dims: {d_model: 8, n_layers: 1, n_heads: 2}\n"),
            "t.yaml:4:3: image.patch: missing required key; expected a "
            "positive integer");
  // The classifier's classes: in head, or at the root when head is absent.
  EXPECT_EQ(errorOf(kDecoder + "head:\n  kind: classifier\n"),
            "t.yaml:9:3: head.classes: missing required key; expected a "
            "positive integer (classifier head)");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\n"
                    "image: {height: 4, width: 4, patch: 2}\n"
                    "dims: {d_model: 8, n_layers: 1, n_heads: 2}\n"),
            "t.yaml:1:1: head.classes: missing required key; expected a "
            "positive integer (classifier head)");
}

TEST(SpecErrors, NegativeZeroAndAbsurdSizes) {
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: -3\n"),
            "t.yaml:3:10: dims.vocab: expected a positive integer, found -3");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 0\n"),
            "t.yaml:3:10: dims.vocab: expected a positive integer, found 0");
  EXPECT_EQ(errorOf(kDecoder + "  type_vocab: -1\n"),
            "t.yaml:8:15: dims.type_vocab: expected a non-negative integer, "
            "found -1");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 2000000\n"),
            "t.yaml:3:10: dims.vocab: expected at most 1048576 (2^20), "
            "found 2000000");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 99999999999999999999999\n"),
            "t.yaml:3:10: dims.vocab: expected at most 1048576 (2^20), "
            "found 99999999999999999999999");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 9\n  d_model: 8\n"
                    "  n_layers: 5000\n"),
            "t.yaml:5:13: dims.n_layers: expected at most 4096, found 5000");
  EXPECT_EQ(errorOf("name: m\ndims:\n  vocab: 9\n  d_model: 8\n"
                    "  n_layers: 1\n  n_heads: 4097\n"),
            "t.yaml:6:12: dims.n_heads: expected at most 4096, found 4097");
  EXPECT_EQ(errorOf("name: m\n"
                    "dims:\n  vocab: 1048576\n  d_model: 16384\n"
                    "  n_layers: 1\n  n_heads: 128\n  max_seq: 8\n"),
            "t.yaml:3:3: dims: expected at most 8589934592 (2^33) elements "
            "per weight matrix, found 17179869184 in the token embedding "
            "(vocab x d_model = 1048576 x 16384)");
  EXPECT_EQ(errorOf("name: m\n"
                    "dims:\n  vocab: 8\n  d_model: 65536\n"
                    "  n_layers: 1\n  n_heads: 128\n  max_seq: 8\n"),
            "t.yaml:3:3: dims: expected at most 8589934592 (2^33) elements "
            "per weight matrix, found 17179869184 in the MLP (d_model x d_ff "
            "= 65536 x 262144)");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\n"
                    "image: {height: 1048576, width: 1048576, patch: 1}\n"),
            "t.yaml:3:8: image: expected at most 1048575 patches (max_seq = "
            "1 + patches <= 2^20), found 1099511627776");
}

TEST(SpecErrors, InconsistentDims) {
  EXPECT_EQ(errorOf("name: m\ndims: {vocab: 9, d_model: 30, n_layers: 1, "
                    "n_heads: 4, max_seq: 8}\n"),
            "t.yaml:2:53: dims.n_heads: expected a divisor of d_model (30) "
            "when head_dim is not given, found 4");
  // With an explicit head_dim, D need not be a multiple of H.
  EXPECT_EQ(parseOk("name: m\ndims: {vocab: 9, d_model: 30, n_layers: 1, "
                    "n_heads: 4, head_dim: 6, max_seq: 8}\n")
                .dims.headDim,
            6);
  EXPECT_EQ(errorOf(kDecoder + "  n_kv_heads: 3\n"),
            "t.yaml:8:15: dims.n_kv_heads: expected a divisor of n_heads "
            "(4), found 3");
  EXPECT_EQ(errorOf(kDecoder + "  n_kv_heads: 8\n"),
            "t.yaml:8:15: dims.n_kv_heads: expected at most n_heads (4), "
            "found 8");
  EXPECT_EQ(errorOf(kDecoder + "  head_dim: 7\npositions: {kind: rope}\n"),
            "t.yaml:8:13: dims.head_dim: expected an even number with rope "
            "positions (rope rotates pairs), found 7");
  EXPECT_EQ(errorOf("name: m\ndims: {vocab: 9, d_model: 12, n_layers: 1, "
                    "n_heads: 4, max_seq: 8}\npositions: {kind: rope}\n"),
            "t.yaml:2:7: dims.head_dim: expected an even number with rope "
            "positions (rope rotates pairs), found 3 (d_model / n_heads)");
  EXPECT_EQ(errorOf(kDecoder + "head: {kind: classifier, classes: 0}\n"),
            "t.yaml:8:35: head.classes: expected a positive integer for a "
            "classifier head, found 0");
  EXPECT_EQ(errorOf(kDecoder + "block: {norm_eps: 0}\n"),
            "t.yaml:8:19: block.norm_eps: expected a positive number, found "
            "0");
  EXPECT_EQ(errorOf(kDecoder + "block: {norm_eps: -1e-5}\n"),
            "t.yaml:8:19: block.norm_eps: expected a positive number, found "
            "-1e-5");
  EXPECT_EQ(errorOf(kDecoder + "positions: {kind: rope, rope_theta: 0}\n"),
            "t.yaml:8:37: positions.rope_theta: expected a positive number "
            "with rope positions, found 0");
  // Without rope, theta is unused.
  EXPECT_EQ(
      parseOk(kDecoder + "positions: {rope_theta: 0}\n").positions.ropeTheta,
      0.0);
}

TEST(SpecErrors, ViTImage) {
  const std::string dims = "dims: {d_model: 8, n_layers: 1, n_heads: 2}\n"
                           "head: {classes: 3}\n";
  EXPECT_EQ(errorOf("name: v\nfamily: vit\nimage:\n  height: 30\n"
                    "  width: 32\n  patch: 16\n" +
                    dims),
            "t.yaml:4:11: image.height: expected a multiple of patch (16), "
            "found 30");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\nimage:\n  height: 32\n"
                    "  width: 33\n  patch: 16\n" +
                    dims),
            "t.yaml:5:10: image.width: expected a multiple of patch (16), "
            "found 33");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\nimage:\n  height: 4\n"
                    "  width: 4\n  patch: 2\n  mean: [0.5, 0.5]\n" +
                    dims),
            "t.yaml:7:9: image.mean: expected 3 values (one per channel), "
            "found 2");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\nimage:\n  height: 4\n"
                    "  width: 4\n  patch: 2\n  channels: 1\n"
                    "  std: [0]\n" +
                    dims),
            "t.yaml:8:9: image.std[0]: expected a positive number, found 0");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\n"
                    "image: {height: 4, width: 4, patch: 2}\n"
                    "dims: {d_model: 8, n_layers: 1, n_heads: 2, "
                    "max_seq: 4}\n"),
            "t.yaml:4:54: dims.max_seq: expected 5 (1 + 4 patches) for "
            "family vit, found 4");
  EXPECT_EQ(errorOf("name: v\nfamily: vit\n"
                    "image: {height: 4, width: 4, patch: 2}\n"
                    "dims: {d_model: 8, n_layers: 1, n_heads: 2}\n"
                    "head: {kind: lm}\n"),
            "t.yaml:5:14: head.kind: expected classifier or none without "
            "dims.vocab, found 'lm'");
  EXPECT_EQ(errorOf(kDecoder + "image: {height: 4, width: 4, patch: 2}\n"),
            "t.yaml:8:1: image: expected only with family vit, found family "
            "decoder");
}

TEST(SpecErrors, EncoderDecoderStacks) {
  const std::string base = kDecoder + "family: encoder-decoder\n";
  EXPECT_EQ(errorOf(base + "decoder:\n  dims:\n    n_layers: 0\n"),
            "t.yaml:11:15: decoder.dims.n_layers: expected a positive "
            "integer, found 0");
  EXPECT_EQ(errorOf(base + "decoder:\n  dims:\n    d_model: 64\n"),
            "t.yaml:11:14: decoder.dims.d_model: expected 32 as in the "
            "encoder (the stacks must agree), found 64");
  EXPECT_EQ(errorOf(base + "encoder:\n  dims:\n    vocab: 65\n"),
            "t.yaml:11:12: encoder.dims.vocab: expected 64 as in the "
            "decoder (the stacks must agree), found 65");
  EXPECT_EQ(errorOf(base + "decoder:\n  dims:\n    n_heads: 5\n"),
            "t.yaml:11:14: decoder.dims.n_heads: expected a divisor of "
            "d_model (32) when head_dim is not given, found 5");
  EXPECT_EQ(errorOf(base + "encoder:\n  block:\n    mlp: {gated: maybe}\n"),
            "t.yaml:11:18: encoder.block.mlp.gated: expected true or false, "
            "found 'maybe'");
  EXPECT_EQ(errorOf(base + "decoder: 3\n"),
            "t.yaml:9:10: decoder: expected a map, found '3'");
  EXPECT_EQ(errorOf(kDecoder + "decoder:\n  dims: {n_layers: 1}\n"),
            "t.yaml:8:1: decoder: expected only with family "
            "encoder-decoder, found family decoder");
}

TEST(SpecErrors, Files) {
  std::string err;
  EXPECT_FALSE(parseSpecFile("/nonexistent/x.yaml", err).has_value());
  EXPECT_EQ(err, "/nonexistent/x.yaml: cannot open the spec: No such file "
                 "or directory");
  std::string path = testing::TempDir() + "spec_parser_test_bad.yaml";
  {
    std::ofstream out(path);
    out << "name: m\ndims:\n  vocab: 9\n  d_model: x\n";
  }
  EXPECT_FALSE(parseSpecFile(path, err).has_value());
  EXPECT_EQ(err, path + ":4:12: dims.d_model: expected a positive integer, "
                        "found 'x'");
  std::remove(path.c_str());
}

// Damaged specs (a line dropped, the text cut short) must give a one-line
// positioned message or a valid spec, never an exception or a crash.
TEST(SpecErrors, DamagedModelsFailCleanly) {
  int failures = 0;
  for (const std::string &f : modelFiles()) {
    std::ifstream in(f);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);)
      lines.push_back(l);
    std::vector<std::string> variants;
    std::string whole;
    for (const std::string &l : lines)
      whole += l + "\n";
    for (size_t drop = 0; drop < lines.size(); ++drop) {
      std::string text;
      for (size_t i = 0; i < lines.size(); ++i)
        if (i != drop)
          text += lines[i] + "\n";
      variants.push_back(text);
    }
    for (size_t cut = 0; cut < whole.size(); cut += 7)
      variants.push_back(whole.substr(0, cut));
    for (const std::string &text : variants) {
      std::string err;
      std::optional<ModelSpec> s = parseSpecString(text, "d.yaml", err);
      if (s)
        continue;
      ++failures;
      EXPECT_EQ(err.rfind("d.yaml:", 0), 0u) << err;
      EXPECT_EQ(err.find('\n'), std::string::npos) << err;
      int line = 0, col = 0;
      EXPECT_EQ(std::sscanf(err.c_str(), "d.yaml:%d:%d:", &line, &col), 2)
          << err;
      EXPECT_GE(line, 1) << err;
      EXPECT_GE(col, 1) << err;
    }
  }
  // Dropping `name:` or a required dims line fails in every model.
  EXPECT_GT(failures, 50);
}

// image.resize: crop (the default) or stretch, printed with the spec so the
// compiled executable, which reads the printed spec, resizes the same way.
TEST(SpecImageResize, ParsesPrintsAndRejects) {
  const std::string head = "name: v\nfamily: vit\nimage:\n  height: 8\n"
                           "  width: 4\n  patch: 4\n";
  const std::string rest = "dims: {d_model: 8, n_layers: 1, n_heads: 2}\n"
                           "head: {classes: 3}\n";
  ModelSpec crop = parseOk(head + rest);
  ASSERT_TRUE(crop.image.has_value());
  EXPECT_EQ(crop.image->resize, ImageResizeKind::Crop);
  ModelSpec stretch = parseOk(head + "  resize: stretch\n" + rest);
  ASSERT_TRUE(stretch.image.has_value());
  EXPECT_EQ(stretch.image->resize, ImageResizeKind::Stretch);
  EXPECT_EQ(parseOk(head + "  resize: crop\n" + rest).image->resize,
            ImageResizeKind::Crop);

  // Round trip: each value prints and reads back as itself.
  std::string text = printSpec(stretch);
  EXPECT_NE(text.find("\n  resize: stretch\ndims:\n"), std::string::npos)
      << text;
  EXPECT_EQ(parseOk(text).image->resize, ImageResizeKind::Stretch);
  text = printSpec(crop);
  EXPECT_NE(text.find("\n  resize: crop\ndims:\n"), std::string::npos) << text;
  EXPECT_EQ(parseOk(text).image->resize, ImageResizeKind::Crop);

  EXPECT_EQ(errorOf(head + "  resize: squash\n" + rest),
            "t.yaml:7:11: image.resize: expected one of crop, stretch, found "
            "'squash'");
  // Names are case-sensitive, like every other enum of the spec.
  EXPECT_EQ(errorOf(head + "  resize: Stretch\n" + rest),
            "t.yaml:7:11: image.resize: expected one of crop, stretch, found "
            "'Stretch'");
  EXPECT_EQ(errorOf(head + "  resize: [crop]\n" + rest),
            "t.yaml:7:11: image.resize: expected one of crop, stretch, found "
            "a sequence");
  EXPECT_EQ(errorOf(head + "  resizing: crop\n" + rest),
            "t.yaml:7:3: image.resizing: unknown key; expected one of height, "
            "width, channels, patch, mean, std, resize");
}
