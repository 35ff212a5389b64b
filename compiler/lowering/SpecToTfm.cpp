//===- SpecToTfm.cpp - Build model-level tfm IR from a spec --------------===//
//
// Follows the paper's block: pre-norm
//   Y = X + MHSA(norm(X)),  X' = Y + MLP(norm(Y))
// or post-norm (the original transformer, BERT)
//   Y = norm(X + MHSA(X)),  X' = norm(Y + MLP(Y)).
// Weight names are the native names of weights/Manifest.h.
//
//===----------------------------------------------------------------------===//
#include "lowering/SpecToTfm.h"

#include "dialect/TfmDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <map>

using namespace mlir;

namespace tfc {
namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

tfm::Activation toIR(Activation a) {
  switch (a) {
  case Activation::ReLU:
    return tfm::Activation::relu;
  case Activation::GELU:
    return tfm::Activation::gelu;
  case Activation::GELUTanh:
    return tfm::Activation::gelu_tanh;
  case Activation::SiLU:
    return tfm::Activation::silu;
  }
  return tfm::Activation::relu;
}

class ModelBuilder {
public:
  ModelBuilder(MLIRContext &ctx, const ModelSpec &spec)
      : spec(spec), b(&ctx), loc(b.getUnknownLoc()), f32(b.getF32Type()) {
    switch (spec.dtype) {
    case DType::F32:
      weightElem = b.getF32Type();
      break;
    case DType::F16:
      weightElem = b.getF16Type();
      break;
    case DType::BF16:
      weightElem = b.getBF16Type();
      break;
    }
  }

  OwningOpRef<ModuleOp> build();

private:
  RankedTensorType act(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, f32);
  }
  RankedTensorType rows(int64_t d) { return act({kDyn, d}); }

  /// One tfm.weight per name, created where first used.
  Value weight(const std::string &name, ArrayRef<int64_t> shape) {
    auto it = weights.find(name);
    if (it != weights.end())
      return it->second;
    Value w =
        tfm::WeightOp::create(b, loc, RankedTensorType::get(shape, weightElem),
                              FlatSymbolRefAttr::get(b.getContext(), name));
    weights[name] = w;
    return w;
  }

  Value norm(const BlockSpec &block, Value x, const std::string &prefix,
             int64_t d) {
    Value gamma = weight(prefix + ".gamma", {d});
    auto eps = b.getF64FloatAttr(block.normEps);
    if (block.norm == NormKind::RMSNorm)
      return tfm::RMSNormOp::create(b, loc, x.getType(), x, gamma, eps);
    Value beta = weight(prefix + ".beta", {d});
    return tfm::LayerNormOp::create(b, loc, x.getType(), x, gamma, beta, eps);
  }

  Value attention(const StackSpec &stack, Value x, Value memory,
                  const std::string &prefix, bool causal) {
    const Dims &dm = stack.dims;
    int64_t d = dm.dModel, hk = dm.nHeads * dm.headDim,
            kvk = dm.nKVHeads * dm.headDim;
    int64_t dSrc =
        memory ? cast<RankedTensorType>(memory.getType()).getDimSize(1) : d;
    Value wq = weight(prefix + ".wq", {d, hk});
    Value wk = weight(prefix + ".wk", {dSrc, kvk});
    Value wv = weight(prefix + ".wv", {dSrc, kvk});
    Value wo = weight(prefix + ".wo", {hk, d});
    SmallVector<Value> biases;
    if (stack.block.attention.bias)
      biases = {weight(prefix + ".bq", {hk}), weight(prefix + ".bk", {kvk}),
                weight(prefix + ".bv", {kvk}), weight(prefix + ".bo", {d})};
    FloatAttr rope;
    if (spec.positions.kind == PositionKind::RoPE && !memory)
      rope = b.getF64FloatAttr(spec.positions.ropeTheta);
    return tfm::AttentionOp::create(
        b, loc, x.getType(), x, memory, memory ? Value() : keyMask, wq, wk,
        wv, wo, biases,
        b.getI64IntegerAttr(dm.nHeads), b.getI64IntegerAttr(dm.nKVHeads),
        b.getI64IntegerAttr(dm.headDim), causal ? b.getUnitAttr() : UnitAttr(),
        rope);
  }

  Value mlp(const StackSpec &stack, Value x, const std::string &prefix) {
    int64_t d = stack.dims.dModel, f = stack.dims.dFF;
    const MLPSpec &m = stack.block.mlp;
    Value w1 = weight(prefix + ".w1", {d, f});
    Value w2 = weight(prefix + ".w2", {f, d});
    Value w3 = m.gated ? weight(prefix + ".w3", {d, f}) : Value();
    SmallVector<Value> biases;
    if (m.bias) {
      biases = {weight(prefix + ".b1", {f}), weight(prefix + ".b2", {d})};
      if (m.gated)
        biases.push_back(weight(prefix + ".b3", {f}));
    }
    return tfm::MLPOp::create(
        b, loc, x.getType(), x, w1, w2, w3, biases,
        tfm::ActivationAttr::get(b.getContext(), toIR(m.activation)));
  }

  Value add(Value x, Value y) {
    return tfm::AddOp::create(b, loc, x.getType(), x, y);
  }

  /// One block; `memory` is set for an encoder-decoder's decoder blocks.
  Value block(const StackSpec &stack, Value x, Value memory,
              const std::string &prefix, bool causal) {
    int64_t d = stack.dims.dModel;
    bool pre = stack.block.placement == Placement::Pre;
    auto sublayer = [&](Value in, const std::string &normName, auto body) {
      if (pre)
        return add(in, body(norm(stack.block, in, prefix + normName, d)));
      return norm(stack.block, add(in, body(in)), prefix + normName, d);
    };
    x = sublayer(x, "attn_norm", [&](Value h) {
      return attention(stack, h, Value(), prefix + "attn", causal);
    });
    if (memory)
      x = sublayer(x, "cross_norm", [&](Value h) {
        return attention(stack, h, memory, prefix + "cross", false);
      });
    return sublayer(x, "mlp_norm",
                    [&](Value h) { return mlp(stack, h, prefix + "mlp"); });
  }

  Value stackOf(const StackSpec &stack, Value x, Value memory,
                const std::string &prefix) {
    bool causal = stack.block.attention.causal;
    for (int64_t i = 0; i < stack.dims.nLayers; ++i)
      x = block(stack, x, memory, prefix + "layers." + std::to_string(i) + ".",
                causal);
    if (spec.finalNorm)
      x = norm(stack.block, x, prefix + "final_norm", stack.dims.dModel);
    return x;
  }

  /// Token (+ type) embeddings, positions and the embedding norm.
  Value embedTokens(const StackSpec &stack, Value tokens, Value types,
                    const std::string &posName) {
    int64_t d = stack.dims.dModel;
    Value x = tfm::EmbedOp::create(b, loc, rows(d), tokens,
                                   weight("tok_embed", {spec.dims.vocab, d}));
    if (types)
      x = add(x, tfm::EmbedOp::create(
                     b, loc, rows(d), types,
                     weight("type_embed", {spec.dims.typeVocab, d})));
    x = positions(x, posName, stack.dims.maxSeq, d);
    if (spec.embeddingNorm) {
      BlockSpec ln = stack.block;
      ln.norm = NormKind::LayerNorm;
      x = norm(ln, x, "embed_norm", d);
    }
    return x;
  }

  Value positions(Value x, const std::string &name, int64_t n, int64_t d) {
    switch (spec.positions.kind) {
    case PositionKind::Learned:
      return tfm::LearnedPositionsOp::create(b, loc, x.getType(), x,
                                             weight(name, {n, d}));
    case PositionKind::Sinusoidal:
      return tfm::SinusoidalPositionsOp::create(b, loc, x.getType(), x);
    case PositionKind::RoPE: // applied to q and k inside attention
    case PositionKind::None:
      return x;
    }
    return x;
  }

  Value head(Value x, int64_t d) {
    switch (spec.head.kind) {
    case HeadKind::LM: {
      int64_t v = spec.dims.vocab;
      bool tied = spec.head.tieEmbeddings;
      Value w =
          tied ? weight("tok_embed", {v, d}) : weight("lm_head.w", {d, v});
      return tfm::LMHeadOp::create(b, loc, rows(v), x, w,
                                   tied ? b.getUnitAttr() : UnitAttr());
    }
    case HeadKind::Classifier: {
      int64_t c = spec.head.classes;
      return tfm::ClassifierHeadOp::create(
          b, loc, act({1, c}), x, weight("classifier.w", {d, c}),
          weight("classifier.b", {c}),
          tfm::PoolAttr::get(b.getContext(), spec.head.pool == Pool::CLS
                                                 ? tfm::Pool::cls
                                                 : tfm::Pool::mean));
    }
    case HeadKind::None:
      return x;
    case HeadKind::Pooler: {
      // BERT's pooler: tanh of a dense layer on the [CLS] state.
      Value dense = tfm::ClassifierHeadOp::create(
          b, loc, act({1, d}), x, weight("pooler.w", {d, d}),
          weight("pooler.b", {d}),
          tfm::PoolAttr::get(b.getContext(), tfm::Pool::cls));
      return tfm::ActivationOp::create(b, loc, dense.getType(),
                                       tfm::Activation::tanh, dense);
    }
    }
    return x;
  }

  const ModelSpec &spec;
  OpBuilder b;
  Location loc;
  Type f32, weightElem;
  std::map<std::string, Value> weights;
  Value keyMask; // encoders: the padding mask of self-attention's keys
};

OwningOpRef<ModuleOp> ModelBuilder::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr("tfm.model", b.getStringAttr(spec.name));
  module->getOperation()->setAttr("tfm.family",
                                  b.getStringAttr(toString(spec.family)));
  module->getOperation()->setAttr("tfm.max_seq",
                                  b.getI64IntegerAttr(spec.dims.maxSeq));
  module->getOperation()->setAttr("tfm.vocab",
                                  b.getI64IntegerAttr(spec.dims.vocab));

  auto ids = RankedTensorType::get({kDyn}, b.getI32Type());
  SmallVector<Type> inputs;
  SmallVector<std::string> names;
  switch (spec.family) {
  case Family::Decoder:
  case Family::Encoder:
    inputs.push_back(ids);
    names.push_back("tokens");
    if (spec.dims.typeVocab > 0) {
      inputs.push_back(ids);
      names.push_back("token_types");
    }
    // An encoder's padded batch rows: 1 = a token, 0 = padding.
    if (spec.family == Family::Encoder) {
      inputs.push_back(ids);
      names.push_back("attention_mask");
    }
    break;
  case Family::ViT: {
    const ImageSpec &img = *spec.image;
    inputs.push_back(act({img.height, img.width, img.channels}));
    names.push_back("image");
    break;
  }
  case Family::EncoderDecoder:
    inputs = {ids, ids};
    names = {"source", "target"};
    break;
  }

  b.setInsertionPointToEnd(module->getBody());
  // The result type is set once the body is built.
  auto func =
      func::FuncOp::create(b, loc, "forward", b.getFunctionType(inputs, {}));
  for (size_t i = 0; i < names.size(); ++i)
    func.setArgAttr(i, "tfm.input", b.getStringAttr(names[i]));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);

  Value out;
  StackSpec main{spec.dims, spec.block};
  switch (spec.family) {
  case Family::Decoder:
  case Family::Encoder: {
    Value types = spec.dims.typeVocab > 0 ? body->getArgument(1) : Value();
    if (spec.family == Family::Encoder)
      keyMask = body->getArguments().back();
    Value x = embedTokens(main, body->getArgument(0), types, "pos_embed");
    out = head(stackOf(main, x, Value(), ""), spec.dims.dModel);
    break;
  }
  case Family::ViT: {
    const ImageSpec &img = *spec.image;
    int64_t d = spec.dims.dModel, p = img.patch;
    int64_t n = 1 + img.numPatches();
    Value x = tfm::PatchEmbedOp::create(
        b, loc, act({n, d}), body->getArgument(0),
        weight("patch.w", {p * p * img.channels, d}), weight("patch.b", {d}),
        weight("cls_token", {d}), b.getI64IntegerAttr(p));
    if (spec.positions.kind == PositionKind::Learned)
      x = tfm::LearnedPositionsOp::create(b, loc, x.getType(), x,
                                          weight("pos_embed", {n, d}));
    else if (spec.positions.kind == PositionKind::Sinusoidal)
      x = tfm::SinusoidalPositionsOp::create(b, loc, x.getType(), x);
    out = head(stackOf(main, x, Value(), ""), d);
    break;
  }
  case Family::EncoderDecoder: {
    const StackSpec &enc = *spec.encoder, &dec = *spec.decoder;
    Value src =
        embedTokens(enc, body->getArgument(0), Value(), "encoder.pos_embed");
    Value memory = stackOf(enc, src, Value(), "encoder.");
    Value tgt =
        embedTokens(dec, body->getArgument(1), Value(), "decoder.pos_embed");
    out = head(stackOf(dec, tgt, memory, "decoder."), dec.dims.dModel);
    break;
  }
  }
  func::ReturnOp::create(b, loc, out);
  func.setType(b.getFunctionType(inputs, {out.getType()}));
  return module;
}

} // namespace

OwningOpRef<ModuleOp> buildModelIR(MLIRContext &context,
                                   const ModelSpec &spec) {
  context.loadDialect<tfm::TfmDialect, func::FuncDialect>();
  return ModelBuilder(context, spec).build();
}

} // namespace tfc
