//===- RefKernels.h - Reference interpreter kernels -------------*- C++ -*-===//
//
// The math the reference interpreter is made of: every model-level op
// (embedding, norms, linear layers, attention, RoPE, patch embedding) and
// every primitive op of the IR, written as plain loops in double precision.
// These kernels are the oracle for all compiled code, so they favour
// clarity over speed.
//
// Layout: row-major, a token a row (N x D, the transpose of the paper's
// D x N). Letters follow the paper: N queries/tokens, M keys, D features,
// H heads of width K.
//
// Shapes are assumed already checked by the caller (the MLIR verifiers do
// that); each function states its precondition. Only runtime values that
// can be bad (token ids) are checked, and reported through `error`.
// Axis arguments may be negative (counted from the end, as in numpy).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_REFERENCE_REFKERNELS_H
#define TFC_REFERENCE_REFKERNELS_H

// RefTensor.h uses size_t and std::move without including their headers;
// include them first until the contract header does (reported to the lead).
#include <cstddef>
#include <utility>

#include "reference/RefTensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tfc {
namespace ref {

enum class ActKind { ReLU, GELU, GELUTanh, SiLU, Tanh };
enum class BinaryKind { Add, Sub, Mul };

//===----------------------------------------------------------------------===//
// Model-level building blocks
//===----------------------------------------------------------------------===//

/// Embedding lookup: out[n][:] = table[ids[n]][:], table [V, D], ids [N]
/// (exact doubles), out [N, D]. Returns false with, e.g.,
/// "token id 70 at position 3 is out of range [0, 64)" when an id is outside
/// [0, V), or "token id 2.5 at position 1 is not an integer" when an id is
/// not an integer (NaN and infinities included); `out` is then unspecified.
bool gatherRows(const RefTensor &table, const RefTensor &ids, RefTensor &out,
                std::string &error);

/// Sinusoidal position table [n, d] of "Attention is all you need":
///   PE[p][2i]   = sin(p / 10000^(2i/d)),
///   PE[p][2i+1] = cos(p / 10000^(2i/d)).
/// For odd d the last column (index d-1, even) is a sine.
RefTensor sinusoidalTable(int64_t n, int64_t d);

/// LayerNorm over the last axis (D features of each token):
///   mu = mean(x), var = mean((x - mu)^2)   (biased variance)
///   y  = (x - mu) / sqrt(var + eps) * gamma + beta.
/// gamma and beta (nullable: no bias) are [D].
RefTensor layerNorm(const RefTensor &x, const RefTensor &gamma,
                    const RefTensor *beta, double eps);

/// RMSNorm over the last axis: y = x / sqrt(mean(x^2) + eps) * gamma,
/// gamma [D].
RefTensor rmsNorm(const RefTensor &x, const RefTensor &gamma, double eps);

/// The normalization alone, without gain or bias: layerNorm with gamma = 1
/// and no beta (rms = false), or rmsNorm with gamma = 1 (rms = true).
RefTensor normalize(const RefTensor &x, bool rms, double eps);

/// Affine map of each token: y[n][o] = sum_i x[n][i] * w[i][o] + bias[o].
/// x [N, in] (leading dims beyond one are flattened into N and restored),
/// w [in, out], bias [out] or null; result [N, out].
RefTensor linear(const RefTensor &x, const RefTensor &w, const RefTensor *bias);

/// Elementwise activation:
///   relu(x)      = max(x, 0)
///   gelu(x)      = x/2 * (1 + erf(x / sqrt(2)))
///   gelu_tanh(x) = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
///   silu(x)      = x * sigmoid(x) = x / (1 + exp(-x))
RefTensor activation(const RefTensor &x, ActKind kind);

/// Softmax over the last axis: y_j = exp(x_j - max) / sum_k exp(x_k - max).
/// Subtracting the row max keeps large inputs finite. A row whose entries
/// are all -inf (a query that sees no key) gives all zeros, not NaN.
RefTensor softmaxLastAxis(const RefTensor &x);

/// Rotary position embedding, rotate-half convention (GPT-NeoX, Hugging Face
/// LLaMA). x is [N, H*K] or [N, H, K]; row n is at position p = n + offset.
/// For each head and each pair i in [0, K/2):
///   angle = p * theta^(-2i/K)
///   (x_i, x_{i+K/2}) -> (x_i cos - x_{i+K/2} sin, x_{i+K/2} cos + x_i sin).
/// K must be even. The result has the shape of x.
RefTensor rope(const RefTensor &x, int64_t heads, int64_t headDim, double theta,
               int64_t positionOffset);

/// Scaled dot-product attention, multi-head with grouped-query sharing.
/// q [N, H*K], k and v [M, Hkv*K], H a multiple of Hkv. For query head h
/// the key/value head is g = h / (H / Hkv), and
///   S = q_h k_g^T / sqrt(K)                       [N, M]
///   causal: S[i][j] = -inf for j > i + (M - N)    (query i sits at absolute
///                                                  position i + (M - N), the
///                                                  keys at 0 .. M-1)
///   keyMask ([M], 0 = padding): S[i][j] = -inf where keyMask[j] == 0
///   P = softmax over j of S;  out_h = P v_g       [N, K]
/// The heads are concatenated back to [N, H*K].
RefTensor attention(const RefTensor &q, const RefTensor &k, const RefTensor &v,
                    int64_t heads, int64_t kvHeads, int64_t headDim,
                    bool causal, const RefTensor *keyMask = nullptr);

/// Cuts an image [H, W, C] into non-overlapping P x P patches (H and W
/// multiples of P): result [(H/P)*(W/P), P*P*C]. Patches follow the
/// row-major order of the patch grid; within a patch the vector is ordered
/// (row, col, channel):
///   out[(r*(W/P) + c)][(i*P + j)*C + ch] = image[r*P + i][c*P + j][ch].
RefTensor patchify(const RefTensor &image, int64_t patch);

//===----------------------------------------------------------------------===//
// Primitive ops (each mirrors one primitive op of the IR)
//===----------------------------------------------------------------------===//

/// Matrix product. Rank 2: [M, K] x [K, N] -> [M, N]. Rank >= 3: batched
/// over equal leading dims, [B.., M, K] x [B.., K, N] -> [B.., M, N].
/// transposeB: b is given as [B.., N, K] and used as its transpose, i.e.
///   out[m][n] = sum_k a[m][k] * b[n][k].
RefTensor matmul(const RefTensor &a, const RefTensor &b, bool transposeB);

/// Elementwise a (+|-|*) b with numpy broadcasting: shapes are aligned at
/// their trailing dims and each pair of dims is equal or one of them is 1.
RefTensor binary(const RefTensor &a, const RefTensor &b, BinaryKind kind);

/// y = x * factor.
RefTensor scale(const RefTensor &x, double factor);

/// Causal mask over the last two dims [.., N, M]: entries with
/// j > i + (M - N) become -inf, the others are copied (the queries are the
/// last N of M positions, as in decoding with a KV cache).
RefTensor causalMask(const RefTensor &x);

/// Key padding mask over the last dim [.., M]: entries of keys j with
/// mask[j] == 0 become -inf, the others are copied.
RefTensor keyMask(const RefTensor &x, const RefTensor &mask);
/// An attention mask must be 0 (padding) or 1 (a token) everywhere, with at
/// least one 1; otherwise false and a message as the runtime words it.
bool checkKeyMask(const RefTensor &mask, std::string &error);

/// The same elements, row-major, under a new shape of equal element count.
RefTensor reshape(const RefTensor &x, std::vector<int64_t> shape);

/// Permutes the axes: out.shape[i] = x.shape[perm[i]], and
/// out[i_0, .., i_r] = x[j] with j[perm[a]] = i_a.
RefTensor transpose(const RefTensor &x, const std::vector<int64_t> &perm);

/// Repeats each index along `axis` `times` times consecutively:
/// out index t along axis comes from index t / times. For grouped-query
/// attention, kv head g then serves query heads g*times .. g*times+times-1.
RefTensor repeatInterleave(const RefTensor &x, int64_t axis, int64_t times);

/// Joins a and b along `axis`; all other dims are equal.
RefTensor concat(const RefTensor &a, const RefTensor &b, int64_t axis);

/// Mean along `axis`, which is kept with extent 1.
RefTensor reduceMean(const RefTensor &x, int64_t axis);

/// Indices start .. start+size-1 along `axis` (within bounds).
RefTensor slice(const RefTensor &x, int64_t axis, int64_t start, int64_t size);

/// [n] with values offset, offset+1, .., offset+n-1.
RefTensor arange(int64_t n, int64_t offset);

} // namespace ref
} // namespace tfc

#endif // TFC_REFERENCE_REFKERNELS_H
