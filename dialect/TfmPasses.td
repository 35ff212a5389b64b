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

#endif // TFM_PASSES_TD
