// fmapeak: f32 FMA peak of this machine, the bound for compute-bound
// prefill (bench/Ceilings.h: independent vector FMA chains in registers per
// thread, best of 40 short passes).
//   c++ -O2 -pthread bench/fmapeak.cpp -o fmapeak
//   ./fmapeak [T]   (T threads, default 2)
#include "Ceilings.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (threads < 1) {
    std::fprintf(stderr, "fmapeak: error: threads: expected >= 1, found '%s'\n",
                 argv[1]);
    return 2;
  }
  tfc::bench::FmaPeak p = tfc::bench::fmaPeak(threads);
  std::printf("fma peak: %.1f GFLOP/s (%d threads, %s f32, best of %d; "
              "checksum %.3g)\n",
              p.gflops, threads, p.isa.c_str(), p.passes, p.checksum);
  return 0;
}
