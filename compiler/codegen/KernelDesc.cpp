//===- KernelDesc.cpp - Kernel descriptors and their symbols -------------===//
#include "codegen/KernelDesc.h"

#include <cstdio>
#include <cstdlib>

namespace tfc {

const char *toString(KernelKind kind) {
  switch (kind) {
  case KernelKind::Embed:
    return "embed";
  case KernelKind::QKV:
    return "qkv";
  case KernelKind::Attention:
    return "attention";
  case KernelKind::ProjResidual:
    return "proj_residual";
  case KernelKind::MLPUp:
    return "mlp_up";
  case KernelKind::Head:
    return "head";
  }
  return "?";
}

namespace {
const char *normTag(KernelNorm n) {
  switch (n) {
  case KernelNorm::None:
    return "";
  case KernelNorm::Layer:
    return "_ln";
  case KernelNorm::RMS:
    return "_rms";
  }
  return "";
}
/// eps and theta enter the symbol exactly: the shortest %g form that reads
/// back to the same double, with '.' -> 'p' and '-' -> 'm' ("1em05").
std::string exactTag(const char *prefix, double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  std::string s = std::string("_") + prefix;
  for (const char *c = buf; *c; ++c)
    s += *c == '.' ? 'p' : *c == '-' ? 'm' : *c == '+' ? 'P' : *c;
  return s;
}
} // namespace

std::string KernelDesc::symbol() const {
  std::string s = std::string("tfk_") + toString(kind);
  auto num = [&](const char *tag, int64_t v) {
    s += "_";
    s += tag;
    s += std::to_string(v);
  };
  if (norm != KernelNorm::None) {
    s += normTag(norm);
    s += exactTag("e", eps);
  }
  switch (kind) {
  case KernelKind::Embed:
    num("v", vocab);
    num("d", d);
    s += std::string("_") + tfc::toString(positions);
    if (positions == PositionKind::Learned)
      num("p", maxSeq);
    break;
  case KernelKind::QKV:
    num("d", d);
    num("h", heads);
    num("kv", kvHeads);
    num("k", headDim);
    if (rope)
      s += "_rope" + exactTag("t", ropeTheta);
    break;
  case KernelKind::Attention:
    num("h", heads);
    num("kv", kvHeads);
    num("k", headDim);
    if (causal)
      s += "_causal";
    break;
  case KernelKind::ProjResidual:
    num("in", in);
    num("d", d);
    break;
  case KernelKind::MLPUp:
    num("d", d);
    num("f", dFF);
    s += std::string("_") + tfc::toString(activation);
    if (gated)
      s += "_gated";
    break;
  case KernelKind::Head:
    num("d", d);
    num("v", vocab);
    if (tied)
      s += "_tied";
    break;
  }
  if (bias)
    s += "_bias";
  return s;
}

} // namespace tfc
