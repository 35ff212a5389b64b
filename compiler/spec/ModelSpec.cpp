//===- ModelSpec.cpp - Names of the spec's enumerations
//--------------------===//
#include "spec/ModelSpec.h"

namespace tfc {

const char *toString(Family f) {
  switch (f) {
  case Family::Decoder:
    return "decoder";
  case Family::Encoder:
    return "encoder";
  case Family::ViT:
    return "vit";
  case Family::EncoderDecoder:
    return "encoder-decoder";
  }
  return "?";
}
const char *toString(NormKind k) {
  return k == NormKind::LayerNorm ? "layernorm" : "rmsnorm";
}
const char *toString(Placement p) {
  return p == Placement::Pre ? "pre" : "post";
}
const char *toString(Activation a) {
  switch (a) {
  case Activation::ReLU:
    return "relu";
  case Activation::GELU:
    return "gelu";
  case Activation::GELUTanh:
    return "gelu_tanh";
  case Activation::SiLU:
    return "silu";
  }
  return "?";
}
const char *toString(PositionKind k) {
  switch (k) {
  case PositionKind::Learned:
    return "learned";
  case PositionKind::Sinusoidal:
    return "sinusoidal";
  case PositionKind::RoPE:
    return "rope";
  case PositionKind::None:
    return "none";
  }
  return "?";
}
const char *toString(HeadKind k) {
  switch (k) {
  case HeadKind::LM:
    return "lm";
  case HeadKind::Classifier:
    return "classifier";
  case HeadKind::None:
    return "none";
  case HeadKind::Pooler:
    return "pooler";
  }
  return "?";
}
const char *toString(Pool p) { return p == Pool::CLS ? "cls" : "mean"; }
const char *toString(DType d) {
  switch (d) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  }
  return "?";
}
const char *toString(WeightLayout l) {
  switch (l) {
  case WeightLayout::Native:
    return "native";
  case WeightLayout::HFGPT2:
    return "hf-gpt2";
  case WeightLayout::HFLlama:
    return "hf-llama";
  case WeightLayout::HFBERT:
    return "hf-bert";
  case WeightLayout::HFViT:
    return "hf-vit";
  }
  return "?";
}

const char *toString(TokenizerKind k) {
  switch (k) {
  case TokenizerKind::None:
    return "none";
  case TokenizerKind::Byte:
    return "byte";
  case TokenizerKind::GPT2:
    return "gpt2";
  }
  return "?";
}

const char *toString(ImageResizeKind k) {
  return k == ImageResizeKind::Crop ? "crop" : "stretch";
}

} // namespace tfc
