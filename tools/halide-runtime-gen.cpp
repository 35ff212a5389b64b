//===- halide-runtime-gen.cpp - Write Halide's runtime as an object file --===//
//
// AOT kernels leave Halide's runtime (thread pool, error handler, buffer
// checks) undefined so that many kernels share one copy. This tool writes
// that copy for the host target; tests link it with hand-written kernels.
//
//   halide-runtime-gen OUT.o
//
//===----------------------------------------------------------------------===//
#include <Halide.h>

#include <cstdio>
#include <exception>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: halide-runtime-gen OUT.o\n");
    return 2;
  }
  try {
    Halide::compile_standalone_runtime(argv[1], Halide::get_host_target());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "halide-runtime-gen: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
