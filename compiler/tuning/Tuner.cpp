//===- Tuner.cpp - Per-kernel schedule search by measurement -------------===//
//
// Each candidate is a fresh BuiltKernel (buildKernel with the candidate's
// parameters), JIT-compiled once and realized into preallocated outputs.
// Inputs are bound with Pipeline::infer_input_bounds (so packed and typed
// matrices and int8 scales get the shapes the candidate's schedule needs)
// and filled from a hash of their logical coordinates: a packed matrix
// element (p, k, panel) is column panel * P + p of row k, so every panel
// width sees the same logical weights. Attention's keys outnumber its
// queries when decoding, which bounds inference cannot know: its three
// inputs are allocated by hand.
//
//===----------------------------------------------------------------------===//
#include "tuning/Tuner.h"

#include "codegen/HalideKernels.h"
#include "driver/CompileModel.h"
#include "tuning/TuningFile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>

namespace tfc {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int dividingWidth(int64_t extent, int limit) {
  int w = 1;
  while (w * 2 <= limit && extent % (w * 2) == 0)
    w *= 2;
  return w;
}

int vectorFloats(const Halide::Target &t) {
  return std::max(1, t.natural_vector_size<float>());
}

/// Vector registers of the target (HalideKernels.cpp sizes tiles by them).
int vectorRegisters(const Halide::Target &t) {
  return t.has_feature(Halide::Target::AVX512) || t.arch == Halide::Target::ARM
             ? 32
             : 16;
}

bool tunable(const KernelDesc &d) {
  if (d.kind == KernelKind::Attention)
    return true;
  return hasMatrices(d.kind) && !(d.kind == KernelKind::Head && d.tied);
}

/// Column counts of the kernel's matrices (each is tiled on its own).
std::vector<int64_t> matrixCols(const KernelDesc &d) {
  switch (d.kind) {
  case KernelKind::QKV: { // (a cross-attention's part has only its own)
    std::vector<int64_t> cols;
    for (int64_t h : {queryHeads(d), keyHeads(d)})
      if (h > 0)
        cols.push_back(h * d.headDim);
    return cols;
  }
  case KernelKind::ProjResidual:
    return {d.d};
  case KernelKind::MLPUp:
    return {d.dFF};
  case KernelKind::Head:
    return {d.vocab};
  default:
    return {};
  }
}

/// Widths of the outputs, in order (KernelDesc.h).
std::vector<int64_t> outputWidths(const KernelDesc &d) {
  switch (d.kind) {
  case KernelKind::Embed:
    return {d.d};
  case KernelKind::QKV: { // q, k, v: the ones the kernel computes
    std::vector<int64_t> widths;
    for (int64_t h : {queryHeads(d), keyHeads(d), keyHeads(d)})
      if (h > 0)
        widths.push_back(h * d.headDim);
    return widths;
  }
  case KernelKind::Attention:
    return {d.heads * d.headDim};
  case KernelKind::ProjResidual:
    return {d.d};
  case KernelKind::MLPUp:
    return {d.dFF};
  case KernelKind::Head:
    return {d.vocab};
  case KernelKind::Patch:
    return {d.d};
  case KernelKind::Classify:
    return {d.classes};
  }
  return {};
}

std::string describe(const KernelDesc &d, const KernelTuning &t) {
  std::ostringstream os;
  const char *sep = "";
  if (t.panel > 0) {
    os << "panel=" << t.panel;
    sep = " ";
  }
  if (t.tileRows > 0) {
    os << sep << "tile_rows=" << t.tileRows;
    sep = " ";
  }
  if (d.kind == KernelKind::Attention && t.queryTile > 0)
    os << sep << "query_tile=" << t.queryTile;
  return os.str();
}

bool sameTuning(const KernelTuning &a, const KernelTuning &b) {
  return a.panel == b.panel && a.tileRows == b.tileRows &&
         a.queryTile == b.queryTile;
}

/// A value in [-1, 1) from (seed, argument, column, row): splitmix64.
float hashValue(uint64_t seed, uint64_t arg, int64_t c, int64_t k) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ull ^ (arg << 56) ^
               (static_cast<uint64_t>(k) << 28) ^ static_cast<uint64_t>(c);
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(
      static_cast<double>(z >> 40) / static_cast<double>(1ull << 23) - 1.0);
}

/// Fills `buf` from hashValue of each element's logical (column, row):
/// 3-D buffers are packed matrices [panels, rows, P] (Halide: P, rows,
/// panels), whose element (p, k, j) is column j * P + p.
bool fillBuffer(Halide::Buffer<> &buf, uint64_t seed, uint64_t arg,
                bool isScale, std::string &error) {
  halide_buffer_t *rb = buf.raw_buffer();
  int dims = rb->dimensions;
  if (dims < 1 || dims > 3) {
    error = "input " + std::to_string(arg) + " has " + std::to_string(dims) +
            " dimensions (expected 1 to 3)";
    return false;
  }
  Halide::Type type = buf.type();
  int bytes = type.bytes();
  int64_t extent[3] = {1, 1, 1}, stride[3] = {0, 0, 0};
  for (int i = 0; i < dims; ++i) {
    extent[i] = rb->dim[i].extent;
    stride[i] = rb->dim[i].stride;
  }
  uint8_t *host = rb->host;
  for (int64_t z = 0; z < extent[2]; ++z)
    for (int64_t y = 0; y < extent[1]; ++y)
      for (int64_t x = 0; x < extent[0]; ++x) {
        int64_t col = dims == 3 ? z * extent[0] + x : x;
        float v = hashValue(seed, arg, col, y);
        if (isScale)
          v = 0.01f + 0.005f * v; // positive, like real int8 scales
        uint8_t *p =
            host + (x * stride[0] + y * stride[1] + z * stride[2]) * bytes;
        if (type == Halide::Float(32)) {
          *reinterpret_cast<float *>(p) = v;
        } else if (type == Halide::Float(16)) {
          *reinterpret_cast<uint16_t *>(p) = Halide::float16_t(v).to_bits();
        } else if (type == Halide::BFloat(16)) {
          *reinterpret_cast<uint16_t *>(p) = Halide::bfloat16_t(v).to_bits();
        } else if (type == Halide::Int(8)) {
          *reinterpret_cast<int8_t *>(p) =
              static_cast<int8_t>(std::lround(v * 127.0f));
        } else if (type == Halide::Int(32)) {
          *reinterpret_cast<int32_t *>(p) = 0;
        } else {
          error = "input " + std::to_string(arg) + " has an unexpected type";
          return false;
        }
      }
  return true;
}

} // namespace

bool KernelRunner::build(const KernelDesc &d, const Halide::Target &target,
                         std::string &error) {
  desc_ = d;
  jit = target.without_feature(Halide::Target::NoRuntime);
  boundRows = boundKeys = -1;
  filled.clear();
  outs.clear();
  std::optional<BuiltKernel> k = buildKernel(d, target, error);
  if (!k)
    return false;
  kernel = std::make_shared<BuiltKernel>(std::move(*k));
  if (kernel->pos)
    kernel->pos->set(0);
  return guardedHalide("kernel " + d.symbol(), error,
                 [&] { kernel->pipeline.compile_jit(jit); });
}

bool KernelRunner::bind(int64_t rows, int64_t keys, uint64_t seed,
                        std::string &error) {
  if (!kernel) {
    error = "kernel runner: bind before a successful build";
    return false;
  }
  if (rows == boundRows && keys == boundKeys)
    return true;
  const KernelDesc &desc = desc_;
  outs.clear();
  for (int64_t w : outputWidths(desc))
    outs.push_back(
        Halide::Buffer<float>(static_cast<int>(w), static_cast<int>(rows)));
  std::vector<Halide::ImageParam> &in = kernel->inputs;
  bool attention = desc.kind == KernelKind::Attention;
  // Activations are re-bound for each N; weights stay (their shapes do not
  // depend on N).
  auto perCall = [&](const Halide::ImageParam &p) {
    const std::string &n = p.name();
    return attention || n == "x" || n == "a" || n == "r" || n == "tokens";
  };
  for (Halide::ImageParam &p : in)
    if (perCall(p))
      p.reset();
  if (attention) {
    int64_t hk = desc.heads * desc.headDim, gk = desc.kvHeads * desc.headDim;
    in[0].set(
        Halide::Buffer<float>(static_cast<int>(hk), static_cast<int>(rows)));
    in[1].set(
        Halide::Buffer<float>(static_cast<int>(gk), static_cast<int>(keys)));
    in[2].set(
        Halide::Buffer<float>(static_cast<int>(gk), static_cast<int>(keys)));
  } else {
    // The rows arguments have N rows: bound here, because a kernel's rows
    // past the last (a register tile's) read that last row, a clamp that
    // bounds inference alone cannot size.
    for (Halide::ImageParam &p : in) {
      if (!perCall(p) || p.dimensions() != 2)
        continue;
      const int64_t *width =
          Halide::Internal::as_const_int(p.parameter().extent_constraint(0));
      if (!width) {
        error = "kernel " + desc.symbol() + ": argument '" + p.name() +
                "' has no fixed width";
        return false;
      }
      p.set(Halide::Buffer<float>(static_cast<int>(*width),
                                  static_cast<int>(rows)));
    }
    Halide::Realization r(outs);
    if (!guardedHalide("kernel " + desc.symbol(), error,
                 [&] { kernel->pipeline.infer_input_bounds(r, jit); }))
      return false;
  }
  for (size_t i = 0; i < in.size(); ++i) {
    if (!perCall(in[i]) && filled.count(i))
      continue;
    Halide::Buffer<> b = in[i].get();
    const std::string &name = in[i].name();
    bool scale =
        name.size() > 6 && name.compare(name.size() - 6, 6, "_scale") == 0;
    if (!fillBuffer(b, seed, i, scale, error)) {
      error = "kernel " + desc.symbol() + ": " + error;
      return false;
    }
    filled.insert(i);
  }
  boundRows = rows;
  boundKeys = keys;
  return true;
}

double KernelRunner::run(std::string &error) {
  if (boundRows < 0) {
    error = "kernel runner: run before bind";
    return -1;
  }
  Halide::Realization r(outs);
  Clock::time_point t0 = Clock::now();
  if (!guardedHalide("kernel " + desc_.symbol(), error,
               [&] { kernel->pipeline.realize(r, jit); }))
    return -1;
  return secondsSince(t0) * 1e3;
}

std::vector<std::vector<float>> KernelRunner::outputs() const {
  std::vector<std::vector<float>> result;
  for (const Halide::Buffer<void> &v : outs) {
    Halide::Buffer<float> b = v.as<float>();
    result.emplace_back(b.data(), b.data() + b.number_of_elements());
  }
  return result;
}

namespace {

double timed(KernelRunner &k, bool cold, std::string &error) {
  if (cold)
    evictCaches();
  return k.run(error);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// The N and keys actually measured for `desc`.
struct RowPlan {
  std::vector<int64_t> rows, keys;
  std::vector<double> weights; // normalised
};

RowPlan rowPlan(const KernelDesc &d, const TuneOptions &o) {
  RowPlan p;
  double total = 0;
  for (size_t i = 0; i < o.rows.size(); ++i) {
    int64_t n = o.rows[i];
    if (d.maxSeq > 0)
      n = std::min(n, d.maxSeq);
    n = std::max<int64_t>(n, 1);
    if (std::find(p.rows.begin(), p.rows.end(), n) != p.rows.end())
      continue; // clamping made two equal
    int64_t keys = std::max(n, o.contextRows);
    if (d.maxSeq > 0)
      keys = std::min(keys, d.maxSeq);
    keys = std::max(keys, n);
    double w = i < o.weights.size() ? o.weights[i] : 1.0;
    p.rows.push_back(n);
    p.keys.push_back(keys);
    p.weights.push_back(w);
    total += w;
  }
  for (double &w : p.weights)
    w = total > 0 ? w / total : 1.0 / static_cast<double>(p.weights.size());
  return p;
}

/// Median ms of `runs` runs (after one warm-up) at each N of `plan`.
bool measure(KernelRunner &b, const RowPlan &plan, int runs, bool cold,
             std::vector<double> &ms, std::string &error) {
  ms.clear();
  for (size_t i = 0; i < plan.rows.size(); ++i) {
    if (!b.bind(plan.rows[i], plan.keys[i], 1, error))
      return false;
    if (b.run(error) < 0)
      return false;
    std::vector<double> t;
    for (int r = 0; r < runs; ++r) {
      double x = timed(b, cold, error);
      if (x < 0)
        return false;
      t.push_back(x);
    }
    ms.push_back(median(t));
  }
  return true;
}

/// Default and best, alternating run by run so that a burst of load on a
/// shared machine hits both alike.
bool compare(KernelRunner &a, KernelRunner &b, const RowPlan &plan, int runs,
             bool cold, std::vector<double> &msA, std::vector<double> &msB,
             std::string &error) {
  msA.clear();
  msB.clear();
  for (size_t i = 0; i < plan.rows.size(); ++i) {
    if (!a.bind(plan.rows[i], plan.keys[i], 1, error) ||
        !b.bind(plan.rows[i], plan.keys[i], 1, error))
      return false;
    if (a.run(error) < 0 || b.run(error) < 0)
      return false;
    std::vector<double> ta, tb;
    for (int r = 0; r < runs; ++r) {
      double x = timed(a, cold, error), y = timed(b, cold, error);
      if (x < 0 || y < 0)
        return false;
      ta.push_back(x);
      tb.push_back(y);
    }
    msA.push_back(median(ta));
    msB.push_back(median(tb));
  }
  return true;
}

double score(const std::vector<double> &ms, const std::vector<double> &base,
             const RowPlan &plan) {
  double s = 0;
  for (size_t i = 0; i < ms.size(); ++i)
    s += plan.weights[i] * ms[i] / std::max(base[i], 1e-9);
  return s;
}

std::string figures(const std::vector<double> &ms) {
  std::ostringstream os;
  char buf[32];
  for (size_t i = 0; i < ms.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.3g", i ? "/" : "", ms[i]);
    os << buf;
  }
  return os.str();
}

std::string rowList(const std::vector<int64_t> &rows) {
  std::string s;
  for (size_t i = 0; i < rows.size(); ++i)
    s += (i ? "/" : "") + std::to_string(rows[i]);
  return s;
}

/// Panel candidates (in floats) of a packed kernel: multiples of the
/// vector width whose effective panels (panelFor, per matrix) pad no
/// matrix by more than 1/8; two candidates with the same effective panels
/// are one.
std::vector<int64_t> panelCandidates(const KernelDesc &d, int vec,
                                     const TuneOptions &o) {
  std::vector<int64_t> mults = o.panelVectors;
  if (mults.empty())
    mults = {1, 2, 3, 4};
  std::vector<int64_t> result;
  std::set<std::vector<int64_t>> seen;
  auto effective = [&](int64_t panel) {
    KernelDesc c = d;
    c.panel = panel;
    std::vector<int64_t> eff;
    for (int64_t cols : matrixCols(d))
      eff.push_back(panelFor(c, cols));
    return eff;
  };
  seen.insert(effective(d.panel)); // the default, measured already
  for (int64_t m : mults) {
    KernelDesc c = d;
    c.panel = m * vec;
    std::vector<int64_t> eff;
    bool ok = true;
    for (int64_t cols : matrixCols(d)) {
      int64_t p = panelFor(c, cols);
      int64_t padded = (cols + p - 1) / p * p;
      if (padded * 8 > cols * 9)
        ok = false;
      eff.push_back(p);
    }
    if (ok && seen.insert(eff).second)
      result.push_back(c.panel);
  }
  return result;
}

/// Whether a tile of `panel` columns by `rows` rows keeps its accumulators,
/// one row of weights and a broadcast in vector registers.
bool fitsRegisters(const KernelDesc &d, int64_t panel, int64_t rows, int vec,
                   int regs) {
  int64_t widest = 0;
  for (int64_t cols : matrixCols(d)) {
    KernelDesc c = d;
    c.panel = panel;
    int64_t p =
        panel > 0 ? panelFor(c, cols) : std::min<int64_t>(3 * vec, cols);
    widest = std::max(widest, p);
  }
  int64_t vecs = (widest + vec - 1) / vec;
  return vecs * rows + vecs + 1 <= regs;
}

} // namespace

KernelTuning defaultTuning(const KernelDesc &d, const Halide::Target &t) {
  KernelTuning k;
  int vec = vectorFloats(t);
  if (hasMatrices(d.kind)) {
    k.panel = d.panel > 0 ? 3 * vec : 0;
    k.tileRows = vectorRegisters(t) == 32 ? 8 : 4;
  }
  if (d.kind == KernelKind::Attention && d.headDim > 0) {
    // As HalideKernels.cpp: the accumulators of a query tile fill about 24
    // vector registers.
    int dv = dividingWidth(d.headDim, vec);
    int64_t accVecs = d.headDim / dv;
    k.queryTile = std::max<int64_t>(1, std::min<int64_t>(8, 24 / accVecs));
  }
  return k;
}

KernelDesc withTuning(KernelDesc d, const KernelTuning &t) {
  if (d.panel > 0)
    d.panel = t.panel > 0 ? t.panel : d.panel;
  d.tileRows = hasMatrices(d.kind) ? t.tileRows : 0;
  d.queryTile = d.kind == KernelKind::Attention ? t.queryTile : 0;
  return d;
}

bool tuneKernels(const std::vector<KernelDesc> &descs,
                 const Halide::Target &target, const TuneOptions &options,
                 std::map<std::string, KernelTuning> &tuning,
                 std::vector<TuneResult> &results, std::string &error) {
  if (options.rows.empty()) {
    error = "tune: no row counts to measure at";
    return false;
  }
  if (options.runs < 1) {
    error = "tune: runs must be >= 1, found " + std::to_string(options.runs);
    return false;
  }
  if (options.threads > 0)
    setenv("HL_NUM_THREADS", std::to_string(options.threads).c_str(), 1);
  int vec = vectorFloats(target);
  int regs = vectorRegisters(target);
  tuning.clear();
  results.clear();
  std::set<std::string> done;
  size_t index = 0;
  for (const KernelDesc &original : descs) {
    ++index;
    Clock::time_point t0 = Clock::now();
    TuneResult res;
    res.symbol = baseSymbol(original);
    res.kind = original.kind;
    if (!done.insert(res.symbol).second)
      continue;
    res.defaults = res.best = defaultTuning(original, target);
    std::string tag = "tfc tune: [" + std::to_string(index) + "/" +
                      std::to_string(descs.size()) + "] " + res.symbol;
    if (!tunable(original)) {
      res.skipped = true;
      if (options.progress)
        std::fprintf(stderr, "%s: nothing to tune\n", tag.c_str());
      results.push_back(res);
      continue;
    }
    RowPlan plan = rowPlan(original, options);
    res.rows = plan.rows;
    KernelDesc base = withTuning(original, KernelTuning{});
    if (base.panel > 0)
      base.panel = res.defaults.panel;

    // Candidates: each is built, compiled and measured; the best so far is
    // kept alive for the final comparison.
    KernelRunner def;
    std::vector<double> defMs;
    if (!def.build(base, target, error) ||
        !measure(def, plan, options.runs, options.coldCaches, defMs, error))
      return false;
    ++res.candidates;
    std::unique_ptr<KernelRunner> best;
    double bestScore = 1.0;
    std::set<std::string> tried = {describe(base, res.defaults)};
    bool outOfTime = false;
    auto tryOne = [&](const KernelTuning &t) -> bool {
      if (!tried.insert(describe(base, t)).second)
        return true;
      if (secondsSince(t0) > options.budgetSeconds) {
        outOfTime = true;
        return true;
      }
      auto b = std::make_unique<KernelRunner>();
      std::string why;
      std::vector<double> ms;
      ++res.candidates;
      // Paired with the default, run by run: on a loaded machine a
      // candidate timed alone wins or loses by the load of its moment.
      std::vector<double> against;
      if (!b->build(withTuning(base, t), target, why) ||
          !compare(def, *b, plan, options.runs, options.coldCaches, against, ms,
                   why)) {
        // A candidate Halide rejects is not the tuner's failure.
        if (options.progress)
          std::fprintf(stderr, "%s: candidate %s skipped: %s\n", tag.c_str(),
                       describe(base, t).c_str(), why.c_str());
        return true;
      }
      double s = score(ms, against, plan);
      if (options.verbose)
        std::fprintf(stderr, "%s:   %s: %s ms against %s (score %.3f)\n",
                     tag.c_str(), describe(base, t).c_str(),
                     figures(ms).c_str(), figures(against).c_str(), s);
      if (s < bestScore) {
        bestScore = s;
        best = std::move(b);
        res.best = t;
      }
      return true;
    };

    if (hasMatrices(original.kind)) {
      std::vector<int64_t> rowSet = options.tileRows;
      if (rowSet.empty())
        rowSet = {2, 4, 6, 8, 12};
      if (base.panel > 0)
        for (int64_t p : panelCandidates(base, vec, options)) {
          KernelTuning t = res.defaults;
          t.panel = p;
          if (fitsRegisters(base, p, t.tileRows, vec, regs))
            tryOne(t);
        }
      KernelTuning center = res.best;
      for (int64_t r : rowSet) {
        KernelTuning t = center;
        t.tileRows = r;
        if (fitsRegisters(base, t.panel, r, vec, regs))
          tryOne(t);
      }
    } else {
      std::vector<int64_t> tiles = options.queryTiles;
      if (tiles.empty())
        tiles = {1, 2, 4, 8, 16};
      for (int64_t q : tiles) {
        KernelTuning t = res.defaults;
        t.queryTile = q;
        tryOne(t);
      }
    }

    // The final word: default and winner, alternating.
    res.defaultMs = defMs;
    res.bestMs = defMs;
    if (best) {
      std::vector<double> a, b;
      if (!compare(def, *best, plan, 2 * options.runs, options.coldCaches, a, b,
                   error))
        return false;
      res.defaultMs = a;
      res.bestMs = b;
      if (score(b, a, plan) < 1.0 - options.minGain) {
        res.changed = true;
        // Only what differs: a default left implicit follows the target
        // (and `panel` would otherwise pack a kernel compiled unpacked).
        KernelTuning kept;
        const KernelTuning &b0 = res.defaults, &b1 = res.best;
        kept.panel = b1.panel != b0.panel ? b1.panel : 0;
        kept.tileRows = b1.tileRows != b0.tileRows ? b1.tileRows : 0;
        kept.queryTile = b1.queryTile != b0.queryTile ? b1.queryTile : 0;
        tuning[res.symbol] = kept;
      }
    }
    res.seconds = secondsSince(t0);
    if (options.progress) {
      std::string what =
          res.changed ? "(" + describe(base, res.best) + ")"
          : best      ? "(" + describe(base, res.best) + " not kept: under " +
                       std::to_string(
                           static_cast<int>(options.minGain * 100 + 0.5)) +
                       "% faster; default " + describe(base, res.defaults) + ")"
                 : "(default kept: " + describe(base, res.defaults) + ")";
      std::fprintf(stderr,
                   "%s default %s ms -> best %s ms at N=%s %s, %d "
                   "candidates, %.0f s%s\n",
                   tag.c_str(), figures(res.defaultMs).c_str(),
                   figures(res.bestMs).c_str(), rowList(res.rows).c_str(),
                   what.c_str(), res.candidates, res.seconds,
                   outOfTime ? " (budget spent)" : "");
    }
    results.push_back(res);
  }
  return true;
}

void evictCaches(size_t bytes) {
  static std::vector<uint64_t> junk;
  size_t n = bytes / sizeof(uint64_t);
  if (junk.size() < n)
    junk.assign(n, 1);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i += 8) // one read per 64-byte line
    sum += junk[i];
  static volatile uint64_t sink;
  sink = sum; // keeps the loop
}

bool runKernelOnce(const KernelDesc &desc, const Halide::Target &target,
                   int64_t rows, uint32_t seed,
                   std::vector<std::vector<float>> &outputs,
                   std::string &error) {
  KernelRunner b;
  if (!b.build(desc, target, error) || !b.bind(rows, rows, seed, error) ||
      b.run(error) < 0)
    return false;
  outputs = b.outputs();
  return true;
}

bool tunePlan(const Plan &plan, const std::string &targetText,
              const TuneOptions &options, const std::string &outputPath,
              std::string &error) {
  std::string resolved;
  if (!resolveTarget(targetText, resolved, error))
    return false;
  std::optional<Halide::Target> target = parseKernelTarget(resolved, error);
  if (!target)
    return false;
  if (target->has_gpu_feature()) {
    // Candidates run through Halide's JIT, and a JIT-compiled OpenCL
    // pipeline crashes next to POCL's own LLVM; GPU schedules are not
    // tuned yet.
    error = "tune: --target " + targetText +
            ": GPU targets are not tuned (their schedules are fixed, "
            "docs/gpu.md); compile without --tuning";
    return false;
  }
  Halide::Target host = Halide::get_host_target();
  // The JIT runs the target's instructions here: an ISA extension the
  // host lacks would be an illegal instruction, not an error.
  using F = Halide::Target::Feature;
  bool runnable = target->arch == host.arch && target->os == host.os &&
                  target->bits == host.bits;
  for (F f : {F::SSE41, F::AVX, F::AVX2, F::FMA, F::FMA4, F::F16C, F::AVX512,
              F::AVX512_KNL, F::AVX512_Skylake, F::AVX512_Cannonlake,
              F::AVX512_SapphireRapids, F::SVE, F::SVE2, F::ARMDotProd,
              F::ARMFp16, F::ARMv81a})
    if (target->has_feature(f) && !host.has_feature(f))
      runnable = false;
  if (!runnable) {
    error = "tune: the target " + resolved +
            " cannot run on this machine (host " + host.to_string() +
            "); kernels are timed here, so tune on the target machine";
    return false;
  }
  std::map<std::string, KernelTuning> tuning;
  std::vector<TuneResult> results;
  if (!tuneKernels(plan.kernels, *target, options, tuning, results, error))
    return false;

  std::map<std::string, std::string> notes;
  for (const TuneResult &r : results) {
    if (!r.changed)
      continue;
    std::ostringstream os;
    char buf[96];
    for (size_t i = 0; i < r.rows.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%sN=%lld: %.3g -> %.3g ms", i ? "; " : "",
                    static_cast<long long>(r.rows[i]), r.defaultMs[i],
                    r.bestMs[i]);
      os << buf;
    }
    notes[r.symbol] = os.str();
  }
  std::string header =
      "tfc tuning file (docs/tuning.md): tfc tune for model '" + plan.model +
      "'\ntarget " + resolved + "; " + std::to_string(tuning.size()) + " of " +
      std::to_string(results.size()) +
      " kernels differ from the defaults\nKERNEL KEY=VALUE...  # median ms, "
      "default -> tuned";
  if (!writeTuningFile(outputPath, tuning, error, header, notes))
    return false;
  std::fprintf(stderr, "tfc tune: wrote %zu kernel(s) to %s\n", tuning.size(),
               outputPath.c_str());
  return true;
}

bool parseTuneRows(const std::string &text, TuneOptions &options,
                   std::string &error) {
  std::vector<int64_t> rows;
  std::vector<double> weights;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t colon = item.find(':');
    std::string n = item.substr(0, colon);
    std::string w = colon == std::string::npos ? "1" : item.substr(colon + 1);
    char *end = nullptr;
    long long v = std::strtoll(n.c_str(), &end, 10);
    bool ok = !n.empty() && *end == '\0' && v >= 1 && v <= (1 << 20);
    double wv = std::strtod(w.c_str(), &end);
    ok = ok && !w.empty() && *end == '\0' && wv > 0 && std::isfinite(wv);
    if (!ok) {
      error = "--tune-rows: expected N or N:WEIGHT (N in [1, 2^20], weight "
              "> 0), comma-separated, found '" +
              item + "'";
      return false;
    }
    rows.push_back(v);
    weights.push_back(wv);
  }
  if (rows.empty()) {
    error =
        "--tune-rows: expected at least one row count, found '" + text + "'";
    return false;
  }
  options.rows = rows;
  options.weights = weights;
  return true;
}

} // namespace tfc
