//===- Manifest.cpp - The weights a model needs
//----------------------------===//
//
// The single place that decides which tensors a spec implies; layouts,
// loading and random initialisation all walk this list.
//
//===----------------------------------------------------------------------===//
#include "weights/Manifest.h"

namespace tfc {

namespace {

class ManifestBuilder {
public:
  explicit ManifestBuilder(std::vector<TensorInfo> &list) : out(list) {}

  void add(std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape)});
  }

  void norm(const std::string &prefix, NormKind kind, int64_t d) {
    add(prefix + ".gamma", {d});
    if (kind == NormKind::LayerNorm)
      add(prefix + ".beta", {d});
  }

  // Attention weights under `prefix` ("layers.3.attn"); `dKV` is the width
  // of the keys/values source (the encoder's D for cross-attention).
  void attention(const std::string &prefix, const Dims &dims,
                 const BlockSpec &block, int64_t dKV) {
    int64_t d = dims.dModel;
    int64_t q = dims.nHeads * dims.headDim;
    int64_t kv = dims.nKVHeads * dims.headDim;
    add(prefix + ".wq", {d, q});
    add(prefix + ".wk", {dKV, kv});
    add(prefix + ".wv", {dKV, kv});
    add(prefix + ".wo", {q, d});
    if (block.attention.bias) {
      add(prefix + ".bq", {q});
      add(prefix + ".bk", {kv});
      add(prefix + ".bv", {kv});
      add(prefix + ".bo", {d});
    }
  }

  void mlp(const std::string &prefix, const Dims &dims,
           const BlockSpec &block) {
    int64_t d = dims.dModel, f = dims.dFF;
    add(prefix + ".w1", {d, f});
    add(prefix + ".w2", {f, d});
    if (block.mlp.gated)
      add(prefix + ".w3", {d, f});
    if (block.mlp.bias) {
      add(prefix + ".b1", {f});
      add(prefix + ".b2", {d});
      if (block.mlp.gated)
        add(prefix + ".b3", {f});
    }
  }

  // One stack's layers and final norm. `crossD` > 0 adds cross-attention
  // (decoder of an encoder-decoder) to an encoder output of that width.
  void stack(const std::string &s, const Dims &dims, const BlockSpec &block,
             bool finalNorm, int64_t crossD) {
    for (int64_t i = 0; i < dims.nLayers; ++i) {
      std::string l = s + "layers." + std::to_string(i) + ".";
      norm(l + "attn_norm", block.norm, dims.dModel);
      attention(l + "attn", dims, block, dims.dModel);
      if (crossD > 0) {
        norm(l + "cross_norm", block.norm, dims.dModel);
        attention(l + "cross", dims, block, crossD);
      }
      norm(l + "mlp_norm", block.norm, dims.dModel);
      mlp(l + "mlp", dims, block);
    }
    if (finalNorm)
      norm(s + "final_norm", block.norm, dims.dModel);
  }

private:
  std::vector<TensorInfo> &out;
};

} // namespace

std::vector<TensorInfo> buildManifest(const ModelSpec &spec) {
  std::vector<TensorInfo> out;
  ManifestBuilder b(out);
  const Dims &dims = spec.dims;
  const int64_t d = dims.dModel;
  const bool learned = spec.positions.kind == PositionKind::Learned;
  bool hasTokEmbed = false;

  if (spec.family == Family::ViT && spec.image) {
    const ImageSpec &img = *spec.image;
    b.add("patch.w", {img.patch * img.patch * img.channels, d});
    b.add("patch.b", {d});
    b.add("cls_token", {d});
    if (learned)
      b.add("pos_embed", {1 + img.numPatches(), d});
  } else {
    b.add("tok_embed", {dims.vocab, d});
    hasTokEmbed = true;
    if (dims.typeVocab > 0)
      b.add("type_embed", {dims.typeVocab, d});
    if (learned && spec.family != Family::EncoderDecoder)
      b.add("pos_embed", {dims.maxSeq, d});
  }
  if (spec.embeddingNorm)
    b.norm("embed_norm", spec.block.norm, d);

  // The head reads the last stack's output: the decoder's, if there are two.
  int64_t headD = d;
  if (spec.family == Family::EncoderDecoder) {
    // Each stack falls back to the top level if the spec left it unset.
    StackSpec enc = spec.encoder.value_or(StackSpec{spec.dims, spec.block});
    StackSpec dec = spec.decoder.value_or(StackSpec{spec.dims, spec.block});
    headD = dec.dims.dModel;
    if (learned) {
      b.add("encoder.pos_embed", {enc.dims.maxSeq, enc.dims.dModel});
      b.add("decoder.pos_embed", {dec.dims.maxSeq, dec.dims.dModel});
    }
    b.stack("encoder.", enc.dims, enc.block, spec.finalNorm, 0);
    b.stack("decoder.", dec.dims, dec.block, spec.finalNorm, enc.dims.dModel);
  } else {
    b.stack("", dims, spec.block, spec.finalNorm, 0);
  }

  if (spec.head.kind == HeadKind::LM &&
      (!spec.head.tieEmbeddings || !hasTokEmbed))
    b.add("lm_head.w", {headD, dims.vocab});
  if (spec.head.kind == HeadKind::Classifier) {
    b.add("classifier.w", {headD, spec.head.classes});
    b.add("classifier.b", {spec.head.classes});
  }
  if (spec.head.kind == HeadKind::Pooler) {
    b.add("pooler.w", {headD, headD});
    b.add("pooler.b", {headD});
  }
  return out;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace tfc
