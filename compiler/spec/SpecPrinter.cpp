//===- SpecPrinter.cpp - A validated ModelSpec back to YAML ---------------===//
//
// Prints every key with its resolved value, in the order of docs/spec.md,
// so that `tfc --emit=spec` shows exactly what the compiler will build and
// the text parses back to the same spec.
//
//===----------------------------------------------------------------------===//
#include "spec/SpecParser.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace tfc {
namespace {

/// The shortest form that reads back as the same double: whole numbers
/// without an exponent (10000), others in the shortest %g (1e-05), at worst
/// 17 significant digits.
std::string formatNumber(double v) {
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

const char *boolText(bool b) { return b ? "true" : "false"; }

/// A name as a YAML scalar, quoted when it would not read back as itself.
std::string scalarText(const std::string &s) {
  YAML::Emitter e;
  e << s;
  return e.c_str();
}

void printDims(std::ostream &os, const Dims &d, const std::string &indent) {
  os << indent << "dims:\n";
  std::string in = indent + "  ";
  os << in << "vocab: " << d.vocab << "\n"
     << in << "d_model: " << d.dModel << "\n"
     << in << "n_layers: " << d.nLayers << "\n"
     << in << "n_heads: " << d.nHeads << "\n"
     << in << "head_dim: " << d.headDim << "\n"
     << in << "n_kv_heads: " << d.nKVHeads << "\n"
     << in << "d_ff: " << d.dFF << "\n"
     << in << "max_seq: " << d.maxSeq << "\n"
     << in << "type_vocab: " << d.typeVocab << "\n";
}

void printBlock(std::ostream &os, const BlockSpec &b,
                const std::string &indent) {
  std::string in = indent + "  ", in2 = in + "  ";
  os << indent << "block:\n"
     << in << "norm: " << toString(b.norm) << "\n"
     << in << "norm_eps: " << formatNumber(b.normEps) << "\n"
     << in << "placement: " << toString(b.placement) << "\n"
     << in << "attention:\n"
     << in2 << "causal: " << boolText(b.attention.causal) << "\n"
     << in2 << "bias: " << boolText(b.attention.bias) << "\n"
     << in << "mlp:\n"
     << in2 << "activation: " << toString(b.mlp.activation) << "\n"
     << in2 << "gated: " << boolText(b.mlp.gated) << "\n"
     << in2 << "bias: " << boolText(b.mlp.bias) << "\n";
}

void printList(std::ostream &os, const std::vector<double> &v) {
  os << "[";
  for (size_t i = 0; i < v.size(); ++i)
    os << (i ? ", " : "") << formatNumber(v[i]);
  os << "]";
}

} // namespace

std::string printSpec(const ModelSpec &spec) {
  std::ostringstream os;
  os << "name: " << scalarText(spec.name) << "\n"
     << "family: " << toString(spec.family) << "\n";
  if (spec.image) {
    const ImageSpec &img = *spec.image;
    os << "image:\n"
       << "  height: " << img.height << "\n"
       << "  width: " << img.width << "\n"
       << "  channels: " << img.channels << "\n"
       << "  patch: " << img.patch << "\n"
       << "  mean: ";
    printList(os, img.mean);
    os << "\n  std: ";
    printList(os, img.std);
    os << "\n  resize: " << toString(img.resize) << "\n";
  }
  printDims(os, spec.dims, "");
  printBlock(os, spec.block, "");
  for (const auto &[key, stack] : {std::make_pair("encoder", &spec.encoder),
                                   std::make_pair("decoder", &spec.decoder)}) {
    if (!*stack)
      continue;
    os << key << ":\n";
    printDims(os, (*stack)->dims, "  ");
    printBlock(os, (*stack)->block, "  ");
  }
  os << "positions:\n"
     << "  kind: " << toString(spec.positions.kind) << "\n"
     << "  rope_theta: " << formatNumber(spec.positions.ropeTheta) << "\n"
     << "head:\n"
     << "  kind: " << toString(spec.head.kind) << "\n"
     << "  tie_embeddings: " << boolText(spec.head.tieEmbeddings) << "\n"
     << "  classes: " << spec.head.classes << "\n"
     << "  pool: " << toString(spec.head.pool) << "\n"
     << "final_norm: " << boolText(spec.finalNorm) << "\n"
     << "embedding_norm: " << boolText(spec.embeddingNorm) << "\n"
     << "dtype: " << toString(spec.dtype) << "\n"
     << "tokenizer: " << toString(spec.tokenizer) << "\n"
     << "weights:\n"
     << "  layout: " << toString(spec.layout) << "\n";
  return os.str();
}

} // namespace tfc
