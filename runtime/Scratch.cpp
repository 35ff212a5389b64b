//===- Scratch.cpp - The kernels' scratch memory --------------------------===//
#include "Scratch.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tfc {
namespace {

/// Bytes before the pointer handed out, and after the bytes asked for:
/// Halide's kernels may read a little past either end (HalideRuntime.h).
/// 64 keeps the pointer aligned for any vector.
constexpr size_t kGuard = 64;
constexpr size_t kHuge = size_t(2) << 20;

struct Block {
  char *base = nullptr; // from aligned_alloc
  size_t bytes = 0;     // usable from base + kGuard
  void *handedOut() const { return base + kGuard; }
};

// Both lists keep their capacity, so that after the first forward pass
// neither allocates: a kernel call costs a lock and a short scan.
std::mutex mutex;
std::vector<Block> kept;  // free, kept for reuse
std::vector<Block> inUse; // handed out
int createdBlocks = 0; // from aligned_alloc, ever

Block newBlock(size_t bytes) {
  size_t total = bytes + 2 * kGuard;
  size_t align = total >= kHuge ? kHuge : kGuard;
  total = (total + align - 1) / align * align;
  char *base = static_cast<char *>(std::aligned_alloc(align, total));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (base && align == kHuge)
    (void)madvise(base, total, MADV_HUGEPAGE); // advice only: may be refused
#endif
  return {base, total - 2 * kGuard};
}

std::once_flag installOnce;

} // namespace

void *scratchMalloc(void *userContext, size_t bytes) {
  if (bytes < kLargeBytes)
    return halide_default_malloc(userContext, bytes);
  std::unique_lock<std::mutex> lock(mutex);
  // The smallest kept block that fits.
  auto best = kept.end();
  for (auto it = kept.begin(); it != kept.end(); ++it)
    if (it->bytes >= bytes && (best == kept.end() || it->bytes < best->bytes))
      best = it;
  Block b;
  if (best != kept.end()) {
    b = *best;
    kept.erase(best);
  } else {
    lock.unlock();
    b = newBlock(bytes);
    if (!b.base)
      return nullptr;
    lock.lock();
    ++createdBlocks;
  }
  inUse.push_back(b);
  return b.handedOut();
}

void scratchFree(void *userContext, void *ptr) {
  if (!ptr)
    return;
  std::unique_lock<std::mutex> lock(mutex);
  auto it = std::find_if(inUse.begin(), inUse.end(), [ptr](const Block &b) {
    return b.handedOut() == ptr;
  });
  if (it == inUse.end()) {
    lock.unlock();
    halide_default_free(userContext, ptr);
    return;
  }
  kept.push_back(*it);
  *it = inUse.back();
  inUse.pop_back();
  if (static_cast<int>(kept.size()) > kKeptBlocks) {
    auto smallest = std::min_element(
        kept.begin(), kept.end(),
        [](const Block &a, const Block &b) { return a.bytes < b.bytes; });
    char *base = smallest->base;
    kept.erase(smallest);
    lock.unlock();
    std::free(base);
  }
}

ScratchStats scratchStats() {
  std::lock_guard<std::mutex> lock(mutex);
  ScratchStats s;
  s.created = createdBlocks;
  s.kept = static_cast<int>(kept.size());
  for (const Block &b : kept)
    s.keptBytes += b.bytes;
  return s;
}

void installScratchAllocator() {
  std::call_once(installOnce, [] {
    halide_set_custom_malloc(scratchMalloc);
    halide_set_custom_free(scratchFree);
  });
}

} // namespace tfc
