//===- Tuner.h - Per-kernel schedule search by measurement ------*- C++ -*-===//
//
// `tfc tune`: each distinct kernel of a plan is JIT-compiled with candidate
// schedule parameters (KernelDesc::panel, tileRows, queryTile), run on
// random inputs of its shapes and storage types at a few representative
// row counts N (default 1, a decode step, and min(128, maxSeq), a prompt),
// and timed: the median of several runs after a warm-up. The search is a
// coordinate descent from the target's defaults (docs/tuning.md):
//   1. panel in {1, 2, 3, 4} vectors (packed kernels only; widths that the
//      panel would pad by more than 1/8 are skipped), tile rows at default;
//   2. tile rows in {2, 4, 6, 8, 12} with the best panel, keeping the
//      accumulators (panel vectors x rows) within the vector registers;
//   3. attention: query rows per score tile in {1, 2, 4, 8, 16}.
// A candidate's score is sum_N weight_N * time_N / defaultTime_N (weights
// sum to 1), so each N counts by its weight whatever its absolute time.
// Every candidate is timed paired with the default, run by run (a load
// burst on a shared machine hits both); the winner is measured again with
// twice the runs and kept only when it is faster by more than `minGain`
// (3%), so noise rarely lands in a tuning file. Embed and the tied head
// have no parameters and are skipped. Each kernel has a time budget
// (compiles included); when it runs out the best so far stands. Caches
// are evicted before each timed run (TuneOptions::coldCaches).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_TUNING_TUNER_H
#define TFC_TUNING_TUNER_H

#include "codegen/HalideKernels.h"
#include "codegen/KernelDesc.h"
#include "fusion/KernelAttr.h"
#include "plan/MemoryPlan.h"

#include <Halide.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace tfc {

struct TuneOptions {
  /// Row counts N to measure at, each with a weight in the score (weights
  /// are normalised to sum to 1). N is clamped to the kernel's maxSeq.
  std::vector<int64_t> rows = {1, 128};
  std::vector<double> weights = {1.0, 1.0};
  /// Attention: keys M when N < M (a decode step after a prompt of M - N
  /// tokens); the keys are max(N, contextRows) (clamped to maxSeq).
  int64_t contextRows = 128;
  int runs = 9;              // timed runs per measurement (median)
  double budgetSeconds = 40; // per kernel, compiles included
  double minGain = 0.03;     // keep a winner only if this much faster
  unsigned threads = 0;      // Halide JIT threads (0: HL_NUM_THREADS or
                             // all cores); see tuneKernels
  bool progress = true;      // one line per kernel on stderr
  bool verbose = false;      // and one per candidate
  /// Evict the caches (evictCaches) before each timed run: in a forward
  /// pass each layer's weights were pushed out by the other layers', so a
  /// decode step streams them from memory. False times warm caches.
  bool coldCaches = true;
  /// Candidate sets (empty: the defaults above).
  std::vector<int64_t> panelVectors, tileRows, queryTiles;
};

/// What was measured for one kernel.
struct TuneResult {
  std::string symbol; // baseSymbol() of the kernel
  KernelKind kind = KernelKind::Embed;
  bool skipped = false;      // nothing to tune (Embed, tied Head)
  KernelTuning defaults;     // the target's defaults, explicit
  KernelTuning best;         // the search's winner, explicit (== defaults
                             // when no candidate beat them)
  bool changed = false;      // best was confirmed and kept (> minGain)
  std::vector<int64_t> rows; // N of each figure below
  std::vector<double> defaultMs, bestMs; // medians of the final comparison
  int candidates = 0;                    // parameter sets measured
  double seconds = 0;                    // wall time spent on this kernel
};

/// The explicit default parameters of `desc` on `target` (what 0 means):
/// panel = desc.panel if the matrices are packed (else 0), the target's
/// tile rows, attention's computed query tile.
KernelTuning defaultTuning(const KernelDesc &desc, const Halide::Target &t);

/// `desc` with its schedule parameters replaced by `t` (0 keeps the
/// target's default; panel applies only when desc.panel > 0).
KernelDesc withTuning(KernelDesc desc, const KernelTuning &t);

/// Tunes each kernel of `descs` (distinct base symbols; their schedule
/// parameters are reset to the target's defaults first, so a plan built
/// with an older tuning file is tuned afresh). `target` is a CPU target
/// (parseKernelTarget; the JIT runs it without NoRuntime, so it must be the
/// host or a subset of it). Fills `tuning` (base symbol -> best parameters,
/// only the kernels that changed) and `results` (every kernel, in order).
/// With options.threads > 0, HL_NUM_THREADS is set before the first JIT
/// run of the process (Halide's thread pool reads it once).
bool tuneKernels(const std::vector<KernelDesc> &descs,
                 const Halide::Target &target, const TuneOptions &options,
                 std::map<std::string, KernelTuning> &tuning,
                 std::vector<TuneResult> &results, std::string &error);

/// One kernel JIT-compiled for the host, with inputs of its shapes and
/// storage types filled from a hash of their logical coordinates (equal
/// seeds: equal logical inputs, whatever the panel), run into
/// preallocated outputs. Used by the tuner, its tests and
/// bench/kernels.cpp.
class KernelRunner {
public:
  bool build(const KernelDesc &desc, const Halide::Target &target,
             std::string &error);
  /// Binds inputs for N = `rows` (attention: `keys` >= rows cached keys)
  /// and allocates the outputs; a no-op when already bound for them.
  bool bind(int64_t rows, int64_t keys, uint64_t seed, std::string &error);
  /// One call; its wall time in ms, or < 0 with `error`.
  double run(std::string &error);
  /// The outputs of the last run, row-major (N x width each).
  std::vector<std::vector<float>> outputs() const;
  const KernelDesc &desc() const { return desc_; }

private:
  KernelDesc desc_;
  Halide::Target jit;
  std::shared_ptr<BuiltKernel> kernel;
  std::vector<Halide::Buffer<void>> outs;
  std::set<size_t> filled;
  int64_t boundRows = -1, boundKeys = -1;
};

/// Reads a buffer of `bytes` (default 64 MiB, twice a large L3) so that
/// what a kernel read before is no longer cached.
void evictCaches(size_t bytes = size_t(64) << 20);

/// Runs one kernel once on random inputs at N rows and returns its
/// outputs (row-major, N x width each), for tests that compare schedules.
/// Inputs are drawn from `seed`; equal seeds give equal logical inputs
/// whatever the panel (matrices are packed from the same row-major values).
bool runKernelOnce(const KernelDesc &desc, const Halide::Target &target,
                   int64_t rows, uint32_t seed,
                   std::vector<std::vector<float>> &outputs,
                   std::string &error);

/// The whole of `tfc tune`: tunes the plan's kernels for `target` ("cpu",
/// "host", "cpu:<halide-target>"), prints a summary table to stderr and
/// writes the tuning file `outputPath` (only kernels that changed; a
/// header names the model, target and the figures' N).
bool tunePlan(const Plan &plan, const std::string &target,
              const TuneOptions &options, const std::string &outputPath,
              std::string &error);

/// Parses "1,128" (row counts) or "1:3,128:1" (N:weight) into options.
bool parseTuneRows(const std::string &text, TuneOptions &options,
                   std::string &error);

} // namespace tfc

#endif // TFC_TUNING_TUNER_H
