//===- KernelDesc.h - What one fused kernel computes -------------*- C++
//-*-===//
//
// The fusion pass groups primitive ops into kernels of a few kinds; each
// group is described by a KernelDesc, from which the Halide generator builds
// the kernel's algorithm and schedule. Kernels with equal descriptors are
// generated once and shared by every layer.
//
// Tensors are row-major, a token a row: "[N, D]" means N rows of D floats,
// D contiguous (Halide dimension 0 is D, dimension 1 is N). N is the
// sequence length of the call (dynamic). All tensors are f32.
//
// Argument order of each kind (inputs, then outputs; [..] only when the
// flag is set). This order is the order of the Halide pipeline's arguments
// and of the plan's argument lists.
//
// Every kernel that depends on positions takes the scalar `pos` (int32, a
// Halide Param passed through _argv as a pointer to the value): the N rows
// of the call are positions pos .. pos+N-1 (0 for a full forward pass; the
// number of cached tokens when decoding with a KV cache).
//
// Embed
//   tokens: int32 [N]; tok_embed [V, D];
//   [types: int32 [N]; type_embed [T, D] if typeVocab > 0];
//   [pos_embed [P, D] if positions == Learned];
//   [gamma [D]; [beta [D] if norm == Layer] if norm != None];
//   pos: int32 scalar  ->  x [N, D]
//   x[n] = tok_embed[tokens[n]] (+ type_embed[types[n]])
//          (+ pos_embed[pos + n] | + sinusoidal(pos + n)), then norm(x) when
//   norm != None (BERT's embedding LayerNorm).
//   Token and type ids and pos + N <= P are validated by the runtime; the
//   kernel clamps indices.
//
// QKV (norm + Q/K/V projections + bias + RoPE)
//   x [N, D]; [gamma [D] if norm != None]; [beta [D] if norm == Layer];
//   wq [D, H*K]; wk [D, Hkv*K]; wv [D, Hkv*K];
//   [bq [H*K]; bk [Hkv*K]; bv [Hkv*K] if bias]; pos: int32 scalar
//   ->  q [N, H*K]; k [N, Hkv*K]; v [N, Hkv*K]
//   xn = norm(x); q = xn wq + bq; k = xn wk + bk; v = xn wv + bv; with rope,
//   q and k are rotated per head (rotate-half: pair i with i + K/2, angle
//   (pos + n) * theta^(-2i/K)). k and v are written straight into the KV
//   cache (the runtime passes the cache rows pos .. pos+N-1 as the k and v
//   output buffers).
//   Cross-attention splits the kind in two (`parts`): Q alone (x, [gamma,
//   beta], wq, [bq], pos -> q: the decoder's queries) and KV alone (x,
//   [gamma, beta], wk, wv, [bk, bv], pos -> k, v: the encoder output's keys
//   and values, computed once per source into the cache).
//
// Attention (the core: never materialises the N x N scores)
//   q [N, H*K]; k [M, Hkv*K]; v [M, Hkv*K]  ->  o [N, H*K]
//   M >= N keys (the cache rows 0 .. pos+N-1); the N queries are the last N
//   positions. Per head h (kv head g = h / (H/Hkv)):
//   o_h = softmax(q_h k_g^T / sqrt(K) [causal: key j <= query i + M - N]) v_g.
//   With keyMask, a fourth input mask: int32 [M] excludes the keys whose
//   entry is 0 (an encoder's padding); a row with no key left is 0.
//
// ProjResidual (projection + bias + residual, optional post-norm)
//   a [N, In]; w [In, D]; [b [D] if bias]; r [N, D];
//   [gamma [D]; [beta [D] if norm == Layer] if norm != None]
//   ->  y [N, D]
//   y = r + a w + b, then y = norm(y) when norm != None (post-norm blocks).
//
// MLPUp (norm + up projection + bias + activation, optional gate)
//   x [N, D]; [gamma; [beta]]; w1 [D, F]; [b1 [F] if bias];
//   [w3 [D, F]; [b3 [F] if bias] if gated]  ->  h [N, F]
//   h = act(xn w1 + b1) (* (xn w3 + b3) if gated).
//
// Matrix weights (wq, wk, wv, w, w1, w3 and the head's w: the right-hand
// operands of the products, [In, Cols]) have a storage type and a layout,
// chosen after fusion (tfc compile --quantize, the target's vector width, a
// tuning file): f32, f16 or bf16 (converted to f32 in registers), or int8
// with one f32 scale per column (w = scale[c] * q[k, c], symmetric, per
// output channel); row-major, or packed in column panels of P columns
// ([ceil(Cols/P), In, P], zero-padded), so that one register tile of the
// product streams one contiguous block of weights. With int8 the matrix
// argument is followed by its scales [In/G, ceil(Cols/P)*P] (or [In/G,
// Cols]): one per column and group of G input rows (G = groupFor()).
// w[k, c] = scale[k/G, c] * q[k, c].
//
// Patch (ViT: the paper's x_n = W p_n + e_n, the patch matrix never
// materialised)
//   image f32 [H, W, C]; w [P*P*C, D]; b [D]; cls [D];
//   [pos_embed [1 + patches, D] if positions == Learned]  ->  x [N, D]
//   N = 1 + (H/P)(W/P); row 0 = cls, row 1 + r = p_r w + b, where p_r is
//   patch r (row-major over the grid) vectorised as (y, x, channel);
//   then + pos_embed[n] (or + sinusoidal(n)).
//
// Classify (ViT: final norm + pooling + classifier)
//   x [N, D]; [gamma; [beta]]; w [D, classes]; b [classes]
//   ->  logits [1, classes]
//   logits = pool(norm(x)) w + b, pool = row 0 (cls) or the mean of rows;
//   with tanhOut, tanh(logits) (BERT's pooler). Encoders with a classifier
//   or pooler head use it too.
//
// Head (final norm + projection to the vocabulary)
//   x [N, D]; [gamma; [beta]]; w: [V, D] if tied (the token embedding,
//   used transposed), else [D, V]  ->  logits [N, V]
//   logits = norm(x) w  (or norm(x) w^T when tied).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_CODEGEN_KERNELDESC_H
#define TFC_CODEGEN_KERNELDESC_H

#include "spec/ModelSpec.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tfc {

enum class KernelKind {
  Embed,
  QKV,
  Attention,
  ProjResidual,
  MLPUp,
  Head,
  Patch,   // ViT: patch embedding + class token + positions
  Classify // ViT: final norm + pooling + classifier
};
enum class KernelNorm { None, Layer, RMS };
/// The projections of a QKV kernel: all three (self-attention), or a
/// cross-attention's queries or its keys and values.
enum class QKVParts { QKV, Q, KV };
enum class WeightType { F32, F16, BF16, I8 };

struct KernelDesc {
  KernelKind kind = KernelKind::Embed;
  // Dimensions (those the kind uses; others stay 0).
  int64_t d =
      0; // D: model width (Embed, QKV, MLPUp, Head; ProjResidual output)
  int64_t in = 0;      // ProjResidual: input width (H*K or F)
  int64_t heads = 0;   // H
  int64_t kvHeads = 0; // Hkv
  int64_t headDim = 0; // K
  int64_t dFF = 0;     // F (MLPUp)
  int64_t vocab = 0;   // V (Embed, Head)
  int64_t maxSeq = 0;  // rows of the position table (Embed); largest N
  int64_t typeVocab = 0; // T: rows of the token-type table (Embed); 0 = none
  int64_t imageH = 0, imageW = 0, imageC = 0, patch = 0; // Patch
  int64_t classes = 0;                                   // Classify
  bool meanPool = false; // Classify: mean of the rows (else row 0)
  bool tanhOut = false;  // Classify: tanh of the result (BERT's pooler)
  // Flags.
  KernelNorm norm = KernelNorm::None;
  double eps = 1e-5;
  bool bias = false;
  bool rope = false;
  double ropeTheta = 10000.0;
  bool causal = false;
  bool keyMask = false; // Attention: a padding mask over the keys
  QKVParts parts = QKVParts::QKV; // QKV only
  Activation activation = Activation::GELUTanh;
  bool gated = false;
  bool tied = false;
  PositionKind positions = PositionKind::None; // Embed only
  // Matrix weights and schedule (0 = the target's default).
  WeightType weightType = WeightType::F32;
  int64_t panel = 0;     // columns of a register tile and of a packed panel;
                         // > 0 packs the matrices
  int64_t tileRows = 0;  // rows of a register tile
  int64_t queryTile = 0; // Attention: query rows per score tile
  int64_t group = 0;     // int8: input rows per scale (0: one per column)

  /// A C identifier unique to this descriptor, e.g.
  /// "tfk_qkv_ln_d768_h12x12_k64_bias", used as the kernel's symbol.
  std::string symbol() const;
  bool operator==(const KernelDesc &o) const { return symbol() == o.symbol(); }
};

const char *toString(KernelKind kind);
const char *toString(WeightType type);
std::optional<WeightType> parseWeightType(const std::string &name);
/// Bytes of one element of `type`.
int weightTypeBytes(WeightType type);

/// Whether the kind has matrix weights (QKV, ProjResidual, MLPUp, Head).
bool hasMatrices(KernelKind kind);
/// The query heads and the key/value heads a QKV kernel projects to: both
/// for self-attention, one of them (the other 0) for a cross-attention part.
int64_t queryHeads(const KernelDesc &d);
int64_t keyHeads(const KernelDesc &d);
/// Indices, among the kernel's inputs (KernelDesc.h order, without int8
/// scales), of its matrix weights.
std::vector<int> matrixInputs(const KernelDesc &d);
/// The panel of a matrix of `cols` columns: d.panel (the last panel padded
/// when that adds at most 1/8 of the columns), else 2/3 or 1/3 of it when
/// that divides `cols`, else d.panel padded; the largest power of two <=
/// cols when cols < d.panel; 0 when d.panel is 0.
int64_t panelFor(const KernelDesc &d, int64_t cols);
/// int8: the input rows that share a scale in a matrix of `in` rows: d.group
/// when it divides `in`, else `in` (one scale per column).
int64_t groupFor(const KernelDesc &d, int64_t in);

} // namespace tfc

#endif // TFC_CODEGEN_KERNELDESC_H
