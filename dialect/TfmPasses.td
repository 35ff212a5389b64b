//===- TfmPasses.td - tfm passes ---------------------------*- tablegen -*-===//
#ifndef TFM_PASSES_TD
#define TFM_PASSES_TD

include "mlir/Pass/PassBase.td"

def TfmDecompose : Pass<"tfm-decompose", "mlir::ModuleOp"> {
  let summary = "rewrites model-level tfm ops into primitive tfm ops";
  let description = [{
    Every model-level op (embed, positions, norms, attention, mlp, linear,
    patch_embed, heads) becomes the primitive ops kernels are made of. The
    attention core becomes the chain that the fusion pass later turns into
    one flash-style kernel. Before:

    ```mlir
    %y = tfm.layernorm %x, %g, %b {eps = 1.0e-05 : f64} : (tensor<?x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    ```
    After:
    ```mlir
    %0 = tfm.normalize layer %x {eps = 1.0e-05 : f64} : tensor<?x32xf32>
    %1 = tfm.mul %0, %g : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    %y = tfm.add %1, %b : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::tfc::tfm::TfmDialect"];
}

def TfmFuse : Pass<"tfm-fuse", "mlir::ModuleOp"> {
  let summary = "groups primitive tfm ops into fused kernels";
  let description = [{
    Finds the groups a transformer block wants and wraps each in a
    `tfm.kernel`: the embedding; norm + Q/K/V projections (+ bias, + RoPE);
    the attention core (scores, mask, softmax, weighted sum) as one kernel;
    output projection + bias + residual (+ post-norm); norm + MLP up
    projection (+ gate) + bias + activation; down projection + bias +
    residual; final norm + head. Each kernel gets a descriptor and a symbol;
    kernels of equal descriptor share one symbol, so the number of distinct
    kernels does not grow with the number of layers. The module records
    `tfm.kernel_count` (distinct) and `tfm.kernel_calls`. A primitive op
    outside every group is an error that names it.
  }];
  let dependentDialects = ["::tfc::tfm::TfmDialect"];
}

#endif // TFM_PASSES_TD
