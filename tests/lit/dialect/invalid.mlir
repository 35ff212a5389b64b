// RUN: tfm-opt %s -split-input-file -verify-diagnostics
// Every verifier message of the tfm dialect, one case each.

func.func @weight_dynamic() {
  // expected-error @+1 {{weight 'w': expected a static shape, found [?, 4]}}
  %w = tfm.weight @w : tensor<?x4xf32>
  return
}

// -----
func.func @embed_tokens_rank(%t: tensor<2x3xi32>, %e: tensor<8x4xf32>) {
  // expected-error @+1 {{tokens: expected rank 1, found rank 2 [2, 3]}}
  %x = tfm.embed %t, %e : (tensor<2x3xi32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @embed_result(%t: tensor<?xi32>, %e: tensor<8x4xf32>) {
  // expected-error @+1 {{result: expected shape [?, 4], found [?, 5]}}
  %x = tfm.embed %t, %e : (tensor<?xi32>, tensor<8x4xf32>) -> tensor<?x5xf32>
  return
}

// -----
func.func @positions_table(%x: tensor<?x4xf32>, %p: tensor<16x8xf32>) {
  // expected-error @+1 {{table: expected shape [?, 4], found [16, 8]}}
  %y = tfm.learned_positions %x, %p : (tensor<?x4xf32>, tensor<16x8xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @positions_too_long(%x: tensor<20x4xf32>, %p: tensor<16x4xf32>) {
  // expected-error @+1 {{x: 20 tokens exceed the 16 positions of the table}}
  %y = tfm.learned_positions %x, %p : (tensor<20x4xf32>, tensor<16x4xf32>) -> tensor<20x4xf32>
  return
}

// -----
func.func @sinusoidal_rank(%x: tensor<4xf32>) {
  // expected-error @+1 {{x: expected rank 2, found rank 1 [4]}}
  %y = tfm.sinusoidal_positions %x : tensor<4xf32>
  return
}

// -----
func.func @layernorm_eps(%x: tensor<?x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{eps: expected a positive value, found 0}}
  %y = tfm.layernorm %x, %g, %g {eps = 0.0 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @layernorm_beta(%x: tensor<?x4xf32>, %g: tensor<4xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{beta: expected shape [4], found [3]}}
  %y = tfm.layernorm %x, %g, %b {eps = 1.0e-5 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @rmsnorm_gamma(%x: tensor<?x4xf32>, %g: tensor<5xf32>) {
  // expected-error @+1 {{gamma: expected shape [4], found [5]}}
  %y = tfm.rmsnorm %x, %g {eps = 1.0e-5 : f64} : (tensor<?x4xf32>, tensor<5xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @rmsnorm_eps(%x: tensor<?x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{eps: expected a positive value, found -1}}
  %y = tfm.rmsnorm %x, %g {eps = -1.0 : f64} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @attention_gqa(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  %a = tfm.attention %x weights(%w, %w, %w, %w) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 3 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_heads(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{heads: expected a positive value, found 0}}
  %a = tfm.attention %x weights(%w, %w, %w, %w) {head_dim = 2 : i64, heads = 0 : i64, kv_heads = 1 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_rope_odd(%x: tensor<?x6xf32>, %w: tensor<6x6xf32>) {
  // expected-error @+1 {{head_dim: rope rotates pairs of features, so expected an even head_dim, found 3}}
  %a = tfm.attention %x weights(%w, %w, %w, %w) {head_dim = 3 : i64, heads = 2 : i64, kv_heads = 2 : i64, rope_theta = 10000.0 : f64} : (tensor<?x6xf32>, tensor<6x6xf32>, tensor<6x6xf32>, tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<?x6xf32>
  return
}

// -----
func.func @attention_wk(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{wk: expected shape [8, 4], found [8, 8]}}
  %a = tfm.attention %x weights(%w, %w, %w, %w) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 2 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_wq(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %q: tensor<8x6xf32>) {
  // expected-error @+1 {{wq: expected shape [8, 8], found [8, 6]}}
  %a = tfm.attention %x weights(%q, %w, %w, %w) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 4 : i64} : (tensor<?x8xf32>, tensor<8x6xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_wo(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{wo: expected shape [8, 8], found [8, 4]}}
  %a = tfm.attention %x weights(%w, %w, %w, %o) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 4 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_memory_width(%x: tensor<?x8xf32>, %m: tensor<?x6xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{wk: expected shape [6, 8], found [8, 8]}}
  %a = tfm.attention %x memory(%m) weights(%w, %w, %w, %w) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 4 : i64} : (tensor<?x8xf32>, tensor<?x6xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_bias_count(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias: expected 4 vectors (bq, bk, bv, bo), found 2}}
  %a = tfm.attention %x weights(%w, %w, %w, %w) bias(%b, %b) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 4 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @attention_bk(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %wk: tensor<8x4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bk: expected shape [4], found [8]}}
  %a = tfm.attention %x weights(%w, %wk, %wk, %w) bias(%b, %b, %b, %b) {head_dim = 2 : i64, heads = 4 : i64, kv_heads = 2 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @mlp_w2(%x: tensor<?x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<8x16xf32>) {
  // expected-error @+1 {{w2: expected shape [16, 8], found [8, 16]}}
  %m = tfm.mlp %x weights(%w1, %w2) activation = relu : (tensor<?x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @mlp_gate(%x: tensor<?x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %w3: tensor<8x12xf32>) {
  // expected-error @+1 {{w3 (gate): expected shape [8, 16], found [8, 12]}}
  %m = tfm.mlp %x weights(%w1, %w2, gate %w3) activation = silu : (tensor<?x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @mlp_bias_count(%x: tensor<?x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %w3: tensor<8x16xf32>, %b1: tensor<16xf32>, %b2: tensor<8xf32>) {
  // expected-error @+1 {{bias: expected 3 vectors (b1, b2, b3), found 2}}
  %m = tfm.mlp %x weights(%w1, %w2, gate %w3) bias(%b1, %b2) activation = silu : (tensor<?x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @mlp_b1(%x: tensor<?x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{b1: expected shape [16], found [8]}}
  %m = tfm.mlp %x weights(%w1, %w2) bias(%b, %b) activation = gelu : (tensor<?x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @linear_w(%x: tensor<?x8xf32>, %w: tensor<6x3xf32>) {
  // expected-error @+1 {{w: expected shape [8, ?], found [6, 3]}}
  %y = tfm.linear %x, %w : (tensor<?x8xf32>, tensor<6x3xf32>) -> tensor<?x3xf32>
  return
}

// -----
func.func @linear_bias(%x: tensor<?x8xf32>, %w: tensor<8x3xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias: expected shape [3], found [8]}}
  %y = tfm.linear %x, %w bias %b : (tensor<?x8xf32>, tensor<8x3xf32>, tensor<8xf32>) -> tensor<?x3xf32>
  return
}

// -----
func.func @patch_divisible(%i: tensor<10x8x3xf32>, %w: tensor<48x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{image: 10x8 is not divisible into 4x4 patches}}
  %x = tfm.patch_embed %i, %w, %b, %b {patch = 4 : i64} : (tensor<10x8x3xf32>, tensor<48x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<6x8xf32>
  return
}

// -----
func.func @patch_w(%i: tensor<8x8x3xf32>, %w: tensor<32x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{w: expected shape [48, ?], found [32, 8]}}
  %x = tfm.patch_embed %i, %w, %b, %b {patch = 4 : i64} : (tensor<8x8x3xf32>, tensor<32x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<5x8xf32>
  return
}

// -----
func.func @patch_result(%i: tensor<8x8x3xf32>, %w: tensor<48x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{result: expected shape [5, 8], found [4, 8]}}
  %x = tfm.patch_embed %i, %w, %b, %b {patch = 4 : i64} : (tensor<8x8x3xf32>, tensor<48x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----
func.func @patch_dynamic(%i: tensor<?x8x3xf32>, %w: tensor<48x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{image: expected a static shape, found [?, 8, 3]}}
  %x = tfm.patch_embed %i, %w, %b, %b {patch = 4 : i64} : (tensor<?x8x3xf32>, tensor<48x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<5x8xf32>
  return
}

// -----
func.func @lm_head_tied(%x: tensor<?x8xf32>, %e: tensor<64x4xf32>) {
  // expected-error @+1 {{w (tied table): expected shape [64, 8], found [64, 4]}}
  %l = tfm.lm_head %x, %e {tied} : (tensor<?x8xf32>, tensor<64x4xf32>) -> tensor<?x64xf32>
  return
}

// -----
func.func @lm_head_w(%x: tensor<?x8xf32>, %w: tensor<4x64xf32>) {
  // expected-error @+1 {{w: expected shape [8, 64], found [4, 64]}}
  %l = tfm.lm_head %x, %w : (tensor<?x8xf32>, tensor<4x64xf32>) -> tensor<?x64xf32>
  return
}

// -----
func.func @classifier_b(%x: tensor<5x8xf32>, %w: tensor<8x10xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{b: expected shape [10], found [8]}}
  %s = tfm.classifier_head %x, %w, %b pool = cls : (tensor<5x8xf32>, tensor<8x10xf32>, tensor<8xf32>) -> tensor<1x10xf32>
  return
}

// -----
func.func @classifier_result(%x: tensor<5x8xf32>, %w: tensor<8x10xf32>, %b: tensor<10xf32>) {
  // expected-error @+1 {{result: expected shape [1, 10], found [5, 10]}}
  %s = tfm.classifier_head %x, %w, %b pool = mean : (tensor<5x8xf32>, tensor<8x10xf32>, tensor<10xf32>) -> tensor<5x10xf32>
  return
}

// -----
func.func @add_broadcast(%a: tensor<?x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{operands do not broadcast: [?, 8] and [4] differ at axis 1}}
  %y = tfm.add %a, %b : (tensor<?x8xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @mul_result(%a: tensor<?x8xf32>, %b: tensor<?x1xf32>) {
  // expected-error @+1 {{result: expected shape [?, 8], found [?, 1]}}
  %y = tfm.mul %a, %b : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  return
}

// -----
func.func @sub_rank(%a: tensor<2x8xf32>, %b: tensor<3x8xf32>) {
  // expected-error @+1 {{operands do not broadcast: [2, 8] and [3, 8] differ at axis 0}}
  %y = tfm.sub %a, %b : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x8xf32>
  return
}

// -----
func.func @gather_ids(%t: tensor<8x4xf32>, %i: tensor<2x2xi32>) {
  // expected-error @+1 {{ids: expected rank 1, found rank 2 [2, 2]}}
  %x = tfm.gather %t, %i : (tensor<8x4xf32>, tensor<2x2xi32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @arange_offset(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{offset: expected a non-negative value, found -1}}
  %p = tfm.arange %x {offset = -1 : i64} : tensor<?x4xf32> -> tensor<?xi32>
  return
}

// -----
func.func @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x4xf32>) {
  // expected-error @+1 {{a: expected rank 2 or 3, found rank 1}}
  %y = tfm.matmul %a, %b : (tensor<8xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  return
}

// -----
func.func @matmul_contraction(%a: tensor<?x8xf32>, %b: tensor<6x4xf32>) {
  // expected-error @+1 {{contraction extents differ: a is [?, 8], b is [6, 4]}}
  %y = tfm.matmul %a, %b : (tensor<?x8xf32>, tensor<6x4xf32>) -> tensor<?x4xf32>
  return
}

// -----
func.func @matmul_transposed(%a: tensor<4x?x8xf32>, %b: tensor<4x?x6xf32>) {
  // expected-error @+1 {{contraction extents differ: a is [4, ?, 8], b is [4, ?, 6] (transposed)}}
  %y = tfm.matmul %a, %b {transpose_b} : (tensor<4x?x8xf32>, tensor<4x?x6xf32>) -> tensor<4x?x?xf32>
  return
}

// -----
func.func @matmul_batch(%a: tensor<4x?x8xf32>, %b: tensor<2x8x8xf32>) {
  // expected-error @+1 {{batch extents differ: 4 and 2}}
  %y = tfm.matmul %a, %b : (tensor<4x?x8xf32>, tensor<2x8x8xf32>) -> tensor<4x?x8xf32>
  return
}

// -----
func.func @matmul_b_rank(%a: tensor<4x?x8xf32>, %b: tensor<8x8xf32>) {
  // expected-error @+1 {{b: expected rank 3, found rank 2 [8, 8]}}
  %y = tfm.matmul %a, %b : (tensor<4x?x8xf32>, tensor<8x8xf32>) -> tensor<4x?x8xf32>
  return
}

// -----
func.func @normalize_eps(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{eps: expected a positive value, found 0}}
  %y = tfm.normalize rms %x {eps = 0.0 : f64} : tensor<?x8xf32>
  return
}

// -----
func.func @mask_rank(%x: tensor<8xf32>) {
  // expected-error @+1 {{x: expected rank >= 2 ([.., queries, keys]), found rank 1}}
  %y = tfm.causal_mask %x : tensor<8xf32>
  return
}

// -----
func.func @rope_odd(%x: tensor<?x2x5xf32>) {
  // expected-error @+1 {{x: rope rotates pairs of features, so expected an even head_dim, found 5}}
  %y = tfm.rope %x {theta = 10000.0 : f64} : tensor<?x2x5xf32>
  return
}

// -----
func.func @rope_theta(%x: tensor<?x2x4xf32>) {
  // expected-error @+1 {{theta: expected a positive value, found 0}}
  %y = tfm.rope %x {theta = 0.0 : f64} : tensor<?x2x4xf32>
  return
}

// -----
func.func @rope_rank(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{x: expected rank 3, found rank 2 [?, 8]}}
  %y = tfm.rope %x {theta = 10000.0 : f64} : tensor<?x8xf32>
  return
}

// -----
func.func @reshape_count(%x: tensor<4x6xf32>) {
  // expected-error @+1 {{element counts differ: [4, 6] -> [5, 5]}}
  %y = tfm.reshape %x : tensor<4x6xf32> -> tensor<5x5xf32>
  return
}

// -----
func.func @reshape_dynamic(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{expected at most one dynamic extent on each side, found [?, ?] -> [?]}}
  %y = tfm.reshape %x : tensor<?x?xf32> -> tensor<?xf32>
  return
}

// -----
func.func @reshape_mixed(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{expected both sides static or both with one dynamic extent, found [?, 8] -> [4, 8]}}
  %y = tfm.reshape %x : tensor<?x8xf32> -> tensor<4x8xf32>
  return
}

// -----
func.func @transpose_perm(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{perm: expected a permutation of 0..2, found entry 0}}
  %y = tfm.transpose %x {perm = array<i64: 0, 0, 2>} : tensor<2x3x4xf32> -> tensor<2x2x4xf32>
  return
}

// -----
func.func @transpose_size(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{perm: expected 3 entries, found 2}}
  %y = tfm.transpose %x {perm = array<i64: 1, 0>} : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  return
}

// -----
func.func @transpose_result(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{result: expected shape [3, 2, 4], found [2, 3, 4]}}
  %y = tfm.transpose %x {perm = array<i64: 1, 0, 2>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  return
}

// -----
func.func @repeat_axis(%x: tensor<2x?x4xf32>) {
  // expected-error @+1 {{axis: expected 0..2, found 3}}
  %y = tfm.repeat %x {axis = 3 : i64, times = 2 : i64} : tensor<2x?x4xf32> -> tensor<4x?x4xf32>
  return
}

// -----
func.func @repeat_times(%x: tensor<2x?x4xf32>) {
  // expected-error @+1 {{times: expected a positive value, found 0}}
  %y = tfm.repeat %x {axis = 0 : i64, times = 0 : i64} : tensor<2x?x4xf32> -> tensor<0x?x4xf32>
  return
}

// -----
func.func @repeat_result(%x: tensor<2x?x4xf32>) {
  // expected-error @+1 {{result: expected shape [6, ?, 4], found [4, ?, 4]}}
  %y = tfm.repeat %x {axis = 0 : i64, times = 3 : i64} : tensor<2x?x4xf32> -> tensor<4x?x4xf32>
  return
}

// -----
func.func @patchify_patch(%i: tensor<8x8x3xf32>) {
  // expected-error @+1 {{patch: expected a positive value, found 0}}
  %p = tfm.patchify %i {patch = 0 : i64} : tensor<8x8x3xf32> -> tensor<4x48xf32>
  return
}

// -----
func.func @patchify_result(%i: tensor<8x8x3xf32>) {
  // expected-error @+1 {{result: expected shape [4, 48], found [4, 16]}}
  %p = tfm.patchify %i {patch = 4 : i64} : tensor<8x8x3xf32> -> tensor<4x16xf32>
  return
}

// -----
func.func @concat_rank(%a: tensor<1x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{operands differ in rank: [1, 8] and [8]}}
  %y = tfm.concat %a, %b {axis = 0 : i64} : (tensor<1x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----
func.func @concat_axis(%a: tensor<1x8xf32>, %b: tensor<2x8xf32>) {
  // expected-error @+1 {{axis: expected 0..1, found 2}}
  %y = tfm.concat %a, %b {axis = 2 : i64} : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<3x8xf32>
  return
}

// -----
func.func @concat_other_axis(%a: tensor<1x8xf32>, %b: tensor<2x6xf32>) {
  // expected-error @+1 {{operands differ at axis 1: [1, 8] and [2, 6]}}
  %y = tfm.concat %a, %b {axis = 0 : i64} : (tensor<1x8xf32>, tensor<2x6xf32>) -> tensor<3x8xf32>
  return
}

// -----
func.func @reduce_axis(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{axis: expected 0..1, found -1}}
  %y = tfm.reduce_mean %x {axis = -1 : i64} : tensor<?x8xf32> -> tensor<?x1xf32>
  return
}

// -----
func.func @slice_range(%x: tensor<5x8xf32>) {
  // expected-error @+1 {{range [4, 6) exceeds extent 5 of axis 0}}
  %y = tfm.slice %x {axis = 0 : i64, size = 2 : i64, start = 4 : i64} : tensor<5x8xf32> -> tensor<2x8xf32>
  return
}

// -----
func.func @slice_size(%x: tensor<5x8xf32>) {
  // expected-error @+1 {{expected start >= 0 and size >= 1, found start 0, size 0}}
  %y = tfm.slice %x {axis = 0 : i64, size = 0 : i64, start = 0 : i64} : tensor<5x8xf32> -> tensor<0x8xf32>
  return
}

// -----
func.func @slice_axis(%x: tensor<5x8xf32>) {
  // expected-error @+1 {{axis: expected 0..1, found 2}}
  %y = tfm.slice %x {axis = 2 : i64, size = 1 : i64, start = 0 : i64} : tensor<5x8xf32> -> tensor<5x8xf32>
  return
}

// -----
func.func @sinusoidal_like(%x: tensor<?x8x2xf32>) {
  // expected-error @+1 {{like: expected rank 2, found rank 3 [?, 8, 2]}}
  %y = tfm.sinusoidal %x : tensor<?x8x2xf32>
  return
}
