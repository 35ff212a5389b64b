//===- ThreadPool.h - The kernels' parallel loops -----------------*- C++ -*-===//
//
// The thread pool behind the generated kernels' parallel loops
// (halide_do_par_for). Halide's own pool puts its workers to sleep as soon
// as a loop ends, so every kernel call wakes them again: a gpt2-small
// decode step is about 85 short parallel loops. This pool's workers spin
// for a while (kSpinMicros) between loops before they sleep, so back-to-back
// kernels find them awake (3-5% faster int8 decode, about 3% faster
// 512-token prefill on gpt2-small, 2 threads; docs/runtime.md).
//
// One loop runs at a time: a loop started while another runs (a second
// context on another thread) or from inside one (nested) runs on the thread
// that started it. TFC_THREAD_POOL=halide keeps Halide's own pool for
// everything. (Halide's pool synchronises with atomics of its uninstrumented
// runtime, so ThreadSanitizer could not check code run on it; this pool it
// can.)
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_THREADPOOL_H
#define TFC_RUNTIME_THREADPOOL_H

namespace tfc {

/// Makes the pool (`threads` threads in all, the caller included; 0 = the
/// number of cores) the kernels' parallel-loop runner. The first call in a
/// process decides; later calls do nothing. Returns the thread count.
int installThreadPool(int threads);

/// Whether installThreadPool installed this pool (false when
/// TFC_THREAD_POOL=halide asked for Halide's).
bool threadPoolInstalled();

} // namespace tfc

#endif // TFC_RUNTIME_THREADPOOL_H
