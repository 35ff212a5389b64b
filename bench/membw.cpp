// membw: read bandwidth of this machine, the bound for memory-bound decode.
// Sums a 1 GiB buffer with T threads (default 2), best of 5 passes.
//   c++ -O3 -march=native -ffast-math -pthread bench/membw.cpp -o membw
//   ./membw [T]   (-ffast-math lets the sum vectorise: otherwise the adds,
//   not memory, set the pace)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  size_t n = (size_t(1) << 30) / sizeof(float);
  std::vector<float> data(n, 1.0f); // touched: resident before timing
  double best = 1e30;
  std::vector<double> sums(static_cast<size_t>(threads), 0.0);
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        float a = 0, b = 0, c = 0, d = 0;
        for (size_t i = lo; i + 4 <= hi; i += 4) {
          a += data[i];
          b += data[i + 1];
          c += data[i + 2];
          d += data[i + 3];
        }
        sums[size_t(t)] = a + b + c + d;
      });
    for (auto &th : pool)
      th.join();
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
  }
  double total = 0;
  for (double s : sums)
    total += s;
  std::printf("read bandwidth: %.1f GB/s (%d threads, 1 GiB, best of 5; "
              "checksum %.0f)\n",
              double(n * sizeof(float)) / best / 1e9, threads, total);
  return 0;
}
