//===- Manifest.h - The weights a model needs --------------------*- C++
//-*-===//
//
// The manifest lists every weight tensor of a model under its native name
// (docs/weights.md), with its shape in the native orientation: a projection
// matrix is [in, out], so y = x W for a row-major token matrix x.
//
// Native names (i = layer index, S = "" or "encoder." / "decoder."):
//   tok_embed [V, D]        type_embed [type_vocab, D]   pos_embed [max_seq, D]
//   embed_norm.{gamma,beta} [D]
//   patch.w [P*P*C, D]  patch.b [D]  cls_token [D]  pos_embed [1+patches, D]
//   S layers.i.attn_norm.{gamma,beta} [D]      (beta only for layernorm)
//   S layers.i.attn.{wq [D,H*K], wk [D,Hkv*K], wv [D,Hkv*K], wo [H*K,D]}
//   S layers.i.attn.{bq [H*K], bk [Hkv*K], bv [Hkv*K], bo [D]} (bias: true)
//   decoder.layers.i.cross_norm.*, decoder.layers.i.cross.* (encoder-decoder)
//   S layers.i.mlp_norm.{gamma,beta} [D]
//   S layers.i.mlp.{w1 [D,F], w2 [F,D], w3 [D,F] (gated)}
//   S layers.i.mlp.{b1 [F], b2 [D], b3 [F] (gated)}   (bias: true)
//   S final_norm.{gamma,beta} [D]
//   lm_head.w [D, V] (untied lm head)   classifier.{w [D, C], b [C]}
// For an encoder-decoder, positions are per stack: encoder.pos_embed,
// decoder.pos_embed [max_seq, D] of that stack.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_WEIGHTS_MANIFEST_H
#define TFC_WEIGHTS_MANIFEST_H

#include "spec/ModelSpec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tfc {

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
};

/// Every weight of `spec`, in native names and orientation, in a stable
/// order (embeddings, then layers in order, then final norm and head).
std::vector<TensorInfo> buildManifest(const ModelSpec &spec);

/// "[768, 2304]"
std::string formatShape(const std::vector<int64_t> &shape);

} // namespace tfc

#endif // TFC_WEIGHTS_MANIFEST_H
