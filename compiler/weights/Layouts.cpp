//===- Layouts.cpp - Weight name layouts (native, Hugging Face)
//------------===//
//
// Each layout is a table from native names to file names plus how the data
// moves between them (copy, transpose, reshape, conv patch, fused columns).
// Rules are built from the manifest, so a layout never has to know which
// tensors a particular spec has: a native tensor the table cannot name is an
// error ("this layout cannot express this model"), not a silent drop.
//
//===----------------------------------------------------------------------===//
#include "weights/Layouts.h"

#include "weights/Manifest.h"

#include "SafetensorsReader.h"
#include "WeightLayouts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace tfc {

namespace {

enum class Xform {
  Copy,          // same data, same shape
  Transpose,     // file [out, in] (nn.Linear), native [in, out]
  Reshape,       // same data, file has leading 1s up to rank 3 (ViT)
  ConvPatch,     // file Conv2d [D, C, P, P], native [P*P*C, D] (row, col, ch)
  ConcatColumns, // several natives side by side along the last dim (c_attn)
};

// Native name (the part after "layers.i." for layer tensors) to file name.
struct NameMap {
  const char *native;
  const char *file;
  Xform xform;
  bool prefixed; // takes the layout's optional model prefix (global names)
};

struct LayoutTable {
  const char *layerStem; // file names of layer i start with stem + i + "."
  std::vector<NameMap> global;
  std::vector<NameMap> layer;
};

constexpr Xform C = Xform::Copy, T = Xform::Transpose, R = Xform::Reshape,
                P = Xform::ConvPatch, F = Xform::ConcatColumns;

const LayoutTable &gpt2Table() {
  static const LayoutTable t{"h.",
                             {{"tok_embed", "wte.weight", C, true},
                              {"pos_embed", "wpe.weight", C, true},
                              {"final_norm.gamma", "ln_f.weight", C, true},
                              {"final_norm.beta", "ln_f.bias", C, true},
                              {"lm_head.w", "lm_head.weight", T, false}},
                             {{"attn_norm.gamma", "ln_1.weight", C, true},
                              {"attn_norm.beta", "ln_1.bias", C, true},
                              {"attn.wq", "attn.c_attn.weight", F, true},
                              {"attn.wk", "attn.c_attn.weight", F, true},
                              {"attn.wv", "attn.c_attn.weight", F, true},
                              {"attn.bq", "attn.c_attn.bias", F, true},
                              {"attn.bk", "attn.c_attn.bias", F, true},
                              {"attn.bv", "attn.c_attn.bias", F, true},
                              {"attn.wo", "attn.c_proj.weight", C, true},
                              {"attn.bo", "attn.c_proj.bias", C, true},
                              {"mlp_norm.gamma", "ln_2.weight", C, true},
                              {"mlp_norm.beta", "ln_2.bias", C, true},
                              {"mlp.w1", "mlp.c_fc.weight", C, true},
                              {"mlp.b1", "mlp.c_fc.bias", C, true},
                              {"mlp.w2", "mlp.c_proj.weight", C, true},
                              {"mlp.b2", "mlp.c_proj.bias", C, true}}};
  return t;
}

const LayoutTable &llamaTable() {
  static const LayoutTable t{
      "model.layers.",
      {{"tok_embed", "model.embed_tokens.weight", C, false},
       {"final_norm.gamma", "model.norm.weight", C, false},
       {"final_norm.beta", "model.norm.bias", C, false},
       {"lm_head.w", "lm_head.weight", T, false}},
      {{"attn_norm.gamma", "input_layernorm.weight", C, false},
       {"attn_norm.beta", "input_layernorm.bias", C, false},
       {"attn.wq", "self_attn.q_proj.weight", T, false},
       {"attn.wk", "self_attn.k_proj.weight", T, false},
       {"attn.wv", "self_attn.v_proj.weight", T, false},
       {"attn.wo", "self_attn.o_proj.weight", T, false},
       {"attn.bq", "self_attn.q_proj.bias", C, false},
       {"attn.bk", "self_attn.k_proj.bias", C, false},
       {"attn.bv", "self_attn.v_proj.bias", C, false},
       {"attn.bo", "self_attn.o_proj.bias", C, false},
       {"mlp_norm.gamma", "post_attention_layernorm.weight", C, false},
       {"mlp_norm.beta", "post_attention_layernorm.bias", C, false},
       {"mlp.w1", "mlp.gate_proj.weight", T, false},
       {"mlp.w3", "mlp.up_proj.weight", T, false},
       {"mlp.w2", "mlp.down_proj.weight", T, false},
       {"mlp.b1", "mlp.gate_proj.bias", C, false},
       {"mlp.b3", "mlp.up_proj.bias", C, false},
       {"mlp.b2", "mlp.down_proj.bias", C, false}}};
  return t;
}

const LayoutTable &bertTable() {
  static const LayoutTable t{
      "encoder.layer.",
      {{"tok_embed", "embeddings.word_embeddings.weight", C, true},
       {"pos_embed", "embeddings.position_embeddings.weight", C, true},
       {"type_embed", "embeddings.token_type_embeddings.weight", C, true},
       {"embed_norm.gamma", "embeddings.LayerNorm.weight", C, true},
       {"embed_norm.beta", "embeddings.LayerNorm.bias", C, true},
       {"classifier.w", "classifier.weight", T, false},
       {"classifier.b", "classifier.bias", C, false},
       {"pooler.w", "pooler.dense.weight", T, true},
       {"pooler.b", "pooler.dense.bias", C, true}},
      {{"attn.wq", "attention.self.query.weight", T, true},
       {"attn.bq", "attention.self.query.bias", C, true},
       {"attn.wk", "attention.self.key.weight", T, true},
       {"attn.bk", "attention.self.key.bias", C, true},
       {"attn.wv", "attention.self.value.weight", T, true},
       {"attn.bv", "attention.self.value.bias", C, true},
       {"attn.wo", "attention.output.dense.weight", T, true},
       {"attn.bo", "attention.output.dense.bias", C, true},
       {"attn_norm.gamma", "attention.output.LayerNorm.weight", C, true},
       {"attn_norm.beta", "attention.output.LayerNorm.bias", C, true},
       {"mlp.w1", "intermediate.dense.weight", T, true},
       {"mlp.b1", "intermediate.dense.bias", C, true},
       {"mlp.w2", "output.dense.weight", T, true},
       {"mlp.b2", "output.dense.bias", C, true},
       {"mlp_norm.gamma", "output.LayerNorm.weight", C, true},
       {"mlp_norm.beta", "output.LayerNorm.bias", C, true}}};
  return t;
}

const LayoutTable &vitTable() {
  static const LayoutTable t{
      "encoder.layer.",
      {{"cls_token", "embeddings.cls_token", R, true},
       {"pos_embed", "embeddings.position_embeddings", R, true},
       {"patch.w", "embeddings.patch_embeddings.projection.weight", P, true},
       {"patch.b", "embeddings.patch_embeddings.projection.bias", C, true},
       {"final_norm.gamma", "layernorm.weight", C, true},
       {"final_norm.beta", "layernorm.bias", C, true},
       {"classifier.w", "classifier.weight", T, false},
       {"classifier.b", "classifier.bias", C, false}},
      {{"attn_norm.gamma", "layernorm_before.weight", C, true},
       {"attn_norm.beta", "layernorm_before.bias", C, true},
       {"attn.wq", "attention.attention.query.weight", T, true},
       {"attn.bq", "attention.attention.query.bias", C, true},
       {"attn.wk", "attention.attention.key.weight", T, true},
       {"attn.bk", "attention.attention.key.bias", C, true},
       {"attn.wv", "attention.attention.value.weight", T, true},
       {"attn.bv", "attention.attention.value.bias", C, true},
       {"attn.wo", "attention.output.dense.weight", T, true},
       {"attn.bo", "attention.output.dense.bias", C, true},
       {"mlp_norm.gamma", "layernorm_after.weight", C, true},
       {"mlp_norm.beta", "layernorm_after.bias", C, true},
       {"mlp.w1", "intermediate.dense.weight", T, true},
       {"mlp.b1", "intermediate.dense.bias", C, true},
       {"mlp.w2", "output.dense.weight", T, true},
       {"mlp.b2", "output.dense.bias", C, true}}};
  return t;
}

const LayoutTable *tableFor(WeightLayout layout) {
  switch (layout) {
  case WeightLayout::HFGPT2:
    return &gpt2Table();
  case WeightLayout::HFLlama:
    return &llamaTable();
  case WeightLayout::HFBERT:
    return &bertTable();
  case WeightLayout::HFViT:
    return &vitTable();
  case WeightLayout::Native:
    return nullptr;
  }
  return nullptr;
}

// The optional model prefix of a layout ("transformer." in GPT2LMHeadModel
// files), or "" for layouts without one.
const char *optionalPrefix(WeightLayout layout) {
  switch (layout) {
  case WeightLayout::HFGPT2:
    return "transformer.";
  case WeightLayout::HFBERT:
    return "bert.";
  case WeightLayout::HFViT:
    return "vit.";
  default:
    return "";
  }
}

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Rule {
  std::string file;                 // the tensor's name in the file
  std::vector<std::string> natives; // several only for ConcatColumns
  std::vector<std::vector<int64_t>> nativeShapes;
  Xform xform = Xform::Copy;
  std::vector<int64_t> fileShape;
  bool prefixed = false; // `file` starts with the layout's optional prefix
};

std::vector<int64_t> fileShapeOf(const Rule &rule, const ModelSpec &spec) {
  const std::vector<int64_t> &s = rule.nativeShapes.front();
  switch (rule.xform) {
  case Xform::Copy:
    return s;
  case Xform::Transpose:
    return {s[1], s[0]};
  case Xform::Reshape: {
    std::vector<int64_t> out(3 - s.size(), 1);
    out.insert(out.end(), s.begin(), s.end());
    return out;
  }
  case Xform::ConvPatch: {
    int64_t p = spec.image ? spec.image->patch : 0;
    int64_t c = spec.image ? spec.image->channels : 0;
    return {s[1], c, p, p};
  }
  case Xform::ConcatColumns: {
    std::vector<int64_t> out = s;
    out.back() = 0;
    for (const auto &shape : rule.nativeShapes)
      out.back() += shape.back();
    return out;
  }
  }
  return s;
}

// The file-side rules for `spec` in `layout`, file names with `prefix`.
bool buildRules(const ModelSpec &spec, WeightLayout layout,
                const std::string &prefix, std::vector<Rule> &rules,
                std::string &error) {
  std::vector<TensorInfo> manifest = buildManifest(spec);
  const LayoutTable *table = tableFor(layout);
  if (!table) {
    for (const TensorInfo &t : manifest) {
      Rule r;
      r.file = t.name;
      r.natives = {t.name};
      r.nativeShapes = {t.shape};
      r.fileShape = t.shape;
      rules.push_back(std::move(r));
    }
    return true;
  }
  if (spec.family == Family::EncoderDecoder) {
    error = std::string("model '") + spec.name + "': layout '" +
            toString(layout) +
            "' cannot hold an encoder-decoder model; use layout 'native'";
    return false;
  }
  std::map<std::string, size_t> ruleOfFile;
  for (const TensorInfo &t : manifest) {
    // Split "layers.<i>.<rest>" off; everything else is global.
    std::string local = t.name, stem;
    const std::vector<NameMap> *maps = &table->global;
    if (startsWith(t.name, "layers.")) {
      size_t dot = t.name.find('.', 7);
      stem = table->layerStem + t.name.substr(7, dot - 7) + ".";
      local = t.name.substr(dot + 1);
      maps = &table->layer;
    }
    const NameMap *map = nullptr;
    for (const NameMap &m : *maps)
      if (local == m.native)
        map = &m;
    if (!map) {
      error = std::string("model '") + spec.name + "': layout '" +
              toString(layout) + "' has no name for tensor '" + t.name +
              "'; use layout 'native'";
      return false;
    }
    std::string file = (map->prefixed ? prefix : "") + stem + map->file;
    auto it = ruleOfFile.find(file);
    if (it != ruleOfFile.end()) { // another column block of a fused tensor
      rules[it->second].natives.push_back(t.name);
      rules[it->second].nativeShapes.push_back(t.shape);
      continue;
    }
    Rule r;
    r.file = file;
    r.natives = {t.name};
    r.nativeShapes = {t.shape};
    r.xform = map->xform;
    r.prefixed = map->prefixed;
    ruleOfFile[file] = rules.size();
    rules.push_back(std::move(r));
  }
  for (Rule &r : rules)
    r.fileShape = fileShapeOf(r, spec);
  return true;
}

// Moves data from the file's arrangement to native tensors.
void fileToNative(const Rule &rule, const std::vector<double> &src,
                  std::map<std::string, RefTensor> &native) {
  const std::vector<int64_t> &fs = rule.fileShape;
  switch (rule.xform) {
  case Xform::Copy:
  case Xform::Reshape:
    native[rule.natives[0]] = RefTensor(rule.nativeShapes[0], src);
    return;
  case Xform::Transpose: {
    int64_t rows = fs[0], cols = fs[1];
    RefTensor t(rule.nativeShapes[0]);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        t[c * rows + r] = src[r * cols + c];
    native[rule.natives[0]] = std::move(t);
    return;
  }
  case Xform::ConvPatch: {
    int64_t d = fs[0], ch = fs[1], p = fs[2];
    RefTensor t(rule.nativeShapes[0]);
    for (int64_t o = 0; o < d; ++o)
      for (int64_t c = 0; c < ch; ++c)
        for (int64_t y = 0; y < p; ++y)
          for (int64_t x = 0; x < p; ++x)
            t[((y * p + x) * ch + c) * d + o] =
                src[((o * ch + c) * p + y) * p + x];
    native[rule.natives[0]] = std::move(t);
    return;
  }
  case Xform::ConcatColumns: {
    int64_t total = fs.back();
    int64_t rows = total ? static_cast<int64_t>(src.size()) / total : 0;
    int64_t col0 = 0;
    for (size_t k = 0; k < rule.natives.size(); ++k) {
      RefTensor t(rule.nativeShapes[k]);
      int64_t w = rule.nativeShapes[k].back();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < w; ++c)
          t[r * w + c] = src[r * total + col0 + c];
      col0 += w;
      native[rule.natives[k]] = std::move(t);
    }
    return;
  }
  }
}

// The inverse of fileToNative.
RefTensor nativeToFile(const Rule &rule,
                       const std::map<std::string, RefTensor> &native) {
  const std::vector<int64_t> &fs = rule.fileShape;
  const RefTensor &first = native.at(rule.natives[0]);
  RefTensor out(fs);
  switch (rule.xform) {
  case Xform::Copy:
  case Xform::Reshape:
    out.data = first.data;
    break;
  case Xform::Transpose: {
    int64_t rows = fs[0], cols = fs[1];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out[r * cols + c] = first[c * rows + r];
    break;
  }
  case Xform::ConvPatch: {
    int64_t d = fs[0], ch = fs[1], p = fs[2];
    for (int64_t o = 0; o < d; ++o)
      for (int64_t c = 0; c < ch; ++c)
        for (int64_t y = 0; y < p; ++y)
          for (int64_t x = 0; x < p; ++x)
            out[((o * ch + c) * p + y) * p + x] =
                first[((y * p + x) * ch + c) * d + o];
    break;
  }
  case Xform::ConcatColumns: {
    int64_t total = fs.back();
    int64_t rows = total ? out.numel() / total : 0;
    int64_t col0 = 0;
    for (const std::string &name : rule.natives) {
      const RefTensor &t = native.at(name);
      int64_t w = t.shape.back();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < w; ++c)
          out[r * total + col0 + c] = t[r * w + c];
      col0 += w;
    }
    break;
  }
  }
  return out;
}

/// "[3, 17]": the index of flat element `flat` of a tensor of `shape`.
std::string indexString(const std::vector<int64_t> &shape, size_t flat) {
  std::vector<int64_t> index(shape.size());
  uint64_t rest = flat;
  for (size_t d = shape.size(); d-- > 0;) {
    uint64_t extent = static_cast<uint64_t>(std::max<int64_t>(shape[d], 1));
    index[d] = static_cast<int64_t>(rest % extent);
    rest /= extent;
  }
  return formatShape(index);
}

bool readFloats(const SafetensorsFile &file, const SafetensorsEntry &entry,
                std::vector<double> &out, std::string &error) {
  if (!decodeFloats(entry.dtype, file.data(entry),
                    static_cast<size_t>(entry.numel), out, error)) {
    error =
        file.path() + ": tensor '" + printableText(entry.name) + "': " + error;
    return false;
  }
  // Compiled models compute in f32: a NaN or an infinity would poison every
  // output, and an F64 value beyond f32's range cannot even be converted
  // (that cast is undefined behaviour). Such a file is corrupt or was saved
  // from a diverged run; refuse it and say where.
  constexpr double kMaxF32 = std::numeric_limits<float>::max();
  for (size_t i = 0; i < out.size(); ++i) {
    double v = out[i];
    if (std::fabs(v) <= kMaxF32) // false for NaN
      continue;
    std::string what = std::isnan(v)   ? std::string("NaN")
                       : std::isinf(v) ? std::string(v < 0 ? "-inf" : "inf")
                                       : std::to_string(v);
    if (std::isfinite(v)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", v);
      what = std::string(buf) + ", beyond f32's range";
    }
    error = file.path() + ": tensor '" + printableText(entry.name) +
            "': element " + indexString(entry.shape, i) + " is " + what +
            "; weights must be finite f32 values";
    return false;
  }
  return true;
}

} // namespace

std::vector<PlanLayout> planLayouts(const ModelSpec &spec) {
  std::vector<WeightLayout> order = {spec.layout};
  for (WeightLayout l :
       {WeightLayout::Native, WeightLayout::HFGPT2, WeightLayout::HFLlama,
        WeightLayout::HFBERT, WeightLayout::HFViT})
    if (l != spec.layout)
      order.push_back(l);
  std::vector<PlanLayout> out;
  for (WeightLayout layout : order) {
    PlanLayout p;
    p.name = toString(layout);
    p.prefix = optionalPrefix(layout);
    std::vector<Rule> rules;
    if (!buildRules(spec, layout, "", rules, p.unsupported)) {
      out.push_back(std::move(p));
      continue;
    }
    if (spec.head.kind == HeadKind::LM && spec.head.tieEmbeddings)
      p.tiedHead = layout == WeightLayout::HFGPT2    ? "wte.weight"
                   : layout == WeightLayout::HFLlama ? "model.embed_tokens.weight"
                                                     : "";
    for (const Rule &r : rules) {
      int64_t column = 0;
      for (size_t k = 0; k < r.natives.size(); ++k) {
        PlanLayout::Source s;
        s.native = r.natives[k];
        s.file = r.file;
        s.prefixed = r.prefixed;
        s.xform = static_cast<int>(r.xform);
        s.fileShape = r.fileShape;
        s.column = column;
        column += r.nativeShapes[k].back();
        p.sources.push_back(std::move(s));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<WeightLayout> parseWeightLayout(const std::string &name) {
  for (WeightLayout l :
       {WeightLayout::Native, WeightLayout::HFGPT2, WeightLayout::HFLlama,
        WeightLayout::HFBERT, WeightLayout::HFViT})
    if (name == toString(l))
      return l;
  return std::nullopt;
}

bool toLayout(const ModelSpec &spec, WeightLayout layout,
              const std::map<std::string, RefTensor> &native,
              std::vector<std::pair<std::string, RefTensor>> &out,
              std::string &error) {
  std::string prefix;
  if (layout == WeightLayout::HFViT && spec.head.kind == HeadKind::Classifier)
    prefix = "vit."; // ViTForImageClassification's names
  std::vector<Rule> rules;
  if (!buildRules(spec, layout, prefix, rules, error))
    return false;
  out.clear();
  for (const Rule &rule : rules) {
    for (size_t k = 0; k < rule.natives.size(); ++k) {
      auto it = native.find(rule.natives[k]);
      if (it == native.end()) {
        error = "model '" + spec.name + "': missing native tensor '" +
                rule.natives[k] + "'";
        return false;
      }
      if (it->second.shape != rule.nativeShapes[k] ||
          it->second.data.size() !=
              static_cast<size_t>(RefTensor::count(rule.nativeShapes[k]))) {
        error = "model '" + spec.name + "': native tensor '" + rule.natives[k] +
                "': expected shape " + formatShape(rule.nativeShapes[k]) +
                ", found " + formatShape(it->second.shape);
        return false;
      }
    }
    out.emplace_back(rule.file, nativeToFile(rule, native));
  }
  return true;
}

bool fromLayout(const ModelSpec &spec, WeightLayout layout,
                const SafetensorsFile &file,
                std::map<std::string, RefTensor> &native, std::string &error) {
  native.clear();
  return fromLayoutEach(
      spec, layout, file,
      [&](const std::string &name, RefTensor &&t, std::string &) {
        native[name] = std::move(t);
        return true;
      },
      error);
}

bool fromLayoutEach(const ModelSpec &spec, WeightLayout layout,
                    const SafetensorsFile &file, const NativeSink &sink,
                    std::string &error) {
  // Detect the optional prefix: a GPT2LMHeadModel file says
  // "transformer.h.0...", a GPT2Model file "h.0...".
  std::string prefix;
  std::string candidate = optionalPrefix(layout);
  if (!candidate.empty())
    for (const SafetensorsEntry &e : file.entries())
      if (startsWith(e.name, candidate))
        prefix = candidate;

  std::vector<Rule> rules;
  if (!buildRules(spec, layout, prefix, rules, error)) {
    error = file.path() + ": " + error;
    return false;
  }
  std::set<std::string> used;
  std::vector<double> values;
  std::map<std::string, RefTensor> part;
  for (const Rule &rule : rules) {
    const SafetensorsEntry *entry = file.find(rule.file);
    if (!entry) {
      error = file.path() + ": missing tensor '" + rule.file +
              "' (expected shape " + formatShape(rule.fileShape) +
              ", layout '" + toString(layout) + "')";
      return false;
    }
    if (entry->shape != rule.fileShape) {
      error = file.path() + ": tensor '" + rule.file + "': expected shape " +
              formatShape(rule.fileShape) + ", found " +
              formatShape(entry->shape);
      return false;
    }
    if (!readFloats(file, *entry, values, error))
      return false;
    part.clear();
    fileToNative(rule, values, part);
    for (auto &[name, tensor] : part)
      if (!sink(name, std::move(tensor), error))
        return false;
    used.insert(rule.file);
  }

  for (const SafetensorsEntry &e : file.entries()) {
    if (used.count(e.name) || isIgnorableTensor(toString(layout), prefix, e.name))
      continue;
    // A tied model's file may still carry lm_head.weight (transformers
    // saves it for GPT-2 and some LLaMA checkpoints): fine if it is the
    // embedding matrix itself.
    bool tiedHead = spec.head.kind == HeadKind::LM && spec.head.tieEmbeddings;
    if (tiedHead && e.name == "lm_head.weight" &&
        (layout == WeightLayout::HFGPT2 || layout == WeightLayout::HFLlama)) {
      std::string embedName = layout == WeightLayout::HFGPT2
                                  ? prefix + "wte.weight"
                                  : "model.embed_tokens.weight";
      const SafetensorsEntry *embed = file.find(embedName);
      std::vector<double> head, emb;
      if (!readFloats(file, e, head, error))
        return false;
      if (embed && embed->shape == e.shape &&
          readFloats(file, *embed, emb, error) && emb == head)
        continue;
      error = file.path() + ": tensor 'lm_head.weight' differs from '" +
              embedName +
              "', but the spec ties the embeddings (head.tie_embeddings: "
              "true)";
      return false;
    }
    error = file.path() + ": unexpected tensor '" + printableText(e.name) +
            "' (not a weight of model '" + spec.name + "' in layout '" +
            toString(layout) + "')";
    return false;
  }
  return true;
}

} // namespace tfc
