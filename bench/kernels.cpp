//===- kernels.cpp - gpt2-small's fused kernels, one by one ---------------===//
//
// A Google Benchmark of each distinct kernel of gpt2-small (the six that
// `tfc --emit=plan models/gpt2-small.yaml` lists after the embedding),
// JIT-compiled for the host exactly as `tfc compile` builds them (same
// KernelDesc, same schedule; the tuner's KernelRunner), at N = 1 (a decode
// step; attention then sees --context cached keys) and N = 128 and 512 (a
// prompt). Counters, next to the machine's ceilings measured at start-up
// with the same thread count:
//   GFLOP/s    matrix-product (and attention) FLOPs per second
//   GB/s       bytes of weights (attention: q, k, v) read per second
//   roofline   the time the roofline allows, max(FLOPs / peak, bytes / BW),
//              over the measured time (1 = at the ceiling)
//   ceiling    0 = bound by the FMA peak, 1 = by memory bandwidth
//
//   build/bench/tfc_kernel_bench [benchmark flags] [--threads=T]
//       [--rows=1,128,512] [--context=128] [--weights=f32|f16|bf16|int8]
//       [--tune=OUT.txt] [--tune-verbose] [--tuning=FILE] [--warm]
//   Caches are evicted before each timed run (as in a forward pass, where
//   the other layers' weights push a layer's out); --warm keeps them.
//   --tune runs the tuner (compiler/tuning) on these kernels first, writes
//   OUT.txt, and benchmarks each kernel it changed twice: "default" and
//   "tuned". --tuning benchmarks a tuning file's parameters the same way.
//   TFC_PEAK_GFLOPS / TFC_MEMBW_GBS replace the measured ceilings.
//   Medians: --benchmark_repetitions=5 --benchmark_report_aggregates_only.
//
//===----------------------------------------------------------------------===//
#include "Ceilings.h"
#include "codegen/HalideKernels.h"
#include "tuning/Tuner.h"
#include "tuning/TuningFile.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

using namespace tfc;

namespace {

// --- The kernels ----------------------------------------------------------
struct Options {
  std::vector<int64_t> rows = {1, 128, 512};
  int64_t context = 128;
  WeightType weights = WeightType::F32;
  std::string tuneOut, tuningIn;
  unsigned threads = 0;
  bool tuneVerbose = false;
  bool warm = false; // keep caches warm between runs (default: evict)
};

/// gpt2-small's kernels as the plan has them (models/gpt2-small.yaml:
/// D = 768, H = 12, K = 64, F = 3072, V = 50257, pre-LayerNorm, biases,
/// GELU-tanh, causal; the tied head is a tiled product over a transposed
/// copy of the embedding), packed in panels of 3 vectors.
std::vector<std::pair<std::string, KernelDesc>> gpt2Kernels(const Options &o,
                                                            int vec) {
  KernelDesc base;
  base.maxSeq = 1024;
  base.eps = 1e-5;
  base.bias = true;
  base.weightType = o.weights;
  base.panel = 3 * vec;
  if (o.weights == WeightType::I8)
    base.group = 32;
  std::vector<std::pair<std::string, KernelDesc>> k;
  KernelDesc qkv = base;
  qkv.kind = KernelKind::QKV;
  qkv.norm = KernelNorm::Layer;
  qkv.d = 768, qkv.heads = qkv.kvHeads = 12, qkv.headDim = 64;
  k.push_back({"qkv", qkv});
  KernelDesc att = base;
  att.kind = KernelKind::Attention;
  att.bias = false, att.panel = 0, att.group = 0;
  att.weightType = WeightType::F32;
  att.heads = att.kvHeads = 12, att.headDim = 64, att.causal = true;
  k.push_back({"attention", att});
  KernelDesc proj = base;
  proj.kind = KernelKind::ProjResidual;
  proj.in = 768, proj.d = 768;
  k.push_back({"attn_proj", proj});
  KernelDesc up = base;
  up.kind = KernelKind::MLPUp;
  up.norm = KernelNorm::Layer;
  up.d = 768, up.dFF = 3072, up.activation = Activation::GELUTanh;
  k.push_back({"mlp_up", up});
  KernelDesc down = base;
  down.kind = KernelKind::ProjResidual;
  down.in = 3072, down.d = 768;
  k.push_back({"mlp_down", down});
  KernelDesc head = base;
  head.kind = KernelKind::Head;
  head.norm = KernelNorm::Layer;
  head.bias = false;
  head.d = 768, head.vocab = 50257;
  head.weightType = o.weights == WeightType::I8 ? WeightType::F16 : o.weights;
  head.group = 0;
  k.push_back({"head", head});
  return k;
}

/// FLOPs of one call with N rows (and M keys for attention).
double flopsOf(const KernelDesc &d, int64_t n, int64_t m) {
  double N = double(n);
  switch (d.kind) {
  case KernelKind::QKV:
    return 2 * N * d.d * double(queryHeads(d) + 2 * keyHeads(d)) * d.headDim;
  case KernelKind::ProjResidual:
    return 2 * N * d.in * d.d;
  case KernelKind::MLPUp:
    return 2 * N * d.d * d.dFF * (d.gated ? 2 : 1);
  case KernelKind::Head:
    return 2 * N * d.d * d.vocab;
  case KernelKind::Attention: {
    // Query i (of the last N positions) sees M - N + i + 1 keys; QK^T and
    // PV are 2 K FLOPs per (query, key) each.
    double keys = d.causal ? N * double(m - n) + N * (N + 1) / 2 : N * m;
    return 4.0 * d.heads * d.headDim * keys;
  }
  default:
    return 0;
  }
}

/// Bytes read that do not depend on reuse: the weights (int8: with their
/// scales), or attention's q, k and v.
double bytesOf(const KernelDesc &d, int64_t n, int64_t m) {
  double w = weightTypeBytes(d.weightType);
  auto matrix = [&](int64_t in, int64_t cols) {
    double b = double(in) * cols * w;
    if (d.weightType == WeightType::I8)
      b += double(in / groupFor(d, in)) * cols * 4;
    return b;
  };
  switch (d.kind) {
  case KernelKind::QKV:
    return matrix(d.d, queryHeads(d) * d.headDim) +
           2 * matrix(d.d, keyHeads(d) * d.headDim);
  case KernelKind::ProjResidual:
    return matrix(d.in, d.d);
  case KernelKind::MLPUp:
    return matrix(d.d, d.dFF) * (d.gated ? 2 : 1);
  case KernelKind::Head:
    return matrix(d.d, d.vocab);
  case KernelKind::Attention:
    return 4.0 * (double(n) * d.heads + 2.0 * double(m) * d.kvHeads) *
           d.headDim;
  default:
    return 0;
  }
}

struct Ceilings {
  double gflops = 0, gbs = 0;
};

void runKernel(benchmark::State &state, KernelRunner *runner, int64_t n,
               int64_t m, const Ceilings *ceil, bool cold) {
  std::string error;
  if (!runner->bind(n, m, 1, error) || runner->run(error) < 0) {
    state.SkipWithError(error.c_str());
    return;
  }
  double total = 0;
  for (auto _ : state) {
    if (cold)
      evictCaches(); // not timed: manual time is the kernel's alone
    double ms = runner->run(error);
    if (ms < 0) {
      state.SkipWithError(error.c_str());
      return;
    }
    state.SetIterationTime(ms / 1e3);
    total += ms / 1e3;
  }
  double iters = double(state.iterations());
  double flops = flopsOf(runner->desc(), n, m);
  double bytes = bytesOf(runner->desc(), n, m);
  double perCall = total / std::max(iters, 1.0);
  state.counters["GFLOP/s"] = flops / perCall / 1e9;
  state.counters["GB/s"] = bytes / perCall / 1e9;
  double tFlops = flops / (ceil->gflops * 1e9);
  double tBytes = bytes / (ceil->gbs * 1e9);
  state.counters["roofline"] = std::max(tFlops, tBytes) / perCall;
  state.counters["ceiling"] = tBytes > tFlops ? 1 : 0;
}

bool parseArgs(int argc, char **argv, Options &o, std::string &error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *key, std::string &out) {
      std::string prefix = std::string(key) + "=";
      if (a.rfind(prefix, 0) != 0)
        return false;
      out = a.substr(prefix.size());
      return true;
    };
    std::string v;
    if (value("--rows", v)) {
      o.rows.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        long long r = std::atoll(item.c_str());
        if (r < 1 || r > 1024) {
          error =
              "--rows: expected row counts in [1, 1024], found '" + item + "'";
          return false;
        }
        o.rows.push_back(r);
      }
    } else if (value("--context", v)) {
      o.context = std::atoll(v.c_str());
      if (o.context < 1 || o.context > 1024) {
        error = "--context: expected [1, 1024], found '" + v + "'";
        return false;
      }
    } else if (value("--weights", v)) {
      std::optional<WeightType> t = parseWeightType(v);
      if (!t) {
        error = "--weights: expected f32, f16, bf16 or int8, found '" + v + "'";
        return false;
      }
      o.weights = *t;
    } else if (value("--threads", v)) {
      o.threads = static_cast<unsigned>(std::atoi(v.c_str()));
    } else if (a == "--tune-verbose") {
      o.tuneVerbose = true;
    } else if (a == "--warm") {
      o.warm = true;
    } else if (value("--tune", v)) {
      o.tuneOut = v;
    } else if (value("--tuning", v)) {
      o.tuningIn = v;
    } else {
      error = "unknown argument '" + a + "' (see bench/kernels.cpp)";
      return false;
    }
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  Options o;
  std::string error;
  if (!parseArgs(argc, argv, o, error)) {
    std::fprintf(stderr, "tfc_kernel_bench: error: %s\n", error.c_str());
    return 2;
  }
  // Halide's JIT thread pool reads HL_NUM_THREADS once, at its first use.
  if (o.threads > 0)
    setenv("HL_NUM_THREADS", std::to_string(o.threads).c_str(), 1);
  const char *env = std::getenv("HL_NUM_THREADS");
  int threads = env && std::atoi(env) > 0
                    ? std::atoi(env)
                    : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);

  std::optional<Halide::Target> target = parseKernelTarget("host", error);
  if (!target) {
    std::fprintf(stderr, "tfc_kernel_bench: error: %s\n", error.c_str());
    return 1;
  }
  int vec = std::max(1, target->natural_vector_size<float>());

  static Ceilings ceil;
  std::string isa;
  const char *peakEnv = std::getenv("TFC_PEAK_GFLOPS");
  const char *bwEnv = std::getenv("TFC_MEMBW_GBS");
  if (peakEnv) {
    ceil.gflops = std::atof(peakEnv);
  } else {
    tfc::bench::FmaPeak peak = tfc::bench::fmaPeak(threads, 20);
    ceil.gflops = peak.gflops;
    isa = peak.isa;
  }
  ceil.gbs = bwEnv ? std::atof(bwEnv)
                   : tfc::bench::readBandwidth(threads).gbs;
  std::fprintf(stderr,
               "ceilings (%d threads): FMA peak %.1f GFLOP/s%s%s, read "
               "bandwidth %.1f GB/s%s; target %s\n",
               threads, ceil.gflops, peakEnv ? " (TFC_PEAK_GFLOPS)" : " (",
               peakEnv ? "" : (isa + ")").c_str(), ceil.gbs,
               bwEnv ? " (TFC_MEMBW_GBS)" : "", target->to_string().c_str());
  benchmark::AddCustomContext("fma_peak_gflops", std::to_string(ceil.gflops));
  benchmark::AddCustomContext("read_bw_gbs", std::to_string(ceil.gbs));
  benchmark::AddCustomContext("halide_threads", std::to_string(threads));

  std::vector<std::pair<std::string, KernelDesc>> kernels = gpt2Kernels(o, vec);
  std::map<std::string, KernelTuning> tuning;
  if (!o.tuneOut.empty()) {
    std::vector<KernelDesc> descs;
    for (auto &k : kernels)
      descs.push_back(k.second);
    TuneOptions to;
    to.threads = o.threads;
    to.verbose = o.tuneVerbose;
    to.coldCaches = !o.warm;
    std::vector<TuneResult> results;
    if (!tuneKernels(descs, *target, to, tuning, results, error) ||
        !writeTuningFile(o.tuneOut, tuning, error,
                         "tfc_kernel_bench --tune: gpt2-small kernels, "
                         "target " +
                             target->to_string())) {
      std::fprintf(stderr, "tfc_kernel_bench: error: %s\n", error.c_str());
      return 1;
    }
  } else if (!o.tuningIn.empty() &&
             !readTuningFile(o.tuningIn, tuning, error)) {
    std::fprintf(stderr, "tfc_kernel_bench: error: %s\n", error.c_str());
    return 1;
  }

  // Runners are compiled up front (not timed) and live until exit.
  static std::vector<std::unique_ptr<KernelRunner>> runners;
  for (auto &k : kernels) {
    std::vector<std::pair<std::string, KernelDesc>> variants = {
        {"default", k.second}};
    auto t = tuning.find(baseSymbol(k.second));
    if (t != tuning.end()) {
      KernelTuning full = defaultTuning(k.second, *target);
      if (t->second.panel > 0)
        full.panel = t->second.panel;
      if (t->second.tileRows > 0)
        full.tileRows = t->second.tileRows;
      if (t->second.queryTile > 0)
        full.queryTile = t->second.queryTile;
      variants.push_back({"tuned", withTuning(k.second, full)});
    }
    std::fprintf(stderr, "%-10s %s\n", k.first.c_str(),
                 variants.back().second.symbol().c_str());
    for (auto &v : variants) {
      runners.push_back(std::make_unique<KernelRunner>());
      if (!runners.back()->build(v.second, *target, error)) {
        std::fprintf(stderr, "tfc_kernel_bench: error: %s\n", error.c_str());
        return 1;
      }
      for (int64_t n : o.rows) {
        int64_t m = k.second.kind == KernelKind::Attention && n < o.context
                        ? o.context
                        : n;
        std::string name = k.first + "/" + v.first + "/N:" + std::to_string(n);
        if (m != n)
          name += "/M:" + std::to_string(m);
        // A fixed iteration count of about 0.3 s of kernel time: with the
        // cache eviction between runs, a time-based count would spend most
        // of its time evicting.
        KernelRunner &r = *runners.back();
        double ms = 0;
        if (!r.bind(n, m, 1, error) || r.run(error) < 0 ||
            (ms = r.run(error)) < 0) {
          std::fprintf(stderr, "tfc_kernel_bench: error: %s\n", error.c_str());
          return 1;
        }
        int64_t iters = std::clamp<int64_t>(
            static_cast<int64_t>(300.0 / std::max(ms, 1e-3)), 5, 300);
        benchmark::RegisterBenchmark(name.c_str(), runKernel, &r, n, m, &ceil,
                                     !o.warm)
            ->UseManualTime()
            ->Iterations(iters)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
