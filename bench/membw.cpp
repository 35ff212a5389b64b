// membw: read bandwidth of this machine, the bound for memory-bound decode
// (bench/Ceilings.h: a 1 GiB buffer summed by T threads, best of 5).
//   c++ -O3 -pthread bench/membw.cpp -o membw
//   ./membw [T]   (T threads, default 2)
#include "Ceilings.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (threads < 1) {
    std::fprintf(stderr, "membw: error: threads: expected >= 1, found '%s'\n",
                 argv[1]);
    return 2;
  }
  tfc::bench::ReadBandwidth r = tfc::bench::readBandwidth(threads);
  std::printf("read bandwidth: %.1f GB/s (%d threads, 1 GiB%s, best of %d; "
              "checksum %llu)\n",
              r.gbs, threads, r.hugePages ? " in huge pages" : "", r.passes,
              static_cast<unsigned long long>(r.checksum));
  return 0;
}
