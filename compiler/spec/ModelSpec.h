//===- ModelSpec.h - The validated model description ------------*- C++ -*-===//
//
// A ModelSpec is what a YAML spec says once it has been parsed, defaulted
// and validated (see docs/spec.md). Every later stage reads it; nothing
// later re-validates it. The paper's letters: D = d_model, H = n_heads,
// K = head_dim, M = n_layers, N = sequence length (dynamic).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_SPEC_MODELSPEC_H
#define TFC_SPEC_MODELSPEC_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tfc {

enum class Family { Decoder, Encoder, ViT, EncoderDecoder };
enum class NormKind { LayerNorm, RMSNorm };
enum class Placement { Pre, Post };
enum class Activation { ReLU, GELU, GELUTanh, SiLU };
enum class PositionKind { Learned, Sinusoidal, RoPE, None };
enum class HeadKind { LM, Classifier, None, Pooler };
enum class Pool { CLS, Mean };
enum class DType { F32, F16, BF16 };
enum class WeightLayout { Native, HFGPT2, HFLlama, HFBERT, HFViT };
enum class TokenizerKind { None, Byte, GPT2 };
/// How an image of another size becomes height x width: scaled to cover it
/// and centre-cropped (torchvision), or each axis scaled on its own (HF).
enum class ImageResizeKind { Crop, Stretch };

struct Dims {
  int64_t vocab = 0;     // required for token-input families
  int64_t dModel = 0;    // D, required
  int64_t nLayers = 0;   // M, required
  int64_t nHeads = 0;    // H, required
  int64_t headDim = 0;   // K; default dModel / nHeads
  int64_t nKVHeads = 0;  // default nHeads; fewer = grouped-query attention
  int64_t dFF = 0;       // default 4 * dModel
  int64_t maxSeq = 0;    // required for token-input families
  int64_t typeVocab = 0; // token-type (segment) embeddings, BERT; 0 = none
};

struct AttentionSpec {
  bool causal = true; // default: true for decoders, false otherwise
  bool bias = true;
};

struct MLPSpec {
  Activation activation = Activation::GELUTanh;
  bool gated = false;
  bool bias = true;
};

struct BlockSpec {
  NormKind norm = NormKind::LayerNorm;
  double normEps = 1.0e-5;
  Placement placement = Placement::Pre;
  AttentionSpec attention;
  MLPSpec mlp;
};

struct PositionSpec {
  PositionKind kind = PositionKind::Learned;
  double ropeTheta = 10000.0;
};

struct HeadSpec {
  HeadKind kind = HeadKind::LM; // default: lm for decoders, classifier for
                                // vit, none for encoders
  bool tieEmbeddings = true;
  int64_t classes = 0; // classifier only, required there
  Pool pool = Pool::CLS;
};

struct ImageSpec {
  int64_t height = 0, width = 0, channels = 3, patch = 0;
  std::vector<double> mean; // one per channel; default 0.5 each
  std::vector<double> std;  // one per channel; default 0.5 each
  ImageResizeKind resize = ImageResizeKind::Crop;
  int64_t numPatches() const { return (height / patch) * (width / patch); }
};

/// One stack of blocks. A decoder, encoder or ViT has one; an
/// encoder-decoder has two (ModelSpec::encoder and ModelSpec::decoder).
struct StackSpec {
  Dims dims;
  BlockSpec block;
};

struct ModelSpec {
  std::string name;
  Family family = Family::Decoder;
  Dims dims;       // the model's dimensions (top level)
  BlockSpec block; // the model's block (top level)
  PositionSpec positions;
  HeadSpec head;
  bool finalNorm = true;
  bool embeddingNorm = false; // LayerNorm after the embeddings (BERT)
  DType dtype = DType::F32;
  WeightLayout layout = WeightLayout::Native;
  TokenizerKind tokenizer = TokenizerKind::None; // how text becomes tokens
  std::optional<ImageSpec> image;                // vit only
  // encoder-decoder only: each stack with the top-level dims/block as
  // defaults and its own overrides applied. Both are set for that family.
  std::optional<StackSpec> encoder;
  std::optional<StackSpec> decoder;
  std::string sourcePath; // the YAML file it came from, for messages
};

// Names as written in YAML, for printing and messages.
const char *toString(Family);
const char *toString(NormKind);
const char *toString(Placement);
const char *toString(Activation);
const char *toString(PositionKind);
const char *toString(HeadKind);
const char *toString(Pool);
const char *toString(DType);
const char *toString(WeightLayout);
const char *toString(TokenizerKind);
const char *toString(ImageResizeKind);

} // namespace tfc

#endif // TFC_SPEC_MODELSPEC_H
