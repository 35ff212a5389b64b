//===- Ceilings.h - This machine's FMA peak and read bandwidth ------------===//
//
// The two ceilings every benchmark here is measured against, shared by
// bench/fmapeak.cpp, bench/membw.cpp (the peer benchmark's ceilings) and
// bench/kernels.cpp (the per-kernel roofline). Header-only, no -march flag
// needed: the FMA chains are compiled per ISA with target attributes and
// picked at run time. The machine may be shared, so both take the best of
// several passes: a pass where every thread had a core of its own sets the
// figure.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_BENCH_CEILINGS_H
#define TFC_BENCH_CEILINGS_H

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tfc::bench {

/// Runs fn(t) on `threads` threads, `passes` times; the best wall time (s).
template <typename F> double bestOf(int passes, int threads, F &&fn) {
  double best = 1e30;
  for (int pass = 0; pass < passes; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&fn, t] { fn(t); });
    for (auto &th : pool)
      th.join();
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
  }
  return best;
}

// Independent accumulators hide the FMA latency (4 cycles) on two FMA
// ports: 8 chains are the minimum. The chain loop is unrolled so that they
// live in registers (16 of AVX-512's 32, 12 of AVX2's 16): through memory,
// store forwarding, not the FMA units, would set the pace (half the peak).
#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline float chains512(long iters,
                                                          float seed) {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm512_set1_ps(seed + float(c));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}
__attribute__((target("avx2,fma"))) inline float chains256(long iters,
                                                           float seed) {
  constexpr int kChains = 12;
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm256_set1_ps(seed + float(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  for (int c = 1; c < kChains; ++c)
    acc[0] = _mm256_add_ps(acc[0], acc[c]);
  float out[8], total = 0;
  _mm256_storeu_ps(out, acc[0]);
  for (float x : out)
    total += x;
  return total;
}
#endif
inline float chainsScalar(long iters, float seed) {
  constexpr int kChains = 12;
  float acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = seed + float(c);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c)
      acc[c] = acc[c] * 0.999999f + 1e-7f;
  }
  float total = 0;
  for (float x : acc)
    total += x;
  return total;
}

struct FmaPeak {
  double gflops = 0;
  std::string isa; // avx512, avx2 or scalar
  int passes = 0;
  double checksum = 0; // keeps the chains from being optimised away
};

/// f32 FMA peak with `threads` threads: 2 FLOPs per lane per FMA, best of
/// `passes` short passes (about 10 ms each).
inline FmaPeak fmaPeak(int threads, int passes = 40) {
  constexpr long kIters = 3000000;
  float (*fn)(long, float) = chainsScalar;
  int lanesTimesChains = 12;
  FmaPeak r;
  r.isa = "scalar";
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) {
    fn = chains512, lanesTimesChains = 16 * 16, r.isa = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fn = chains256, lanesTimesChains = 8 * 12, r.isa = "avx2";
  }
#endif
  std::vector<float> sums(static_cast<size_t>(threads));
  double best = bestOf(passes, threads, [&](int t) {
    sums[size_t(t)] = fn(kIters, float(t));
  });
  r.gflops = 2.0 * lanesTimesChains * double(kIters) * threads / best / 1e9;
  r.passes = passes;
  for (float s : sums)
    r.checksum += s;
  return r;
}

struct ReadBandwidth {
  double gbs = 0;
  int64_t bytes = 0;
  int passes = 0;
  uint64_t checksum = 0;
  bool hugePages = false; // the kernel took the huge-page advice
};

/// Read bandwidth with `threads` threads: a 1 GiB buffer (resident before
/// timing) summed as 32-bit integers, which vectorise without -ffast-math,
/// best of `passes`. The buffer asks for transparent huge pages, as the
/// runtime's weights do (runtime/Runtime.cpp).
inline ReadBandwidth readBandwidth(int threads, int passes = 5) {
  size_t bytes = size_t(1) << 30, n = bytes / sizeof(uint32_t);
  ReadBandwidth r;
  auto *data = static_cast<uint32_t *>(std::aligned_alloc(size_t(2) << 20, bytes));
  if (!data)
    return r;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  r.hugePages = madvise(data, bytes, MADV_HUGEPAGE) == 0;
#endif
  std::fill(data, data + n, 1u);
  std::vector<uint32_t> sums(static_cast<size_t>(threads));
  double best = bestOf(passes, threads, [&](int t) {
    size_t lo = n * t / threads, hi = n * (t + 1) / threads;
    uint32_t s = 0;
    for (size_t i = lo; i < hi; ++i)
      s += data[i];
    sums[size_t(t)] = s;
  });
  std::free(data);
  r.bytes = int64_t(bytes);
  r.gbs = double(r.bytes) / best / 1e9;
  r.passes = passes;
  for (uint32_t s : sums)
    r.checksum += s;
  return r;
}

} // namespace tfc::bench

#endif // TFC_BENCH_CEILINGS_H
