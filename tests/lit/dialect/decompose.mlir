// RUN: tfm-opt %s -split-input-file --tfm-decompose | FileCheck %s
// Each model-level op and the primitive ops it becomes.

// CHECK-LABEL: func.func @layernorm
// CHECK:      %[[N:.*]] = tfm.normalize layer %arg0 {eps = 1.000000e-05 : f64} : tensor<?x8xf32>
// CHECK-NEXT: %[[G:.*]] = tfm.mul %[[N]], %arg1
// CHECK-NEXT: %[[B:.*]] = tfm.add %[[G]], %arg2
// CHECK-NEXT: return %[[B]]
func.func @layernorm(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %y = tfm.layernorm %x, %g, %b {eps = 1.0e-5 : f64} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----
// CHECK-LABEL: func.func @rmsnorm
// CHECK:      %[[N:.*]] = tfm.normalize rms %arg0 {eps = 9.9999999999999995E-7 : f64}
// CHECK-NEXT: %[[G:.*]] = tfm.mul %[[N]], %arg1
// CHECK-NEXT: return %[[G]]
func.func @rmsnorm(%x: tensor<?x8xf32>, %g: tensor<8xf32>) -> tensor<?x8xf32> {
  %y = tfm.rmsnorm %x, %g {eps = 1.0e-6 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----
// Grouped-query causal attention with RoPE and biases: H = 4, Hkv = 2, K = 2.
// CHECK-LABEL: func.func @gqa_rope
// CHECK:      %[[Q0:.*]] = tfm.matmul %arg0, %arg1 : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[Q1:.*]] = tfm.add %[[Q0]], %arg4
// CHECK-NEXT: %[[K0:.*]] = tfm.matmul %arg0, %arg2 : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %[[K1:.*]] = tfm.add %[[K0]], %arg5
// CHECK-NEXT: %[[V0:.*]] = tfm.matmul %arg0, %arg2
// CHECK-NEXT: %[[V1:.*]] = tfm.add %[[V0]], %arg5
// CHECK-NEXT: %[[Q3:.*]] = tfm.reshape %[[Q1]] : tensor<?x8xf32> -> tensor<?x4x2xf32>
// CHECK-NEXT: %[[K3:.*]] = tfm.reshape %[[K1]] : tensor<?x4xf32> -> tensor<?x2x2xf32>
// CHECK-NEXT: %[[V3:.*]] = tfm.reshape %[[V1]] : tensor<?x4xf32> -> tensor<?x2x2xf32>
// CHECK-NEXT: %[[QR:.*]] = tfm.rope %[[Q3]] {theta = 5.000000e+05 : f64} : tensor<?x4x2xf32>
// CHECK-NEXT: %[[KR:.*]] = tfm.rope %[[K3]] {theta = 5.000000e+05 : f64} : tensor<?x2x2xf32>
// CHECK-NEXT: %[[QH:.*]] = tfm.transpose %[[QR]] {perm = array<i64: 1, 0, 2>} : tensor<?x4x2xf32> -> tensor<4x?x2xf32>
// CHECK-NEXT: %[[KH:.*]] = tfm.transpose %[[KR]] {perm = array<i64: 1, 0, 2>} : tensor<?x2x2xf32> -> tensor<2x?x2xf32>
// CHECK-NEXT: %[[VH:.*]] = tfm.transpose %[[V3]]
// CHECK-NEXT: %[[KG:.*]] = tfm.repeat %[[KH]] {axis = 0 : i64, times = 2 : i64} : tensor<2x?x2xf32> -> tensor<4x?x2xf32>
// CHECK-NEXT: %[[VG:.*]] = tfm.repeat %[[VH]] {axis = 0 : i64, times = 2 : i64}
// CHECK-NEXT: %[[S:.*]] = tfm.matmul %[[QH]], %[[KG]] {transpose_b} : (tensor<4x?x2xf32>, tensor<4x?x2xf32>) -> tensor<4x?x?xf32>
// CHECK-NEXT: %[[SS:.*]] = tfm.scale %[[S]] {factor = 0.70710678118654746 : f64}
// CHECK-NEXT: %[[M:.*]] = tfm.causal_mask %[[SS]]
// CHECK-NEXT: %[[P:.*]] = tfm.softmax %[[M]]
// CHECK-NEXT: %[[O:.*]] = tfm.matmul %[[P]], %[[VG]] : (tensor<4x?x?xf32>, tensor<4x?x2xf32>) -> tensor<4x?x2xf32>
// CHECK-NEXT: %[[OT:.*]] = tfm.transpose %[[O]] {perm = array<i64: 1, 0, 2>} : tensor<4x?x2xf32> -> tensor<?x4x2xf32>
// CHECK-NEXT: %[[OR:.*]] = tfm.reshape %[[OT]] : tensor<?x4x2xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %[[Y:.*]] = tfm.matmul %[[OR]], %arg3
// CHECK-NEXT: %[[YB:.*]] = tfm.add %[[Y]], %arg6
// CHECK-NEXT: return %[[YB]]
func.func @gqa_rope(%x: tensor<?x8xf32>, %wq: tensor<8x8xf32>, %wkv: tensor<8x4xf32>, %wo: tensor<8x8xf32>,
                    %bq: tensor<8xf32>, %bkv: tensor<4xf32>, %bo: tensor<8xf32>) -> tensor<?x8xf32> {
  %a = tfm.attention %x weights(%wq, %wkv, %wkv, %wo) bias(%bq, %bkv, %bkv, %bo)
         {causal, head_dim = 2 : i64, heads = 4 : i64, kv_heads = 2 : i64, rope_theta = 500000.0 : f64}
         : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----
// Cross-attention: keys and values from the memory; no mask, no repeat.
// CHECK-LABEL: func.func @cross
// CHECK:      tfm.matmul %arg0, %arg2 : (tensor<?x8xf32>, tensor<8x8xf32>)
// CHECK-NEXT: tfm.matmul %arg1, %arg2 : (tensor<?x8xf32>, tensor<8x8xf32>)
// CHECK-NEXT: tfm.matmul %arg1, %arg2
// CHECK-NOT:  tfm.causal_mask
// CHECK-NOT:  tfm.repeat
// CHECK:      tfm.softmax
func.func @cross(%x: tensor<?x8xf32>, %m: tensor<?x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x8xf32> {
  %a = tfm.attention %x memory(%m) weights(%w, %w, %w, %w) {head_dim = 4 : i64, heads = 2 : i64, kv_heads = 2 : i64}
         : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----
// CHECK-LABEL: func.func @swiglu
// CHECK:      %[[H:.*]] = tfm.matmul %arg0, %arg1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
// CHECK-NEXT: %[[A:.*]] = tfm.activation silu %[[H]] : tensor<?x16xf32>
// CHECK-NEXT: %[[G:.*]] = tfm.matmul %arg0, %arg3 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
// CHECK-NEXT: %[[P:.*]] = tfm.mul %[[A]], %[[G]]
// CHECK-NEXT: %[[Y:.*]] = tfm.matmul %[[P]], %arg2 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @swiglu(%x: tensor<?x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %w3: tensor<8x16xf32>) -> tensor<?x8xf32> {
  %m = tfm.mlp %x weights(%w1, %w2, gate %w3) activation = silu : (tensor<?x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %m : tensor<?x8xf32>
}

// -----
// CHECK-LABEL: func.func @mlp_bias
// CHECK:      tfm.matmul %arg0, %arg1
// CHECK-NEXT: tfm.add %{{.*}}, %arg3
// CHECK-NEXT: tfm.activation gelu_tanh
// CHECK-NEXT: tfm.matmul %{{.*}}, %arg2
// CHECK-NEXT: tfm.add %{{.*}}, %arg4
func.func @mlp_bias(%x: tensor<?x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %b1: tensor<16xf32>, %b2: tensor<8xf32>) -> tensor<?x8xf32> {
  %m = tfm.mlp %x weights(%w1, %w2) bias(%b1, %b2) activation = gelu_tanh : (tensor<?x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %m : tensor<?x8xf32>
}

// -----
// CHECK-LABEL: func.func @embeddings
// CHECK:      %[[X:.*]] = tfm.gather %arg1, %arg0 : (tensor<64x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[I:.*]] = tfm.arange %[[X]] : tensor<?x8xf32> -> tensor<?xi32>
// CHECK-NEXT: %[[P:.*]] = tfm.gather %arg2, %[[I]] : (tensor<32x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[Y:.*]] = tfm.add %[[X]], %[[P]]
// CHECK-NEXT: %[[S:.*]] = tfm.sinusoidal %[[Y]] : tensor<?x8xf32>
// CHECK-NEXT: %[[Z:.*]] = tfm.add %[[Y]], %[[S]]
func.func @embeddings(%t: tensor<?xi32>, %e: tensor<64x8xf32>, %p: tensor<32x8xf32>) -> tensor<?x8xf32> {
  %x = tfm.embed %t, %e : (tensor<?xi32>, tensor<64x8xf32>) -> tensor<?x8xf32>
  %y = tfm.learned_positions %x, %p : (tensor<?x8xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  %z = tfm.sinusoidal_positions %y : tensor<?x8xf32>
  return %z : tensor<?x8xf32>
}

// -----
// CHECK-LABEL: func.func @heads
// CHECK:      tfm.matmul %arg0, %arg1 {transpose_b} : (tensor<?x8xf32>, tensor<64x8xf32>) -> tensor<?x64xf32>
// CHECK:      tfm.slice %arg0 {axis = 0 : i64, size = 1 : i64, start = 0 : i64} : tensor<?x8xf32> -> tensor<1x8xf32>
// CHECK-NEXT: tfm.matmul %{{.*}}, %arg2 : (tensor<1x8xf32>, tensor<8x10xf32>) -> tensor<1x10xf32>
// CHECK-NEXT: tfm.add %{{.*}}, %arg3
// CHECK:      tfm.reduce_mean %arg0 {axis = 0 : i64} : tensor<?x8xf32> -> tensor<1x8xf32>
func.func @heads(%x: tensor<?x8xf32>, %e: tensor<64x8xf32>, %w: tensor<8x10xf32>, %b: tensor<10xf32>) -> (tensor<?x64xf32>, tensor<1x10xf32>, tensor<1x10xf32>) {
  %l = tfm.lm_head %x, %e {tied} : (tensor<?x8xf32>, tensor<64x8xf32>) -> tensor<?x64xf32>
  %c = tfm.classifier_head %x, %w, %b pool = cls : (tensor<?x8xf32>, tensor<8x10xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  %m = tfm.classifier_head %x, %w, %b pool = mean : (tensor<?x8xf32>, tensor<8x10xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  return %l, %c, %m : tensor<?x64xf32>, tensor<1x10xf32>, tensor<1x10xf32>
}

// -----
// CHECK-LABEL: func.func @patches
// CHECK:      %[[P:.*]] = tfm.patchify %arg0 {patch = 4 : i64} : tensor<8x8x3xf32> -> tensor<4x48xf32>
// CHECK-NEXT: %[[E:.*]] = tfm.matmul %[[P]], %arg1 : (tensor<4x48xf32>, tensor<48x8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: %[[B:.*]] = tfm.add %[[E]], %arg2
// CHECK-NEXT: %[[C:.*]] = tfm.reshape %arg3 : tensor<8xf32> -> tensor<1x8xf32>
// CHECK-NEXT: tfm.concat %[[C]], %[[B]] {axis = 0 : i64} : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<5x8xf32>
func.func @patches(%i: tensor<8x8x3xf32>, %w: tensor<48x8xf32>, %b: tensor<8xf32>, %c: tensor<8xf32>) -> tensor<5x8xf32> {
  %x = tfm.patch_embed %i, %w, %b, %c {patch = 4 : i64} : (tensor<8x8x3xf32>, tensor<48x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<5x8xf32>
  return %x : tensor<5x8xf32>
}

// -----
// CHECK-LABEL: func.func @linear
// CHECK:      tfm.matmul %arg0, %arg1
// CHECK-NEXT: tfm.add
// CHECK-NOT:  tfm.linear
func.func @linear(%x: tensor<?x8xf32>, %w: tensor<8x3xf32>, %b: tensor<3xf32>) -> tensor<?x3xf32> {
  %y = tfm.linear %x, %w bias %b : (tensor<?x8xf32>, tensor<8x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
