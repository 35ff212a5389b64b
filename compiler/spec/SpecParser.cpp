//===- SpecParser.cpp - YAML model spec to a validated ModelSpec ----------===//
//
// yaml-cpp builds the node tree (and throws on syntax errors); this file
// walks it key by key, so every message can name the dotted key and the
// node's position. Defaults are resolved here and nowhere else, and sizes
// are bounded so that a typo cannot make a later stage allocate terabytes.
//
// An encoder-decoder's stacks are read through "layers": the top-level
// dims/block maps first, then the stack's own overrides, with the last
// layer that has a key winning.
//
//===----------------------------------------------------------------------===//
#include "spec/SpecParser.h"
#include "Printable.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace tfc {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 20;    // d_model, d_ff, vocab, ...
constexpr int64_t kMaxCount = 4096;              // heads, layers, channels
constexpr int64_t kMaxMatrix = int64_t(1) << 33; // elements per weight
// Whole-model bounds (docs/limits.md): the weights in all and the KV cache
// each at most 2^38 floats (1 TiB of f32), one activation (max_seq rows of
// the widest row) at most 2^35 floats (128 GiB). A spec within the
// per-key bounds above can still multiply out to petabytes; these stop it
// before any stage sizes an allocation from it.
constexpr int64_t kMaxTotalWeights = int64_t(1) << 38;
constexpr int64_t kMaxCacheFloats = int64_t(1) << 38;
constexpr int64_t kMaxActivation = int64_t(1) << 35;
// A spec file is a few kilobytes; more is not a spec.
constexpr size_t kMaxSpecBytes = size_t(16) << 20;

std::string join(const std::string &path, const std::string &key) {
  return path.empty() ? key : path + "." + key;
}

std::string limitText(int64_t hi) {
  if (hi == kMaxDim)
    return std::to_string(hi) + " (2^20)";
  return std::to_string(hi);
}

/// Saturating product, so that size checks cannot overflow.
int64_t mulSat(int64_t a, int64_t b) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a)
    return std::numeric_limits<int64_t>::max();
  return a * b;
}

/// Saturating sum, for the same reason.
int64_t addSat(int64_t a, int64_t b) {
  if (b > std::numeric_limits<int64_t>::max() - a)
    return std::numeric_limits<int64_t>::max();
  return a + b;
}

/// A count for a message; a saturated one is "more than 2^63".
std::string countText(int64_t n) {
  return n == std::numeric_limits<int64_t>::max()
             ? std::string("more than 2^63")
             : std::to_string(n);
}

/// Weight elements of one stack's layers: the projections and the MLP
/// (norms and biases are noise next to them); `cross` adds the decoder's
/// cross-attention.
int64_t layerWeights(const Dims &d, const BlockSpec &b, bool cross) {
  int64_t q = mulSat(d.nHeads, d.headDim), kv = mulSat(d.nKVHeads, d.headDim);
  int64_t attn = mulSat(d.dModel, addSat(addSat(q, q), addSat(kv, kv)));
  int64_t mlp = mulSat(mulSat(d.dModel, d.dFF), b.mlp.gated ? 3 : 2);
  return addSat(mulSat(attn, cross ? 2 : 1), mlp);
}

/// A scalar as it appears in a message: quoted, one line, not too long.
std::string quote(const std::string &s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    if (s[i] == '\n')
      out += "\\n";
    else
      out += s[i];
  }
  if (s.size() > 40)
    out += "...";
  return out + "'";
}

std::string describe(const YAML::Node &n) {
  if (!n.IsDefined() || n.IsNull())
    return "nothing";
  if (n.IsMap())
    return "a map";
  if (n.IsSequence())
    return "a sequence";
  return quote(n.Scalar());
}

/// One map the reader looks keys up in, and its dotted path ("" = root).
struct Layer {
  YAML::Node map;
  std::string path;
};

/// A section of the spec (`dims`, `block.mlp`, ...) as seen by one stack:
/// its layers, later ones overriding earlier ones key by key, the path
/// messages use for it, and a position for messages about keys it lacks.
struct Section {
  std::vector<Layer> layers;
  std::string path;
  YAML::Mark mark;
};

/// Where a key's value came from.
struct Found {
  bool present = false;
  YAML::Node key, value;
  std::string path;
};

Found lookup(const Section &s, const std::string &key) {
  Found f;
  f.path = join(s.path, key);
  for (auto l = s.layers.rbegin(); l != s.layers.rend(); ++l) {
    for (auto it = l->map.begin(); it != l->map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        f.present = true;
        f.key = it->first;
        f.value = it->second;
        f.path = join(l->path, key);
        return f;
      }
    }
  }
  return f;
}

/// An empty value (`key:`) is a null node placed at the next token, so
/// point at the key instead.
YAML::Mark markOf(const Found &f) {
  if (f.value.IsNull())
    return f.key.Mark();
  return f.value.Mark();
}

template <typename E> using Choices = std::vector<std::pair<const char *, E>>;

template <typename E> std::string choiceList(const Choices<E> &c) {
  std::string s;
  for (size_t i = 0; i < c.size(); ++i)
    s += (i ? ", " : "") + std::string(c[i].first);
  return s;
}

const Choices<Family> kFamilies = {{"decoder", Family::Decoder},
                                   {"encoder", Family::Encoder},
                                   {"vit", Family::ViT},
                                   {"encoder-decoder", Family::EncoderDecoder}};
const Choices<NormKind> kNorms = {{"layernorm", NormKind::LayerNorm},
                                  {"rmsnorm", NormKind::RMSNorm}};
const Choices<Placement> kPlacements = {{"pre", Placement::Pre},
                                        {"post", Placement::Post}};
const Choices<Activation> kActivations = {{"relu", Activation::ReLU},
                                          {"gelu", Activation::GELU},
                                          {"gelu_tanh", Activation::GELUTanh},
                                          {"silu", Activation::SiLU}};
const Choices<PositionKind> kPositions = {
    {"learned", PositionKind::Learned},
    {"sinusoidal", PositionKind::Sinusoidal},
    {"rope", PositionKind::RoPE},
    {"none", PositionKind::None}};
const Choices<HeadKind> kHeads = {{"lm", HeadKind::LM},
                                  {"classifier", HeadKind::Classifier},
                                  {"none", HeadKind::None},
                                  {"pooler", HeadKind::Pooler}};
const Choices<Pool> kPools = {{"cls", Pool::CLS}, {"mean", Pool::Mean}};
const Choices<DType> kDTypes = {
    {"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}};
const Choices<TokenizerKind> kTokenizers = {{"none", TokenizerKind::None},
                                            {"byte", TokenizerKind::Byte},
                                            {"gpt2", TokenizerKind::GPT2}};
const Choices<ImageResizeKind> kImageResizes = {
    {"crop", ImageResizeKind::Crop}, {"stretch", ImageResizeKind::Stretch}};
const Choices<WeightLayout> kLayouts = {{"native", WeightLayout::Native},
                                        {"hf-gpt2", WeightLayout::HFGPT2},
                                        {"hf-llama", WeightLayout::HFLlama},
                                        {"hf-bert", WeightLayout::HFBERT},
                                        {"hf-vit", WeightLayout::HFViT}};

using KeyList = std::vector<const char *>;
const KeyList kRootKeys = {
    "name",           "family",  "image",     "dims",     "block",
    "encoder",        "decoder", "positions", "head",     "final_norm",
    "embedding_norm", "dtype",   "weights",   "tokenizer"};
const KeyList kDimsKeys = {"vocab",   "d_model",  "n_layers",
                           "n_heads", "head_dim", "n_kv_heads",
                           "d_ff",    "max_seq",  "type_vocab"};
const KeyList kBlockKeys = {"norm", "norm_eps", "placement", "attention",
                            "mlp"};
const KeyList kAttentionKeys = {"causal", "bias"};
const KeyList kMLPKeys = {"activation", "gated", "bias"};
const KeyList kPositionsKeys = {"kind", "rope_theta"};
const KeyList kHeadKeys = {"kind", "tie_embeddings", "classes", "pool"};
const KeyList kImageKeys = {"height", "width", "channels", "patch",
                            "mean",   "std",   "resize"};
const KeyList kWeightsKeys = {"layout"};
const KeyList kStackKeys = {"dims", "block"};

/// Where each dims value came from, for messages about consistency.
struct DimsFound {
  Found vocab, dModel, nHeads, headDim, nKVHeads, maxSeq;
};

class SpecReader {
public:
  explicit SpecReader(std::string fileName) : file(std::move(fileName)) {}

  std::optional<ModelSpec> read(const YAML::Node &root);

  std::string error;

private:
  std::string file;

  bool fail(const YAML::Mark &m, const std::string &key,
            const std::string &msg) {
    // yaml-cpp marks are 0-based; a node without a position gets 1:1.
    int line = m.line < 0 ? 1 : m.line + 1;
    int col = m.column < 0 ? 1 : m.column + 1;
    std::ostringstream os;
    os << file << ":" << line << ":" << col << ": ";
    if (!key.empty())
      os << key << ": ";
    os << msg;
    error = os.str();
    return false;
  }
  bool fail(const Found &f, const std::string &msg) {
    return fail(markOf(f), f.path, msg);
  }
  bool missing(const Section &s, const std::string &key,
               const std::string &what) {
    return fail(s.mark, join(s.path, key),
                "missing required key; expected " + what);
  }

  bool checkMap(const YAML::Node &map, const YAML::Mark &where,
                const std::string &path, const KeyList &allowed);
  bool openSection(const Section &parent, const char *key,
                   const KeyList &allowed, Section &out);
  bool openStackSection(const Section &top, const Section &stack,
                        const char *key, const KeyList &allowed, Section &out);

  bool readInt(const Found &f, int64_t lo, int64_t hi, int64_t &out);
  bool readNumber(const Found &f, bool positive, double &out);
  bool readBool(const Found &f, bool &out);
  bool readString(const Found &f, std::string &out);
  template <typename E>
  bool readEnum(const Found &f, const Choices<E> &choices, E &out);

  // Each optional key: read it if present, else leave the default.
  bool optInt(const Section &s, const char *key, int64_t lo, int64_t hi,
              int64_t &out, Found *where = nullptr) {
    Found f = lookup(s, key);
    if (where)
      *where = f;
    return !f.present || readInt(f, lo, hi, out);
  }
  bool optBool(const Section &s, const char *key, bool &out) {
    Found f = lookup(s, key);
    return !f.present || readBool(f, out);
  }
  template <typename E>
  bool optEnum(const Section &s, const char *key, const Choices<E> &c, E &out,
               Found *where = nullptr) {
    Found f = lookup(s, key);
    if (where)
      *where = f;
    return !f.present || readEnum(f, c, out);
  }
  bool reqInt(const Section &s, const char *key, int64_t lo, int64_t hi,
              int64_t &out, Found *where = nullptr) {
    Found f = lookup(s, key);
    if (where)
      *where = f;
    if (!f.present)
      return missing(s, key,
                     lo > 0 ? "a positive integer" : "a non-negative integer");
    return readInt(f, lo, hi, out);
  }

  bool readDims(const Section &s, Family family, int64_t vitPatches, Dims &d,
                DimsFound &found);
  bool readBlock(const Section &root, const Section *stack, bool causal,
                 BlockSpec &b);
  bool readImage(const Section &s, ImageSpec &img);
  bool checkStack(const Section &dimsSection, const Dims &d,
                  const DimsFound &found, const ModelSpec &spec);
  bool checkMatrix(const Section &s, const char *what, const char *rowsName,
                   int64_t rows, const char *colsName, int64_t cols,
                   const std::string &key);
  bool checkMemory(const Section &dimsSection, const Dims &d,
                   const DimsFound &found, int kvCaches, const ModelSpec &spec);
  bool checkTotalWeights(const Section &dimsSection, const ModelSpec &spec);
  bool readStack(const Section &root, const Section &topDims, const char *name,
                 bool causal, Family family, StackSpec &stack, DimsFound &found,
                 Section &dimsOut);
};

bool SpecReader::checkMap(const YAML::Node &map, const YAML::Mark &where,
                          const std::string &path, const KeyList &allowed) {
  if (!map.IsMap())
    return fail(where, path, "expected a map, found " + describe(map));
  std::vector<std::pair<std::string, YAML::Mark>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // A copy: the iterator hands out a proxy that dies with the statement.
    const YAML::Node k = it->first;
    if (!k.IsScalar())
      return fail(k.Mark(), path, "expected a key name, found " + describe(k));
    const std::string &name = k.Scalar();
    bool known = false;
    for (const char *a : allowed)
      known = known || name == a;
    if (!known) {
      std::string list;
      for (size_t i = 0; i < allowed.size(); ++i)
        list += (i ? ", " : "") + std::string(allowed[i]);
      return fail(k.Mark(), join(path, name),
                  "unknown key; expected one of " + list);
    }
    for (const auto &s : seen)
      if (s.first == name)
        return fail(k.Mark(), join(path, name),
                    "duplicate key; first given at " +
                        std::to_string(s.second.line + 1) + ":" +
                        std::to_string(s.second.column + 1));
    seen.emplace_back(name, k.Mark());
  }
  return true;
}

bool SpecReader::openSection(const Section &parent, const char *key,
                             const KeyList &allowed, Section &out) {
  out.path = join(parent.path, key);
  out.mark = parent.mark;
  out.layers.clear();
  for (const Layer &l : parent.layers) {
    Section single{{l}, l.path, {}};
    Found f = lookup(single, key);
    if (!f.present)
      continue;
    if (!checkMap(f.value, markOf(f), f.path, allowed))
      return false;
    out.layers.push_back({f.value, f.path});
    out.mark = f.value.Mark();
  }
  return true;
}

/// A stack's view of a section: the top-level map's layers, then the
/// stack's own map. Messages about the stack use the stack's path.
bool SpecReader::openStackSection(const Section &top, const Section &stack,
                                  const char *key, const KeyList &allowed,
                                  Section &out) {
  Section own;
  if (!openSection(stack, key, allowed, own))
    return false;
  out = top;
  out.path = own.path;
  for (const Layer &l : own.layers)
    out.layers.push_back(l);
  if (!own.layers.empty() || !stack.layers.empty())
    out.mark = own.mark;
  return true;
}

bool SpecReader::readInt(const Found &f, int64_t lo, int64_t hi, int64_t &out) {
  std::string want = lo > 0 ? "a positive integer" : "a non-negative integer";
  if (!f.value.IsScalar())
    return fail(f, "expected " + want + ", found " + describe(f.value));
  const std::string &s = f.value.Scalar();
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-'))
    negative = s[i++] == '-';
  if (i == s.size())
    return fail(f, "expected " + want + ", found " + quote(s));
  int64_t v = 0;
  bool overflow = false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return fail(f, "expected " + want + ", found " + quote(s));
    if (v > (std::numeric_limits<int64_t>::max() - 9) / 10)
      overflow = true;
    else
      v = v * 10 + (s[i] - '0');
  }
  if (negative && (v != 0 || overflow))
    return fail(f, "expected " + want + ", found " + s);
  if (overflow || v > hi)
    return fail(f, "expected at most " + limitText(hi) + ", found " + s);
  if (v < lo)
    return fail(f, "expected " + want + ", found " + s);
  out = v;
  return true;
}

bool SpecReader::readNumber(const Found &f, bool positive, double &out) {
  std::string want = positive ? "a positive number" : "a number";
  if (!f.value.IsScalar())
    return fail(f, "expected " + want + ", found " + describe(f.value));
  const std::string &s = f.value.Scalar();
  // strtod also takes "inf", "nan" and hex floats: only plain decimals here.
  bool plain = !s.empty();
  for (char c : s)
    plain = plain && std::strchr("0123456789+-.eE", c) != nullptr;
  char *end = nullptr;
  errno = 0;
  double v = plain ? std::strtod(s.c_str(), &end) : 0.0;
  if (!plain || end != s.c_str() + s.size() || errno == ERANGE ||
      !std::isfinite(v))
    return fail(f, "expected " + want + ", found " + quote(s));
  if (positive && !(v > 0))
    return fail(f, "expected " + want + ", found " + s);
  out = v;
  return true;
}

bool SpecReader::readBool(const Found &f, bool &out) {
  // Only YAML 1.2's spellings: `yes`/`on` are too easy to misread.
  if (f.value.IsScalar()) {
    const std::string &s = f.value.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") {
      out = true;
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      out = false;
      return true;
    }
  }
  return fail(f, "expected true or false, found " + describe(f.value));
}

bool SpecReader::readString(const Found &f, std::string &out) {
  if (!f.value.IsScalar() || f.value.Scalar().empty())
    return fail(
        f, "expected a non-empty string, found " +
               (f.value.IsScalar() ? std::string("''") : describe(f.value)));
  out = f.value.Scalar();
  return true;
}

template <typename E>
bool SpecReader::readEnum(const Found &f, const Choices<E> &choices, E &out) {
  if (f.value.IsScalar())
    for (const auto &c : choices)
      if (f.value.Scalar() == c.first) {
        out = c.second;
        return true;
      }
  return fail(f, "expected one of " + choiceList(choices) + ", found " +
                     describe(f.value));
}

bool SpecReader::readDims(const Section &s, Family family, int64_t vitPatches,
                          Dims &d, DimsFound &found) {
  bool vit = family == Family::ViT;
  if (vit) {
    if (!optInt(s, "vocab", 0, kMaxDim, d.vocab, &found.vocab))
      return false;
  } else if (!reqInt(s, "vocab", 1, kMaxDim, d.vocab, &found.vocab)) {
    return false;
  }
  if (!reqInt(s, "d_model", 1, kMaxDim, d.dModel, &found.dModel) ||
      !reqInt(s, "n_layers", 1, kMaxCount, d.nLayers) ||
      !reqInt(s, "n_heads", 1, kMaxCount, d.nHeads, &found.nHeads) ||
      !optInt(s, "head_dim", 1, kMaxDim, d.headDim, &found.headDim) ||
      !optInt(s, "n_kv_heads", 1, kMaxCount, d.nKVHeads, &found.nKVHeads) ||
      !optInt(s, "d_ff", 1, kMaxDim, d.dFF))
    return false;
  if (vit) {
    d.maxSeq = 1 + vitPatches;
    if (!optInt(s, "max_seq", 1, kMaxDim, d.maxSeq, &found.maxSeq))
      return false;
    if (found.maxSeq.present && d.maxSeq != 1 + vitPatches)
      return fail(found.maxSeq, "expected " + std::to_string(1 + vitPatches) +
                                    " (1 + " + std::to_string(vitPatches) +
                                    " patches) for family vit, found " +
                                    std::to_string(d.maxSeq));
  } else if (!reqInt(s, "max_seq", 1, kMaxDim, d.maxSeq, &found.maxSeq)) {
    return false;
  }
  if (!optInt(s, "type_vocab", 0, kMaxDim, d.typeVocab))
    return false;

  if (!found.headDim.present) {
    if (d.dModel % d.nHeads != 0)
      return fail(found.nHeads, "expected a divisor of d_model (" +
                                    std::to_string(d.dModel) +
                                    ") when head_dim is not given, found " +
                                    std::to_string(d.nHeads));
    d.headDim = d.dModel / d.nHeads;
  }
  if (!found.nKVHeads.present) {
    d.nKVHeads = d.nHeads;
  } else if (d.nKVHeads > d.nHeads) {
    return fail(found.nKVHeads, "expected at most n_heads (" +
                                    std::to_string(d.nHeads) + "), found " +
                                    std::to_string(d.nKVHeads));
  } else if (d.nHeads % d.nKVHeads != 0) {
    return fail(found.nKVHeads, "expected a divisor of n_heads (" +
                                    std::to_string(d.nHeads) + "), found " +
                                    std::to_string(d.nKVHeads));
  }
  if (!lookup(s, "d_ff").present)
    d.dFF = 4 * d.dModel;
  return true;
}

bool SpecReader::readBlock(const Section &root, const Section *stack,
                           bool causal, BlockSpec &b) {
  Section blk, att, mlp;
  if (!openSection(root, "block", kBlockKeys, blk))
    return false;
  if (stack) {
    Section topBlk = blk;
    if (!openStackSection(topBlk, *stack, "block", kBlockKeys, blk))
      return false;
  }
  if (!openSection(blk, "attention", kAttentionKeys, att) ||
      !openSection(blk, "mlp", kMLPKeys, mlp))
    return false;
  b.attention.causal = causal;
  Found eps = lookup(blk, "norm_eps");
  return optEnum(blk, "norm", kNorms, b.norm) &&
         (!eps.present || readNumber(eps, true, b.normEps)) &&
         optEnum(blk, "placement", kPlacements, b.placement) &&
         optBool(att, "causal", b.attention.causal) &&
         optBool(att, "bias", b.attention.bias) &&
         optEnum(mlp, "activation", kActivations, b.mlp.activation) &&
         optBool(mlp, "gated", b.mlp.gated) && optBool(mlp, "bias", b.mlp.bias);
}

bool SpecReader::readImage(const Section &s, ImageSpec &img) {
  Found height, width, patch;
  if (!reqInt(s, "height", 1, kMaxDim, img.height, &height) ||
      !reqInt(s, "width", 1, kMaxDim, img.width, &width) ||
      !optInt(s, "channels", 1, kMaxCount, img.channels) ||
      !reqInt(s, "patch", 1, kMaxDim, img.patch, &patch) ||
      !optEnum(s, "resize", kImageResizes, img.resize))
    return false;
  for (Found *side : {&height, &width}) {
    int64_t v = side == &height ? img.height : img.width;
    if (v % img.patch != 0)
      return fail(*side, "expected a multiple of patch (" +
                             std::to_string(img.patch) + "), found " +
                             std::to_string(v));
  }
  if (img.numPatches() > kMaxDim - 1)
    return fail(s.mark, s.path,
                "expected at most " + std::to_string(kMaxDim - 1) +
                    " patches (max_seq = 1 + patches <= 2^20), found " +
                    std::to_string(img.numPatches()));
  struct PerChannel {
    const char *key;
    std::vector<double> &vals;
    bool positive; // the image is divided by std
  };
  for (const PerChannel &pc : {PerChannel{"mean", img.mean, false},
                               PerChannel{"std", img.std, true}}) {
    std::vector<double> &vals = pc.vals;
    vals.assign(static_cast<size_t>(img.channels), 0.5);
    Found f = lookup(s, pc.key);
    if (!f.present)
      continue;
    if (!f.value.IsSequence())
      return fail(f, "expected a sequence of " + std::to_string(img.channels) +
                         " numbers (one per channel), found " +
                         describe(f.value));
    if (static_cast<int64_t>(f.value.size()) != img.channels)
      return fail(f, "expected " + std::to_string(img.channels) +
                         " values (one per channel), found " +
                         std::to_string(f.value.size()));
    for (size_t i = 0; i < f.value.size(); ++i) {
      Found e{true, f.value[i], f.value[i],
              f.path + "[" + std::to_string(i) + "]"};
      if (!readNumber(e, pc.positive, vals[i]))
        return false;
    }
  }
  return true;
}

bool SpecReader::checkMatrix(const Section &s, const char *what,
                             const char *rowsName, int64_t rows,
                             const char *colsName, int64_t cols,
                             const std::string &key) {
  int64_t n = mulSat(rows, cols);
  if (n <= kMaxMatrix)
    return true;
  std::string count = n == std::numeric_limits<int64_t>::max()
                          ? std::string("more than 2^63")
                          : std::to_string(n);
  return fail(s.mark, key,
              "expected at most " + std::to_string(kMaxMatrix) +
                  " (2^33) elements per weight matrix, found " + count +
                  " in the " + what + " (" + rowsName + " x " + colsName +
                  " = " + std::to_string(rows) + " x " + std::to_string(cols) +
                  ")");
}

/// Checks of one stack that need more than its dims: rope and sizes.
bool SpecReader::checkStack(const Section &ds, const Dims &d,
                            const DimsFound &found, const ModelSpec &spec) {
  if (spec.positions.kind == PositionKind::RoPE && d.headDim % 2 != 0) {
    std::string msg = "expected an even number with rope positions (rope "
                      "rotates pairs), found " +
                      std::to_string(d.headDim);
    if (found.headDim.present)
      return fail(found.headDim, msg);
    return fail(ds.mark, join(ds.path, "head_dim"),
                msg + " (d_model / n_heads)");
  }
  if (!checkMatrix(ds, "token embedding", "vocab", d.vocab, "d_model", d.dModel,
                   ds.path) ||
      !checkMatrix(ds, "token-type embedding", "type_vocab", d.typeVocab,
                   "d_model", d.dModel, ds.path) ||
      !checkMatrix(ds, "query projection", "d_model", d.dModel,
                   "n_heads * head_dim", mulSat(d.nHeads, d.headDim),
                   ds.path) ||
      !checkMatrix(ds, "MLP", "d_model", d.dModel, "d_ff", d.dFF, ds.path))
    return false;
  if (spec.positions.kind == PositionKind::Learned &&
      !checkMatrix(ds, "position embedding", "max_seq", d.maxSeq, "d_model",
                   d.dModel, ds.path))
    return false;
  return true;
}

/// The memory a stack needs at run time, from its dims alone: the widest
/// activation (max_seq rows; the arena holds a few of them) and the KV
/// cache: every layer's keys and values for max_seq positions, `kvCaches`
/// times (compiled encoders keep theirs there too; an encoder-decoder's
/// decoder layers also hold the source's cross-attention keys and values).
bool SpecReader::checkMemory(const Section &ds, const Dims &d,
                             const DimsFound &found, int kvCaches,
                             const ModelSpec &spec) {
  auto failAtMaxSeq = [&](const std::string &msg) {
    if (found.maxSeq.present)
      return fail(found.maxSeq, msg);
    return fail(ds.mark, join(ds.path, "max_seq"), msg);
  };
  int64_t kvWidth = mulSat(d.nKVHeads, d.headDim);
  struct Row {
    const char *name;
    int64_t width;
  } rows[] = {{"d_model", d.dModel},
              {"d_ff", d.dFF},
              {"n_heads * head_dim", mulSat(d.nHeads, d.headDim)},
              {"vocab", spec.head.kind == HeadKind::LM ? d.vocab : 0}};
  const Row *widest = &rows[0];
  for (const Row &r : rows)
    if (r.width > widest->width)
      widest = &r;
  int64_t act = mulSat(d.maxSeq, widest->width);
  if (act > kMaxActivation)
    return failAtMaxSeq("expected at most " + std::to_string(kMaxActivation) +
                        " (2^35) elements per activation, found " +
                        countText(act) + " (max_seq x " + widest->name + " = " +
                        std::to_string(d.maxSeq) + " x " +
                        std::to_string(widest->width) + ")");
  if (kvCaches == 0)
    return true;
  int64_t cache = mulSat(mulSat(mulSat(kvCaches, d.nLayers), d.maxSeq),
                         mulSat(2, kvWidth));
  std::string copies =
      kvCaches > 1 ? std::to_string(kvCaches) + " x " : std::string();
  if (cache > kMaxCacheFloats)
    return failAtMaxSeq(
        "expected a KV cache of at most " + std::to_string(kMaxCacheFloats) +
        " (2^38) floats, found " + countText(cache) + " (" + copies +
        "n_layers x max_seq x 2 x n_kv_heads x head_dim = " + copies +
        std::to_string(d.nLayers) + " x " + std::to_string(d.maxSeq) +
        " x 2 x " + std::to_string(d.nKVHeads) + " x " +
        std::to_string(d.headDim) +
        (kvCaches > 1 ? "; the decoder layers' self- and cross-attention)"
                      : ")"));
  return true;
}

/// Every weight matrix of the model together (each is already bounded by
/// checkMatrix; a deep stack of them is not).
bool SpecReader::checkTotalWeights(const Section &ds, const ModelSpec &spec) {
  int64_t layers = 0, inLayers = 0;
  auto addStack = [&](const Dims &d, const BlockSpec &b, bool cross) {
    layers = addSat(layers, d.nLayers);
    inLayers = addSat(inLayers, mulSat(d.nLayers, layerWeights(d, b, cross)));
    if (spec.positions.kind == PositionKind::Learned)
      return mulSat(d.maxSeq, d.dModel);
    return int64_t(0);
  };
  const Dims &d = spec.dims;
  int64_t outside = mulSat(addSat(d.vocab, d.typeVocab), d.dModel);
  if (spec.encoder && spec.decoder) {
    outside = addSat(outside,
                     addStack(spec.encoder->dims, spec.encoder->block, false));
    outside = addSat(outside,
                     addStack(spec.decoder->dims, spec.decoder->block, true));
  } else {
    outside = addSat(outside, addStack(d, spec.block, false));
  }
  if (spec.head.kind == HeadKind::LM && !spec.head.tieEmbeddings)
    outside = addSat(outside, mulSat(d.dModel, d.vocab));
  if (spec.head.kind == HeadKind::Classifier)
    outside = addSat(outside, mulSat(d.dModel, spec.head.classes));
  if (spec.head.kind == HeadKind::Pooler)
    outside = addSat(outside, mulSat(d.dModel, d.dModel));
  if (spec.image)
    outside = addSat(
        outside, mulSat(mulSat(spec.image->channels,
                               mulSat(spec.image->patch, spec.image->patch)),
                        d.dModel));
  int64_t total = addSat(inLayers, outside);
  if (total <= kMaxTotalWeights)
    return true;
  return fail(ds.mark, ds.path,
              "expected at most " + std::to_string(kMaxTotalWeights) +
                  " (2^38) weight elements in all, found " + countText(total) +
                  " (" + countText(inLayers) + " in " + std::to_string(layers) +
                  " layers, " + countText(outside) + " outside them)");
}

bool SpecReader::readStack(const Section &root, const Section &topDims,
                           const char *name, bool causal, Family family,
                           StackSpec &stack, DimsFound &found, Section &ds) {
  Section own;
  if (!openSection(root, name, kStackKeys, own))
    return false;
  stack.dims = Dims();
  if (!openStackSection(topDims, own, "dims", kDimsKeys, ds) ||
      !readDims(ds, family, 0, stack.dims, found))
    return false;
  return readBlock(root, &own, causal, stack.block);
}

std::optional<ModelSpec> SpecReader::read(const YAML::Node &root) {
  ModelSpec spec;
  spec.sourcePath = file;
  if (!root.IsDefined() || root.IsNull()) {
    fail(YAML::Mark::null_mark(), "",
         "expected a map of spec keys (name, family, dims, ...), found an "
         "empty document");
    return std::nullopt;
  }
  if (!root.IsMap()) {
    fail(root.Mark(), "",
         "expected a map of spec keys (name, family, dims, ...), found " +
             describe(root));
    return std::nullopt;
  }
  if (!checkMap(root, root.Mark(), "", kRootKeys))
    return std::nullopt;
  Section top{{{root, ""}}, "", root.Mark()};

  Found f = lookup(top, "name");
  if (!f.present) {
    missing(top, "name", "a non-empty string");
    return std::nullopt;
  }
  Found familyAt;
  if (!readString(f, spec.name) ||
      !optEnum(top, "family", kFamilies, spec.family, &familyAt))
    return std::nullopt;
  const Family family = spec.family;
  const bool vit = family == Family::ViT;
  const bool encDec = family == Family::EncoderDecoder;
  const std::string familyName = std::string("family ") + toString(family);

  // Keys that belong to one family only.
  struct FamilyKey {
    const char *key;
    bool allowed;
    const char *family;
  };
  for (const FamilyKey &fk :
       {FamilyKey{"image", vit, "vit"},
        FamilyKey{"encoder", encDec, "encoder-decoder"},
        FamilyKey{"decoder", encDec, "encoder-decoder"}}) {
    Found g = lookup(top, fk.key);
    if (g.present && !fk.allowed) {
      fail(g.key.Mark(), fk.key,
           std::string("expected only with family ") + fk.family + ", found " +
               familyName);
      return std::nullopt;
    }
  }

  int64_t patches = 0;
  if (vit) {
    Section img;
    if (!openSection(top, "image", kImageKeys, img))
      return std::nullopt;
    if (img.layers.empty()) {
      missing(top, "image", "a map with height, width and patch (family vit)");
      return std::nullopt;
    }
    spec.image = ImageSpec();
    if (!readImage(img, *spec.image))
      return std::nullopt;
    patches = spec.image->numPatches();
  }

  Section dims;
  DimsFound dimsFound;
  if (!openSection(top, "dims", kDimsKeys, dims))
    return std::nullopt;
  if (dims.layers.empty()) {
    missing(top, "dims", "a map with d_model, n_layers and n_heads");
    return std::nullopt;
  }
  if (!readDims(dims, family, patches, spec.dims, dimsFound) ||
      !readBlock(top, nullptr, family == Family::Decoder, spec.block))
    return std::nullopt;

  Section pos, head, weights;
  if (!openSection(top, "positions", kPositionsKeys, pos) ||
      !openSection(top, "head", kHeadKeys, head) ||
      !openSection(top, "weights", kWeightsKeys, weights))
    return std::nullopt;
  Found theta = lookup(pos, "rope_theta");
  if (!optEnum(pos, "kind", kPositions, spec.positions.kind) ||
      (theta.present && !readNumber(theta, false, spec.positions.ropeTheta)))
    return std::nullopt;
  if (spec.positions.kind == PositionKind::RoPE &&
      !(spec.positions.ropeTheta > 0)) {
    fail(theta, "expected a positive number with rope positions, found " +
                    theta.value.Scalar());
    return std::nullopt;
  }

  spec.head.kind = vit                         ? HeadKind::Classifier
                   : family == Family::Encoder ? HeadKind::None
                                               : HeadKind::LM;
  Found headKind, classes;
  if (!optEnum(head, "kind", kHeads, spec.head.kind, &headKind) ||
      !optBool(head, "tie_embeddings", spec.head.tieEmbeddings) ||
      !optInt(head, "classes", 0, kMaxDim, spec.head.classes, &classes) ||
      !optEnum(head, "pool", kPools, spec.head.pool))
    return std::nullopt;
  if (spec.head.kind == HeadKind::Classifier && spec.head.classes == 0) {
    if (!classes.present)
      missing(head, "classes", "a positive integer (classifier head)");
    else
      fail(classes, "expected a positive integer for a classifier head, "
                    "found 0");
    return std::nullopt;
  }
  // An encoder's padding mask does not reach the head: a mean over the rows
  // would average padding in. Its heads read the [CLS] token; tfc_pool
  // takes the mask for a mean of hidden states.
  if (family == Family::Encoder && spec.head.kind == HeadKind::Classifier &&
      spec.head.pool == Pool::Mean) {
    fail(lookup(head, "pool"), "expected cls for an encoder's classifier (a mean in the head "
               "would count padding; pool hidden states with their mask "
               "instead: tfc_pool, tfc embed --pool mean), found 'mean'");
    return std::nullopt;
  }
  if (spec.head.kind == HeadKind::Pooler && family != Family::Encoder) {
    fail(headKind, std::string("expected lm, classifier or none for a ") +
                       toString(family) +
                       " model, found 'pooler' (BERT's pooler is an "
                       "encoder's head)");
    return std::nullopt;
  }
  if (spec.head.kind == HeadKind::LM && spec.dims.vocab == 0) {
    fail(headKind, "expected classifier or none without dims.vocab, found "
                   "'lm'");
    return std::nullopt;
  }

  if (!optBool(top, "final_norm", spec.finalNorm) ||
      !optBool(top, "embedding_norm", spec.embeddingNorm) ||
      !optEnum(top, "dtype", kDTypes, spec.dtype) ||
      !optEnum(top, "tokenizer", kTokenizers, spec.tokenizer))
    return std::nullopt;
  Found layout;
  if (!optEnum(weights, "layout", kLayouts, spec.layout, &layout))
    return std::nullopt;
  // Published checkpoints' layouts each describe one family.
  WeightLayout l = spec.layout;
  bool layoutFits =
      l == WeightLayout::Native ||
      (family == Family::Decoder &&
       (l == WeightLayout::HFGPT2 || l == WeightLayout::HFLlama)) ||
      (family == Family::Encoder && l == WeightLayout::HFBERT) ||
      (vit && l == WeightLayout::HFViT);
  if (!layoutFits) {
    fail(layout, "expected native or a layout of " + familyName + ", found '" +
                     toString(l) + "'");
    return std::nullopt;
  }

  if (encDec) {
    StackSpec enc, dec;
    DimsFound encFound, decFound;
    Section encDims, decDims;
    if (!readStack(top, dims, "encoder", false, family, enc, encFound,
                   encDims) ||
        !readStack(top, dims, "decoder", true, family, dec, decFound,
                   decDims) ||
        !checkStack(encDims, enc.dims, encFound, spec) ||
        !checkStack(decDims, dec.dims, decFound, spec) ||
        !checkMemory(encDims, enc.dims, encFound, 1, spec) ||
        !checkMemory(decDims, dec.dims, decFound, 2, spec))
      return std::nullopt;
    // The decoder cross-attends to the encoder's D-vectors and both share
    // one token embedding.
    struct Agree {
      int64_t enc, dec;
      const Found &encAt, &decAt;
      const char *key;
    } agree[] = {{enc.dims.dModel, dec.dims.dModel, encFound.dModel,
                  decFound.dModel, "d_model"},
                 {enc.dims.vocab, dec.dims.vocab, encFound.vocab,
                  decFound.vocab, "vocab"}};
    for (const Agree &a : agree) {
      if (a.enc == a.dec)
        continue;
      bool blameDecoder = a.decAt.path.rfind("decoder.", 0) == 0;
      const Found &at = blameDecoder ? a.decAt : a.encAt;
      fail(at, "expected " + std::to_string(blameDecoder ? a.enc : a.dec) +
                   " as in the " + (blameDecoder ? "encoder" : "decoder") +
                   " (the stacks must agree), found " +
                   std::to_string(blameDecoder ? a.dec : a.enc));
      return std::nullopt;
    }
    spec.encoder = enc;
    spec.decoder = dec;
  } else if (!checkStack(dims, spec.dims, dimsFound, spec) ||
             !checkMemory(dims, spec.dims, dimsFound, 1, spec)) {
    return std::nullopt;
  }

  if (spec.head.kind == HeadKind::Classifier &&
      !checkMatrix(head, "classifier", "d_model", spec.dims.dModel, "classes",
                   spec.head.classes, "head.classes"))
    return std::nullopt;
  if (vit) {
    const ImageSpec &img = *spec.image;
    Section imgSec;
    openSection(top, "image", kImageKeys, imgSec);
    if (!checkMatrix(imgSec, "patch embedding", "channels * patch^2",
                     mulSat(img.channels, mulSat(img.patch, img.patch)),
                     "d_model", spec.dims.dModel, "image.patch"))
      return std::nullopt;
  }
  if (!checkTotalWeights(dims, spec))
    return std::nullopt;
  return spec;
}

// Where each document of a YAML stream starts. yaml-cpp 0.7's LoadAll loops
// forever on a stray top-level ',' (found by tests/fuzz/FuzzSpec): the
// parser returns an empty document without consuming the token, again and
// again. A document that starts where the previous one started is such a
// stall; it is reported instead of followed.
class DocumentCounter : public YAML::EventHandler {
public:
  std::vector<YAML::Mark> starts; // of each document
  std::vector<YAML::Mark> roots;  // of each document's root node

  void OnDocumentStart(const YAML::Mark &mark) override {
    starts.push_back(mark);
    roots.push_back(mark);
    inRoot = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark &mark, const std::string &, YAML::anchor_t,
                const std::string &) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark &mark, const std::string &,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

private:
  bool inRoot = false;
  void node(const YAML::Mark &mark) {
    if (!inRoot && !roots.empty())
      roots.back() = mark;
    inRoot = true;
  }
};

bool samePlace(const YAML::Mark &a, const YAML::Mark &b) {
  return a.pos == b.pos && a.line == b.line && a.column == b.column;
}

} // namespace

std::optional<ModelSpec> parseSpecString(const std::string &yamlText,
                                         const std::string &displayName,
                                         std::string &error) {
  try {
    // Count the documents first (at most two are needed to reject the
    // text) with a guard against yaml-cpp stalling, then load the only one.
    std::istringstream stream(yamlText);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    while (counter.starts.size() < 2 && parser.HandleNextDocument(counter)) {
      size_t n = counter.starts.size();
      if (n >= 2 && samePlace(counter.starts[n - 1], counter.starts[n - 2])) {
        const YAML::Mark &m = counter.starts[n - 1];
        error = displayName + ":" + std::to_string(m.line + 1) + ":" +
                std::to_string(m.column + 1) +
                ": invalid YAML: unexpected token (a stray ',' or "
                "flow indicator?)";
        return std::nullopt;
      }
    }
    SpecReader reader(displayName);
    if (counter.starts.size() > 1) {
      // Count the rest for the message; the stall guard applies here too.
      while (parser.HandleNextDocument(counter)) {
        size_t n = counter.starts.size();
        if (samePlace(counter.starts[n - 1], counter.starts[n - 2])) {
          counter.starts.pop_back();
          break;
        }
      }
      const YAML::Mark &m = counter.roots[1];
      error = displayName + ":" + std::to_string(m.line + 1) + ":" +
              std::to_string(m.column + 1) +
              ": expected one YAML document, found " +
              std::to_string(counter.starts.size());
      return std::nullopt;
    }
    std::optional<ModelSpec> spec = reader.read(
        counter.starts.empty() ? YAML::Node() : YAML::Load(yamlText));
    if (!spec)
      error = reader.error;
    return spec;
  } catch (const YAML::DeepRecursion &e) {
    // yaml-cpp's own message for this is "bad file".
    error = displayName + ":" + std::to_string(e.mark.line + 1) + ":" +
            std::to_string(e.mark.column + 1) +
            ": invalid YAML: nesting deeper than " +
            std::to_string(e.depth() - 1) + " levels";
  } catch (const YAML::ParserException &e) {
    // yaml-cpp quotes the offending byte in some messages ("unknown escape
    // character: X"); from a binary file it may be a NUL or a newline.
    error = displayName + ":" + std::to_string(e.mark.line + 1) + ":" +
            std::to_string(e.mark.column + 1) +
            ": invalid YAML: " + printableBytes(e.msg);
  } catch (const YAML::Exception &e) {
    error = displayName + ":" + std::to_string(e.mark.line + 1) + ":" +
            std::to_string(e.mark.column + 1) + ": " + printableBytes(e.msg);
  } catch (const std::exception &e) {
    error = displayName + ": " + e.what();
  }
  return std::nullopt;
}

std::optional<ModelSpec> parseSpecFile(const std::string &path,
                                       std::string &error) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    error = path + ": cannot read the spec: it is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open the spec: " + std::strerror(errno);
    return std::nullopt;
  }
  // Read in chunks up to the limit, so that a device or a pipe that never
  // ends (/dev/zero) is refused instead of read until memory runs out.
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxSpecBytes) {
      error = path + ": the spec is larger than " +
              std::to_string(kMaxSpecBytes) +
              " bytes (16 MiB, the limit; a spec is a few kilobytes)";
      return std::nullopt;
    }
  }
  if (in.bad()) {
    error = path + ": cannot read the spec: " + std::strerror(errno);
    return std::nullopt;
  }
  return parseSpecString(text, path, error);
}

} // namespace tfc
