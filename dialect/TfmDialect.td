//===- TfmDialect.td - The tfm dialect ---------------------*- tablegen -*-===//
#ifndef TFM_DIALECT_TD
#define TFM_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Tfm_Dialect : Dialect {
  let name = "tfm";
  let cppNamespace = "::tfc::tfm";
  let summary = "Transformer models, from the spec's blocks down to the "
                "primitive ops that kernels are made of";
  let description = [{
    The tfm dialect has two levels. Model-level ops mirror a YAML spec
    (`tfm.embed`, `tfm.layernorm`, `tfm.attention`, `tfm.mlp`, ...); the
    `tfm-decompose` pass rewrites them into primitive ops (`tfm.matmul`,
    `tfm.softmax`, `tfm.rope`, `tfm.normalize`, ...). Activations are
    row-major `N x D` tensors (a token a row) with a dynamic sequence length
    N; model dimensions are static. Weights are symbolic (`tfm.weight`) until
    the runtime binds them.
  }];
}

class Tfm_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tfm_Dialect, mnemonic, traits>;

def Tfm_Activation : I32EnumAttr<"Activation", "activation function", [
    I32EnumAttrCase<"relu", 0>, I32EnumAttrCase<"gelu", 1>,
    I32EnumAttrCase<"gelu_tanh", 2>, I32EnumAttrCase<"silu", 3>,
    I32EnumAttrCase<"tanh", 4>]> {
  let cppNamespace = "::tfc::tfm";
}

def Tfm_NormKind : I32EnumAttr<"NormKind", "normalisation", [
    I32EnumAttrCase<"layer", 0>, I32EnumAttrCase<"rms", 1>]> {
  let cppNamespace = "::tfc::tfm";
}

def Tfm_Pool : I32EnumAttr<"Pool", "pooling of token states", [
    I32EnumAttrCase<"cls", 0>, I32EnumAttrCase<"mean", 1>]> {
  let cppNamespace = "::tfc::tfm";
}

#endif // TFM_DIALECT_TD
