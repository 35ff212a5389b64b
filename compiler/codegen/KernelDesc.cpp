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
  case KernelKind::Patch:
    return "patch";
  case KernelKind::Classify:
    return "classify";
  }
  return "?";
}

const char *toString(WeightType type) {
  switch (type) {
  case WeightType::F32:
    return "f32";
  case WeightType::F16:
    return "f16";
  case WeightType::BF16:
    return "bf16";
  case WeightType::I8:
    return "int8";
  }
  return "?";
}

std::optional<WeightType> parseWeightType(const std::string &name) {
  for (WeightType t :
       {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::I8})
    if (name == toString(t))
      return t;
  return std::nullopt;
}

int weightTypeBytes(WeightType type) {
  switch (type) {
  case WeightType::F32:
    return 4;
  case WeightType::F16:
  case WeightType::BF16:
    return 2;
  case WeightType::I8:
    return 1;
  }
  return 4;
}

bool hasMatrices(KernelKind kind) {
  return kind == KernelKind::QKV || kind == KernelKind::ProjResidual ||
         kind == KernelKind::MLPUp || kind == KernelKind::Head;
}

int64_t queryHeads(const KernelDesc &d) {
  return d.parts == QKVParts::KV ? 0 : d.heads;
}
int64_t keyHeads(const KernelDesc &d) {
  return d.parts == QKVParts::Q ? 0 : d.kvHeads;
}

std::vector<int> matrixInputs(const KernelDesc &d) {
  int norms = d.norm == KernelNorm::None    ? 0
              : d.norm == KernelNorm::Layer ? 2
                                            : 1;
  switch (d.kind) {
  case KernelKind::QKV: // x, [gamma, beta], wq, wk, wv, ... (or wq; wk, wv)
    if (d.parts == QKVParts::Q)
      return {1 + norms};
    if (d.parts == QKVParts::KV)
      return {1 + norms, 2 + norms};
    return {1 + norms, 2 + norms, 3 + norms};
  case KernelKind::ProjResidual: // a, w, ...
    return {1};
  case KernelKind::MLPUp: { // x, [gamma, beta], w1, [b1], [w3, [b3]]
    std::vector<int> m = {1 + norms};
    if (d.gated)
      m.push_back(2 + norms + (d.bias ? 1 : 0));
    return m;
  }
  case KernelKind::Head: // x, [gamma, beta], w
    return {1 + norms};
  default:
    return {};
  }
}

int64_t panelFor(const KernelDesc &d, int64_t cols) {
  if (d.panel <= 0)
    return 0;
  if (cols >= d.panel) {
    // Zero-padding the last panel costs the padded columns' work; a
    // narrower tile costs register blocking on every column. Pad when that
    // adds at most 1/8 (LLaMA's 5632 = 117.3 x 48), else, with the default
    // of 3 vectors, try 2 and 1 that divide the width.
    int64_t padded = (cols + d.panel - 1) / d.panel * d.panel;
    if (cols % d.panel != 0 && (padded - cols) * 8 > cols &&
        d.panel % 3 == 0)
      for (int64_t p : {d.panel * 2 / 3, d.panel / 3})
        if (cols % p == 0)
          return p;
    return d.panel;
  }
  int64_t p = 1;
  while (p * 2 <= cols)
    p *= 2;
  return p;
}

int64_t groupFor(const KernelDesc &d, int64_t in) {
  return d.group > 0 && in % d.group == 0 ? d.group : in;
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
    if (typeVocab > 0)
      num("t", typeVocab);
    break;
  case KernelKind::QKV:
    num("d", d);
    if (parts != QKVParts::KV) // (the queries' heads)
      num("h", heads);
    if (parts != QKVParts::Q) // (the keys' and values' heads)
      num("kv", kvHeads);
    num("k", headDim);
    if (rope)
      s += "_rope" + exactTag("t", ropeTheta);
    if (parts != QKVParts::QKV)
      s += parts == QKVParts::Q ? "_q" : "_kv";
    break;
  case KernelKind::Attention:
    num("h", heads);
    num("kv", kvHeads);
    num("k", headDim);
    if (causal)
      s += "_causal";
    if (keyMask)
      s += "_mask";
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
  case KernelKind::Patch:
    num("h", imageH);
    num("w", imageW);
    num("c", imageC);
    num("p", patch);
    num("d", d);
    s += std::string("_") + tfc::toString(positions);
    break;
  case KernelKind::Classify:
    num("d", d);
    num("c", classes);
    s += meanPool ? "_mean" : "_cls";
    if (tanhOut)
      s += "_tanh";
    break;
  }
  if (bias)
    s += "_bias";
  if (hasMatrices(kind) && weightType != WeightType::F32)
    s += std::string("_w") + tfc::toString(weightType);
  if (panel > 0)
    num("p", panel);
  if (tileRows > 0)
    num("r", tileRows);
  if (queryTile > 0)
    num("q", queryTile);
  if (group > 0)
    num("g", group);
  return s;
}

} // namespace tfc
