//===- TfmOps.td - tfm operations --------------------------*- tablegen -*-===//
//
// Model-level ops first (what a spec says), then primitive ops (what a
// kernel is made of). Every op verifies its shapes and says what it found.
//
//===----------------------------------------------------------------------===//
#ifndef TFM_OPS_TD
#define TFM_OPS_TD

include "TfmDialect.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/RegionKindInterface.td"

def Tfm_Tensor : RankedTensorOf<[AnyFloat]>;
def Tfm_IdTensor : RankedTensorOf<[I32]>;

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

def Tfm_WeightOp : Tfm_Op<"weight", [Pure]> {
  let summary = "a named weight tensor, bound by the runtime";
  let description = [{
    Refers to one tensor of the model's weights by its native name
    (docs/weights.md). The compiler never sees the values unless asked to
    embed them; the runtime checks the weights file against these names and
    shapes. Shapes are static.

    ```mlir
    %wq = tfm.weight @layers.0.attn.wq : tensor<768x768xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tfm_EmbedOp : Tfm_Op<"embed", [Pure]> {
  let summary = "token embedding: one table row per token id";
  let description = [{
    `result[n] = table[tokens[n]]`. The table is `[V, D]`; a token id
    outside `[0, V)` is a run-time error.

    ```mlir
    %x = tfm.embed %tokens, %wte : (tensor<?xi32>, tensor<50257x768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_IdTensor:$tokens, Tfm_Tensor:$table);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$tokens `,` $table attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_LearnedPositionsOp : Tfm_Op<"learned_positions", [Pure]> {
  let summary = "adds learned position embeddings";
  let description = [{
    `result[n] = x[n] + table[n]` for the first N rows of a `[max_seq, D]`
    table. N larger than max_seq is a run-time error.

    ```mlir
    %y = tfm.learned_positions %x, %wpe : (tensor<?x768xf32>, tensor<1024x768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$table);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$x `,` $table attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_SinusoidalPositionsOp : Tfm_Op<"sinusoidal_positions", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "adds the fixed sinusoidal position embeddings";
  let description = [{
    `result[n][2i] = x[n][2i] + sin(n / 10000^(2i/D))` and the cosine on odd
    features, as in the original transformer.

    ```mlir
    %y = tfm.sinusoidal_positions %x : tensor<?x512xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_LayerNormOp : Tfm_Op<"layernorm", [Pure]> {
  let summary = "LayerNorm over the D features of each token";
  let description = [{
    The paper's TokenNorm: `(x - mean) / sqrt(var + eps) * gamma + beta`,
    mean and (biased) variance over the last axis.

    ```mlir
    %y = tfm.layernorm %x, %g, %b {eps = 1.0e-05 : f64} : (tensor<?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$gamma, Tfm_Tensor:$beta,
                   F64Attr:$eps);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x `,` $gamma `,` $beta attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_RMSNormOp : Tfm_Op<"rmsnorm", [Pure]> {
  let summary = "RMSNorm over the D features of each token";
  let description = [{
    `x / sqrt(mean(x^2) + eps) * gamma` over the last axis.

    ```mlir
    %y = tfm.rmsnorm %x, %g {eps = 1.0e-05 : f64} : (tensor<?x2048xf32>, tensor<2048xf32>) -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$gamma, F64Attr:$eps);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$x `,` $gamma attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_AttentionOp : Tfm_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "multi-head attention with its projections";
  let description = [{
    Queries come from `x` (`[N, D]`); keys and values from `memory`
    (`[M, Dm]`, cross-attention to an encoder's output) or from `x` itself.
    `wq: [D, H*K]`, `wk, wv: [Dm, Hkv*K]`, `wo: [H*K, D]`; `bias` holds
    bq, bk, bv, bo or nothing. Query head h reads key/value head
    `h / (H / Hkv)` (grouped-query attention). Scores are scaled by
    `1/sqrt(K)`; `causal` masks later keys; `rope_theta` rotates q and k by
    position (rotate-half convention) before the scores. `key_mask`
    (`[M]` int32, encoders) excludes the keys whose entry is 0: a padded
    batch's padding tokens then change no other token's output.

    ```mlir
    %a = tfm.attention %h weights(%wq, %wk, %wv, %wo)
           {causal, head_dim = 64 : i64, heads = 12 : i64, kv_heads = 12 : i64}
           : (tensor<?x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Optional<Tfm_Tensor>:$memory,
                   Optional<Tfm_IdTensor>:$key_mask,
                   Tfm_Tensor:$wq, Tfm_Tensor:$wk, Tfm_Tensor:$wv,
                   Tfm_Tensor:$wo, Variadic<Tfm_Tensor>:$biases,
                   I64Attr:$heads, I64Attr:$kv_heads, I64Attr:$head_dim,
                   UnitAttr:$causal, OptionalAttr<F64Attr>:$rope_theta);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = [{
    $x (`memory` `(` $memory^ `)`)? (`mask` `(` $key_mask^ `)`)? `weights` `(` $wq `,` $wk `,` $wv `,` $wo `)`
    (`bias` `(` $biases^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_MLPOp : Tfm_Op<"mlp", [Pure, AttrSizedOperandSegments]> {
  let summary = "the per-token MLP, plain or gated";
  let description = [{
    Plain: `act(x W1 + b1) W2 + b2`. Gated (SwiGLU-style):
    `(act(x W1 + b1) * (x W3 + b3)) W2 + b2`. `w1, w3: [D, F]`,
    `w2: [F, D]`; `bias` holds b1, b2 (and b3 when gated) or nothing.

    ```mlir
    %m = tfm.mlp %h weights(%w1, %w2) bias(%b1, %b2) {activation = gelu_tanh}
           : (tensor<?x768xf32>, tensor<768x3072xf32>, tensor<3072x768xf32>, tensor<3072xf32>, tensor<768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$w1, Tfm_Tensor:$w2,
                   Optional<Tfm_Tensor>:$w3, Variadic<Tfm_Tensor>:$biases,
                   Tfm_Activation:$activation);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = [{
    $x `weights` `(` $w1 `,` $w2 (`,` `gate` $w3^)? `)`
    (`bias` `(` $biases^ `)`)? `activation` `=` $activation attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tfm_LinearOp : Tfm_Op<"linear", [Pure]> {
  let summary = "a projection: x W + b";
  let description = [{
    `x: [N, in]`, `w: [in, out]`, optional `bias: [out]`.

    ```mlir
    %y = tfm.linear %x, %w bias %b : (tensor<?x768xf32>, tensor<768x10xf32>, tensor<10xf32>) -> tensor<?x10xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$w,
                   Optional<Tfm_Tensor>:$bias);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x `,` $w (`bias` $bias^)? attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_PatchEmbedOp : Tfm_Op<"patch_embed", [Pure]> {
  let summary = "ViT patch embedding with a class token";
  let description = [{
    Cuts an `[H, W, C]` image into `P x P` patches (row-major over the
    patch grid), vectorises each patch in (row, column, channel) order,
    projects it (`w: [P*P*C, D]`, `b: [D]`) and puts the learned class token
    (`cls: [D]`) first: `[1 + (H/P)(W/P), D]`.

    ```mlir
    %x = tfm.patch_embed %img, %w, %b, %cls {patch = 16 : i64} : (tensor<224x224x3xf32>, tensor<768x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<197x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$image, Tfm_Tensor:$w, Tfm_Tensor:$b,
                   Tfm_Tensor:$cls, I64Attr:$patch);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$image `,` $w `,` $b `,` $cls attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_LMHeadOp : Tfm_Op<"lm_head", [Pure]> {
  let summary = "logits over the vocabulary";
  let description = [{
    `x W` with `w: [D, V]`, or with `tied` the token embedding table
    `[V, D]` used transposed: `x table^T`. One row of V logits per token.

    ```mlir
    %logits = tfm.lm_head %x, %wte {tied} : (tensor<?x768xf32>, tensor<50257x768xf32>) -> tensor<?x50257xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$w, UnitAttr:$tied);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$x `,` $w attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_ClassifierHeadOp : Tfm_Op<"classifier_head", [Pure]> {
  let summary = "class scores from the pooled token states";
  let description = [{
    Pools `[N, D]` to `[1, D]` (`cls`: the first token's state; `mean`: the
    mean over tokens), then `pooled W + b` with `w: [D, C]`, `b: [C]`.

    ```mlir
    %scores = tfm.classifier_head %x, %w, %b pool = cls : (tensor<197x768xf32>, tensor<768x1000xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_Tensor:$w, Tfm_Tensor:$b,
                   Tfm_Pool:$pool);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x `,` $w `,` $b `pool` `=` $pool attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

class Tfm_BinaryOp<string mnemonic, string what>
    : Tfm_Op<mnemonic, [Pure]> {
  let summary = "elementwise " # what # " with trailing-axis broadcasting";
  let description = [{
    Numpy broadcasting: shapes are aligned at the last axis and each axis
    must match or be 1 on one side. A residual connection is an add of two
    `[N, D]` tensors; a bias is an add of `[N, D]` and `[D]`.

    ```mlir
    %y = tfm.}] # mnemonic # [{ %a, %b : (tensor<?x768xf32>, tensor<768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$lhs, Tfm_Tensor:$rhs);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_AddOp : Tfm_BinaryOp<"add", "addition">;
def Tfm_SubOp : Tfm_BinaryOp<"sub", "subtraction">;
def Tfm_MulOp : Tfm_BinaryOp<"mul", "multiplication">;

def Tfm_GatherOp : Tfm_Op<"gather", [Pure]> {
  let summary = "rows of a table selected by ids";
  let description = [{
    `result[n] = table[ids[n]]`; an id outside the table is a run-time error.

    ```mlir
    %x = tfm.gather %wte, %ids : (tensor<64x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$table, Tfm_IdTensor:$ids);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$table `,` $ids attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_ArangeOp : Tfm_Op<"arange", [Pure]> {
  let summary = "positions offset, offset+1, ... for each row of a tensor";
  let description = [{
    A `[N]` tensor of ids `offset .. offset + N - 1`, N being the leading
    extent of `like`.

    ```mlir
    %pos = tfm.arange %x {offset = 0 : i64} : tensor<?x32xf32> -> tensor<?xi32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$like, DefaultValuedAttr<I64Attr, "0">:$offset);
  let results = (outs Tfm_IdTensor:$result);
  let assemblyFormat = "$like attr-dict `:` type($like) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_SinusoidalOp : Tfm_Op<"sinusoidal", [Pure, AllTypesMatch<["like", "result"]>]> {
  let summary = "the sinusoidal position table, shaped like its operand";
  let description = [{
    `result[n][2i] = sin(n / 10000^(2i/D))`, `result[n][2i+1] = cos(...)`
    for an `[N, D]` operand (only its shape is read).

    ```mlir
    %pe = tfm.sinusoidal %x : tensor<?x512xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$like);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$like attr-dict `:` type($like)";
  let hasVerifier = 1;
}

def Tfm_MatmulOp : Tfm_Op<"matmul", [Pure]> {
  let summary = "matrix product, optionally batched, optionally with B transposed";
  let description = [{
    Rank 2: `[M, K] x [K, N] -> [M, N]`. Rank 3: a batch of those,
    `[B, M, K] x [B, K, N] -> [B, M, N]`. With `transpose_b`, B is given as
    `[.., N, K]`. Accumulation is at least f32.

    ```mlir
    %s = tfm.matmul %q, %k {transpose_b} : (tensor<12x?x64xf32>, tensor<12x?x64xf32>) -> tensor<12x?x?xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$a, Tfm_Tensor:$b, UnitAttr:$transpose_b);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$a `,` $b attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_ScaleOp : Tfm_Op<"scale", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "multiplication by a constant";
  let description = [{
    ```mlir
    %y = tfm.scale %s {factor = 1.250000e-01 : f64} : tensor<12x?x?xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, F64Attr:$factor);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_ActivationOp : Tfm_Op<"activation", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "an elementwise activation function";
  let description = [{
    relu, gelu (`x/2 (1 + erf(x/sqrt 2))`), gelu_tanh (GPT-2's tanh
    approximation), silu (`x sigmoid(x)`) or tanh (BERT's pooler).

    ```mlir
    %y = tfm.activation gelu_tanh %h : tensor<?x3072xf32>
    ```
  }];
  let arguments = (ins Tfm_Activation:$kind, Tfm_Tensor:$x);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$kind $x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_NormalizeOp : Tfm_Op<"normalize", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "normalisation over the last axis, without gain or bias";
  let description = [{
    `layer`: `(x - mean) / sqrt(var + eps)`; `rms`: `x / sqrt(mean(x^2) + eps)`.
    The reduction half of a norm; gain and bias follow as `tfm.mul`/`tfm.add`.

    ```mlir
    %n = tfm.normalize layer %x {eps = 1.0e-05 : f64} : tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Tfm_NormKind:$kind, Tfm_Tensor:$x, F64Attr:$eps);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$kind $x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_SoftmaxOp : Tfm_Op<"softmax", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "softmax over the last axis";
  let description = [{
    Max-subtracted for stability; a row of all -inf gives zeros.

    ```mlir
    %p = tfm.softmax %s : tensor<12x?x?xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_CausalMaskOp : Tfm_Op<"causal_mask", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "masks scores of keys later than their query";
  let description = [{
    Over the last two axes `[.., N, M]` (queries, keys), entry `(i, j)`
    becomes -inf when `j > i + (M - N)`: the N queries are the last N of
    the M positions.

    ```mlir
    %m = tfm.causal_mask %s : tensor<12x?x?xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_KeyMaskOp : Tfm_Op<"key_mask", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "masks scores of the keys a padding mask excludes";
  let description = [{
    Over the last two axes `[.., N, M]` (queries, keys), entry `(i, j)`
    becomes -inf when `mask[j] == 0` (`mask: [M]` int32, 1 = a real token,
    0 = padding).

    ```mlir
    %m = tfm.key_mask %s, %mask : (tensor<12x?x?xf32>, tensor<?xi32>) -> tensor<12x?x?xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, Tfm_IdTensor:$mask);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$x `,` $mask attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_RopeOp : Tfm_Op<"rope", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "rotary position embedding (rotate-half convention)";
  let description = [{
    For `[N, H, K]` (position, head, feature) and each pair
    `(i, i + K/2)`, i < K/2: rotates by the angle
    `(n + offset) * theta^(-2i/K)`.

    ```mlir
    %q = tfm.rope %q3 {theta = 1.0e+04 : f64} : tensor<?x32x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, F64Attr:$theta,
                   DefaultValuedAttr<I64Attr, "0">:$offset);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Tfm_ReshapeOp : Tfm_Op<"reshape", [Pure]> {
  let summary = "the same elements, row-major, in another shape";
  let description = [{
    At most one dynamic extent on each side; it is inferred from the
    element count.

    ```mlir
    %q3 = tfm.reshape %q : tensor<?x768xf32> -> tensor<?x12x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_TransposeOp : Tfm_Op<"transpose", [Pure]> {
  let summary = "permutes the axes";
  let description = [{
    `result.shape[i] = x.shape[perm[i]]`.

    ```mlir
    %qh = tfm.transpose %q3 {perm = array<i64: 1, 0, 2>} : tensor<?x12x64xf32> -> tensor<12x?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, DenseI64ArrayAttr:$perm);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_RepeatOp : Tfm_Op<"repeat", [Pure]> {
  let summary = "repeats each index along an axis (grouped-query heads)";
  let description = [{
    Each index along `axis` is repeated `times` times in a row, so that key
    head g serves query heads `g*times .. g*times + times - 1`.

    ```mlir
    %kh = tfm.repeat %k {axis = 0 : i64, times = 8 : i64} : tensor<4x?x64xf32> -> tensor<32x?x64xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, I64Attr:$axis, I64Attr:$times);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_PatchifyOp : Tfm_Op<"patchify", [Pure]> {
  let summary = "cuts an image into vectorised patches";
  let description = [{
    `[H, W, C] -> [(H/P)(W/P), P*P*C]`, patches in row-major order of the
    grid, each in (row, column, channel) order.

    ```mlir
    %p = tfm.patchify %img {patch = 16 : i64} : tensor<224x224x3xf32> -> tensor<196x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$image, I64Attr:$patch);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$image attr-dict `:` type($image) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_ConcatOp : Tfm_Op<"concat", [Pure]> {
  let summary = "joins two tensors along an axis";
  let description = [{
    ```mlir
    %x = tfm.concat %cls, %patches {axis = 0 : i64} : (tensor<1x768xf32>, tensor<196x768xf32>) -> tensor<197x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$lhs, Tfm_Tensor:$rhs, I64Attr:$axis);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Tfm_ReduceMeanOp : Tfm_Op<"reduce_mean", [Pure]> {
  let summary = "mean along an axis, which is kept with extent 1";
  let description = [{
    ```mlir
    %m = tfm.reduce_mean %x {axis = 0 : i64} : tensor<?x768xf32> -> tensor<1x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, I64Attr:$axis);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

def Tfm_SliceOp : Tfm_Op<"slice", [Pure]> {
  let summary = "a contiguous range of indices along an axis";
  let description = [{
    ```mlir
    %c = tfm.slice %x {axis = 0 : i64, size = 1 : i64, start = 0 : i64} : tensor<197x768xf32> -> tensor<1x768xf32>
    ```
  }];
  let arguments = (ins Tfm_Tensor:$x, I64Attr:$axis, I64Attr:$start,
                   I64Attr:$size);
  let results = (outs Tfm_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fused kernels
//===----------------------------------------------------------------------===//

def Tfm_KernelOp : Tfm_Op<"kernel", [IsolatedFromAbove, Pure,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "one fused kernel: a group of primitive ops run as one";
  let description = [{
    Made by `tfm-fuse`. The body holds the primitive ops of the group, with
    the kernel's inputs as block arguments, in the argument order of the
    kernel's kind. `kind` and `desc` say what the Halide generator builds;
    `symbol` names the generated function, shared by every kernel with the
    same descriptor (every layer of the same shape).

    ```mlir
    %x = tfm.kernel @tfk_embed_v64_d32_learned_p32 (%tokens, %wte, %wpe)
           {kind = "embed", desc = {d = 32 : i64, ...}}
           : (tensor<?xi32>, tensor<64x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32> {
    ^bb0(%t: tensor<?xi32>, %e: tensor<64x32xf32>, %p: tensor<32x32xf32>):
      %0 = tfm.gather %e, %t : (tensor<64x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
      ...
      tfm.yield %3 : tensor<?x32xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs,
                   FlatSymbolRefAttr:$symbol, StrAttr:$kind,
                   DictionaryAttr:$desc);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $symbol `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body
  }];
  let hasVerifier = 1;
}

def Tfm_YieldOp : Tfm_Op<"yield", [Pure, Terminator, HasParent<"KernelOp">]> {
  let summary = "the results of a kernel's body";
  let description = [{
    ```mlir
    tfm.yield %q, %k, %v : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ /* empty yield */ }]>];
}

#endif // TFM_OPS_TD
