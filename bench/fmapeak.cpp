// fmapeak: f32 FMA peak of this machine, the bound for compute-bound
// prefill. Each of T threads (default 2) runs independent chains of vector
// FMAs that stay in registers (AVX-512 if compiled for it, else AVX2+FMA,
// else scalar); counting 2 FLOPs per lane per FMA. The machine may be
// shared: many short passes (about 10 ms each), the best one counts, so that
// a pass where every thread had a core of its own sets the figure.
//   c++ -O2 -march=native -pthread bench/fmapeak.cpp -o fmapeak
//   ./fmapeak [T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

// Independent accumulators hide the FMA latency (4 cycles) on two FMA
// ports: 2 ports x 4 cycles = 8 chains are the minimum. The chain loop must
// be unrolled so that they live in registers (16 of AVX-512's 32, 12 of
// AVX2's 16, leaving room for the constants): through memory, store
// forwarding, not the FMA units, would set the pace (half the peak).
constexpr long kIters = 3000000;
constexpr int kPasses = 40;

#if defined(__AVX512F__)
constexpr int kLanes = 16, kChains = 16;
const char *kIsa = "avx512";
float chains(long iters, float seed) {
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
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kLanes = 8, kChains = 12;
const char *kIsa = "avx2";
float chains(long iters, float seed) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm256_set1_ps(seed + float(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  float out[8], total = 0;
  for (int c = 1; c < kChains; ++c)
    acc[0] = _mm256_add_ps(acc[0], acc[c]);
  _mm256_storeu_ps(out, acc[0]);
  for (float x : out)
    total += x;
  return total;
}
#else
constexpr int kLanes = 1, kChains = 12;
const char *kIsa = "scalar";
float chains(long iters, float seed) {
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
#endif

} // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (threads < 1) {
    std::fprintf(stderr,
                 "fmapeak: error: threads: expected >= 1, found "
                 "'%s'\n",
                 argv[1]);
    return 2;
  }
  std::vector<float> sums(static_cast<size_t>(threads), 0.0f);
  double best = 1e30;
  for (int pass = 0; pass < kPasses; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sums[size_t(t)] = chains(kIters, float(t)); });
    for (auto &th : pool)
      th.join();
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
  }
  double flops = 2.0 * kLanes * kChains * double(kIters) * threads;
  double check = 0;
  for (float s : sums)
    check += s;
  std::printf("fma peak: %.1f GFLOP/s (%d threads, %s f32, best of %d; "
              "checksum %.3g)\n",
              flops / best / 1e9, threads, kIsa, kPasses, check);
  return 0;
}
