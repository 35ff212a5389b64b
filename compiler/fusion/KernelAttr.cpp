//===- KernelAttr.cpp - KernelDesc <-> the attributes of tfm.kernel ------===//
#include "fusion/KernelAttr.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace tfc {

std::optional<KernelKind> parseKernelKind(llvm::StringRef name) {
  for (KernelKind k :
       {KernelKind::Embed, KernelKind::QKV, KernelKind::Attention,
        KernelKind::ProjResidual, KernelKind::MLPUp, KernelKind::Head,
        KernelKind::Patch, KernelKind::Classify})
    if (name == toString(k))
      return k;
  return std::nullopt;
}

static const char *normName(KernelNorm n) {
  switch (n) {
  case KernelNorm::None:
    return "none";
  case KernelNorm::Layer:
    return "layer";
  case KernelNorm::RMS:
    return "rms";
  }
  return "none";
}

DictionaryAttr kernelDescAttr(MLIRContext *context, const KernelDesc &d) {
  Builder b(context);
  NamedAttrList attrs;
  auto i64 = [&](const char *key, int64_t v) {
    attrs.append(key, b.getI64IntegerAttr(v));
  };
  auto flag = [&](const char *key, bool v) {
    attrs.append(key, b.getBoolAttr(v));
  };
  auto norm = [&] {
    attrs.append("norm", b.getStringAttr(normName(d.norm)));
    if (d.norm != KernelNorm::None)
      attrs.append("eps", b.getF64FloatAttr(d.eps));
  };
  switch (d.kind) {
  case KernelKind::Embed:
    i64("vocab", d.vocab);
    i64("d", d.d);
    attrs.append("positions", b.getStringAttr(toString(d.positions)));
    if (d.positions == PositionKind::Learned)
      i64("max_seq", d.maxSeq);
    // Encoders only: token types and the embedding norm.
    if (d.typeVocab > 0)
      i64("type_vocab", d.typeVocab);
    if (d.norm != KernelNorm::None)
      norm();
    break;
  case KernelKind::QKV:
    i64("d", d.d);
    i64("heads", d.heads);
    i64("kv_heads", d.kvHeads);
    i64("head_dim", d.headDim);
    norm();
    flag("bias", d.bias);
    flag("rope", d.rope);
    if (d.rope)
      attrs.append("rope_theta", b.getF64FloatAttr(d.ropeTheta));
    if (d.parts != QKVParts::QKV) // cross-attention
      attrs.append("parts",
                   b.getStringAttr(d.parts == QKVParts::Q ? "q" : "kv"));
    break;
  case KernelKind::Attention:
    i64("heads", d.heads);
    i64("kv_heads", d.kvHeads);
    i64("head_dim", d.headDim);
    flag("causal", d.causal);
    if (d.keyMask)
      flag("key_mask", true);
    break;
  case KernelKind::ProjResidual:
    i64("in", d.in);
    i64("d", d.d);
    flag("bias", d.bias);
    norm();
    break;
  case KernelKind::MLPUp:
    i64("d", d.d);
    i64("d_ff", d.dFF);
    norm();
    flag("bias", d.bias);
    attrs.append("activation", b.getStringAttr(toString(d.activation)));
    flag("gated", d.gated);
    break;
  case KernelKind::Head:
    i64("d", d.d);
    i64("vocab", d.vocab);
    norm();
    flag("tied", d.tied);
    break;
  case KernelKind::Patch:
    i64("height", d.imageH);
    i64("width", d.imageW);
    i64("channels", d.imageC);
    i64("patch", d.patch);
    i64("d", d.d);
    attrs.append("positions", b.getStringAttr(toString(d.positions)));
    break;
  case KernelKind::Classify:
    i64("d", d.d);
    i64("classes", d.classes);
    norm();
    attrs.append("pool", b.getStringAttr(d.meanPool ? "mean" : "cls"));
    if (d.tanhOut)
      flag("tanh", true);
    break;
  }
  // Storage and schedule choices, only where they differ from the defaults.
  if (hasMatrices(d.kind) && d.weightType != WeightType::F32)
    attrs.append("weights", b.getStringAttr(toString(d.weightType)));
  if (d.panel > 0)
    i64("panel", d.panel);
  if (d.tileRows > 0)
    i64("tile_rows", d.tileRows);
  if (d.queryTile > 0)
    i64("query_tile", d.queryTile);
  if (d.group > 0)
    i64("group", d.group);
  return attrs.getDictionary(context);
}

std::optional<KernelDesc> kernelDescOf(tfm::KernelOp op, std::string &error) {
  KernelDesc d;
  std::string where = "kernel " + op.getSymbol().str();
  auto kind = parseKernelKind(op.getKind());
  if (!kind) {
    error = where + ": unknown kind '" + op.getKind().str() + "'";
    return std::nullopt;
  }
  d.kind = *kind;
  DictionaryAttr dict = op.getDesc();
  bool ok = true;
  auto missing = [&](const char *key) {
    if (ok)
      error = where + ": desc." + key + " is missing or has the wrong type";
    ok = false;
  };
  auto i64 = [&](const char *key, int64_t &out) {
    if (auto a = dict.getAs<IntegerAttr>(key))
      out = a.getInt();
    else
      missing(key);
  };
  auto f64 = [&](const char *key, double &out) {
    if (auto a = dict.getAs<FloatAttr>(key))
      out = a.getValueAsDouble();
    else
      missing(key);
  };
  auto flag = [&](const char *key, bool &out) {
    if (auto a = dict.getAs<BoolAttr>(key))
      out = a.getValue();
    else
      missing(key);
  };
  auto str = [&](const char *key) -> std::string {
    if (auto a = dict.getAs<StringAttr>(key))
      return a.str();
    missing(key);
    return "";
  };
  auto norm = [&] {
    std::string n = str("norm");
    if (n == "layer")
      d.norm = KernelNorm::Layer;
    else if (n == "rms")
      d.norm = KernelNorm::RMS;
    else if (n == "none" || n.empty())
      d.norm = KernelNorm::None;
    else
      missing("norm");
    if (d.norm != KernelNorm::None)
      f64("eps", d.eps);
  };
  switch (d.kind) {
  case KernelKind::Embed: {
    i64("vocab", d.vocab);
    i64("d", d.d);
    std::string p = str("positions");
    if (p == "learned") {
      d.positions = PositionKind::Learned;
      i64("max_seq", d.maxSeq);
    } else if (p == "sinusoidal") {
      d.positions = PositionKind::Sinusoidal;
    } else if (p == "none" || p == "rope") {
      d.positions = PositionKind::None;
    } else {
      missing("positions");
    }
    if (dict.get("type_vocab"))
      i64("type_vocab", d.typeVocab);
    if (dict.get("norm"))
      norm();
    break;
  }
  case KernelKind::QKV:
    i64("d", d.d);
    i64("heads", d.heads);
    i64("kv_heads", d.kvHeads);
    i64("head_dim", d.headDim);
    norm();
    flag("bias", d.bias);
    flag("rope", d.rope);
    if (d.rope)
      f64("rope_theta", d.ropeTheta);
    if (dict.get("parts")) {
      std::string p = str("parts");
      if (p == "q")
        d.parts = QKVParts::Q;
      else if (p == "kv")
        d.parts = QKVParts::KV;
      else if (p != "qkv")
        missing("parts");
    }
    break;
  case KernelKind::Attention:
    i64("heads", d.heads);
    i64("kv_heads", d.kvHeads);
    i64("head_dim", d.headDim);
    flag("causal", d.causal);
    if (dict.get("key_mask"))
      flag("key_mask", d.keyMask);
    break;
  case KernelKind::ProjResidual:
    i64("in", d.in);
    i64("d", d.d);
    flag("bias", d.bias);
    norm();
    break;
  case KernelKind::MLPUp: {
    i64("d", d.d);
    i64("d_ff", d.dFF);
    norm();
    flag("bias", d.bias);
    flag("gated", d.gated);
    std::string a = str("activation");
    if (a == "relu")
      d.activation = Activation::ReLU;
    else if (a == "gelu")
      d.activation = Activation::GELU;
    else if (a == "gelu_tanh")
      d.activation = Activation::GELUTanh;
    else if (a == "silu")
      d.activation = Activation::SiLU;
    else
      missing("activation");
    break;
  }
  case KernelKind::Head:
    i64("d", d.d);
    i64("vocab", d.vocab);
    norm();
    flag("tied", d.tied);
    break;
  case KernelKind::Patch: {
    i64("height", d.imageH);
    i64("width", d.imageW);
    i64("channels", d.imageC);
    i64("patch", d.patch);
    i64("d", d.d);
    std::string p = str("positions");
    d.positions = p == "learned"      ? PositionKind::Learned
                  : p == "sinusoidal" ? PositionKind::Sinusoidal
                                      : PositionKind::None;
    if (d.patch > 0)
      d.maxSeq = 1 + (d.imageH / d.patch) * (d.imageW / d.patch);
    break;
  }
  case KernelKind::Classify: {
    i64("d", d.d);
    i64("classes", d.classes);
    norm();
    std::string p = str("pool");
    if (p != "cls" && p != "mean")
      missing("pool");
    d.meanPool = p == "mean";
    if (dict.get("tanh"))
      flag("tanh", d.tanhOut);
    break;
  }
  }
  if (auto a = dict.getAs<StringAttr>("weights")) {
    std::optional<WeightType> t = parseWeightType(a.str());
    if (t)
      d.weightType = *t;
    else
      missing("weights");
  }
  auto optional = [&](const char *key, int64_t &out) {
    if (!dict.get(key))
      return;
    i64(key, out);
    if (ok && (out < 1 || out > 4096)) {
      error = where + ": desc." + key + " must be in [1, 4096], found " +
              std::to_string(out);
      ok = false;
    }
  };
  optional("panel", d.panel);
  optional("tile_rows", d.tileRows);
  optional("query_tile", d.queryTile);
  optional("group", d.group);
  if (!ok)
    return std::nullopt;
  return d;
}

std::string baseSymbol(KernelDesc d) {
  d.panel = d.tileRows = d.queryTile = 0;
  return d.symbol();
}

bool applyKernelOptions(ModuleOp module, const KernelOptions &options,
                        std::string &error) {
  bool ok = true;
  module.walk([&](tfm::KernelOp op) {
    if (!ok)
      return;
    std::optional<KernelDesc> d = kernelDescOf(op, error);
    if (!d) {
      ok = false;
      return;
    }
    if (hasMatrices(d->kind)) {
      d->weightType = d->kind == KernelKind::Head ? options.headType
                                                  : options.weightType;
      if (options.vectorFloats > 0)
        d->panel = 3 * options.vectorFloats;
      if (d->weightType == WeightType::I8)
        d->group = options.group;
    }
    auto tuned = options.tuning.find(baseSymbol(*d));
    if (tuned != options.tuning.end()) {
      const KernelTuning &t = tuned->second;
      if (t.panel > 0 && hasMatrices(d->kind))
        d->panel = t.panel;
      if (t.tileRows > 0 && hasMatrices(d->kind))
        d->tileRows = t.tileRows;
      if (t.queryTile > 0 && d->kind == KernelKind::Attention)
        d->queryTile = t.queryTile;
    }
    op.setDescAttr(kernelDescAttr(op.getContext(), *d));
    op.setSymbolAttr(FlatSymbolRefAttr::get(op.getContext(), d->symbol()));
  });
  return ok;
}

} // namespace tfc
