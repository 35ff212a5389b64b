//===- Scratch.h - The kernels' scratch memory --------------------*- C++ -*-===//
//
// The memory behind the generated kernels' own buffers (halide_malloc):
// the rows a kernel normalises before its matrix products, the same rows
// interleaved by register tile, attention's per-head copy of the keys
// (HalideKernels.cpp). A 512-token gpt2-small forward asks for about 200
// such blocks, up to 6 MiB each. From malloc, each large block came back as
// fresh pages (glibc trims or unmaps what is freed), and the page faults
// cost about 20 ms per forward (287-288 ms, against 266-268 with glibc's
// trimming turned off).
//
// Blocks of kLargeBytes or more are kept when freed and handed out again to
// a later call that fits in them: after the first forward pass no kernel
// touches a fresh page. Blocks of 2 MiB or more are 2 MiB-aligned and
// advised MADV_HUGEPAGE, as the runtime's own buffers are. At most
// kKeptBlocks free blocks are kept (the smallest goes first); smaller
// requests go to Halide's default allocator.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_SCRATCH_H
#define TFC_RUNTIME_SCRATCH_H

#include <cstddef>

namespace tfc {

/// Requests of at least this many bytes are served from kept blocks.
constexpr size_t kLargeBytes = size_t(64) << 10;
/// Free blocks kept at most.
constexpr int kKeptBlocks = 16;

/// Makes this allocator the kernels' halide_malloc/halide_free. The first
/// call in a process installs it; later calls do nothing.
void installScratchAllocator();

/// The allocator itself, callable without installing it (tests).
void *scratchMalloc(void *userContext, size_t bytes);
void scratchFree(void *userContext, void *ptr);

/// Blocks of kLargeBytes or more: how many were ever allocated from the
/// system, and how many (and bytes) are kept free now.
struct ScratchStats {
  int created = 0, kept = 0;
  size_t keptBytes = 0;
};
ScratchStats scratchStats();

} // namespace tfc

#endif // TFC_RUNTIME_SCRATCH_H
