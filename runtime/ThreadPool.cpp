//===- ThreadPool.cpp - The kernels' parallel loops -----------------------===//
#include "ThreadPool.h"

#include <HalideRuntime.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

// Halide's runtime defines it; HalideRuntime.h does not declare it.
extern "C" int halide_set_num_threads(int);

namespace tfc {
namespace {

/// How long an idle worker spins before it sleeps.
constexpr int64_t kSpinMicros = 2000;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// The loop being run. `state` packs the loop's epoch (high 32 bits) and the
/// next task index (low 32 bits): a worker claims task i with a CAS from
/// (epoch, i) to (epoch, i + 1), so it can never claim a task of a loop
/// other than the one whose fields it read. Between loops the index is
/// kClosed, which no task index reaches.
class Pool {
public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i)
      workers.emplace_back([this] { workerLoop(); });
  }

  int run(void *uctx, halide_task_t fn, int min, int size, uint8_t *closure) {
    if (size <= 0)
      return 0;
    // A single task, a nested loop (the pool's threads are busy with the
    // outer one) or a loop while another context's runs (the pool is
    // theirs): on the calling thread.
    if (size == 1 || workers.empty() || inLoop || !callMutex.try_lock())
      return serial(uctx, fn, min, size, closure);
    job = Job{fn, uctx, closure, min};
    jobSize.store(size);
    remaining.store(size);
    failure.store(0);
    uint64_t epoch = (state.load() >> 32) + 1;
    state.store(epoch << 32); // opens the loop at task 0
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lock(sleepMutex);
      wake.notify_all();
    }
    inLoop = true;
    work(epoch);
    inLoop = false;
    // Tasks other threads claimed may still be running.
    for (int spins = 0; remaining.load() > 0; ++spins) {
      if (spins < 4096)
        cpuRelax();
      else
        std::this_thread::yield();
    }
    state.store((epoch << 32) | kClosed);
    int result = failure.load();
    callMutex.unlock();
    return result;
  }

private:
  static int serial(void *uctx, halide_task_t fn, int min, int size,
                    uint8_t *closure) {
    for (int i = min; i < min + size; ++i)
      if (int r = fn(uctx, i, closure))
        return r;
    return 0;
  }

  static constexpr uint64_t kClosed = 0xffffffffu;
  struct Job {
    halide_task_t fn = nullptr;
    void *uctx = nullptr;
    uint8_t *closure = nullptr;
    int min = 0;
  };

  /// Claims and runs tasks of loop `epoch` until none is left.
  void work(uint64_t epoch) {
    for (;;) {
      uint64_t s = state.load();
      if ((s >> 32) != epoch)
        return;
      uint64_t index = s & kClosed;
      // The size may already be the next loop's, but then the loop is
      // closed and the claim below fails. `job` is read only after a claim
      // succeeds, while its loop is open.
      if (index >= uint64_t(jobSize.load()) || index == kClosed)
        return;
      if (!state.compare_exchange_weak(s, s + 1))
        continue;
      int r = job.fn(job.uctx, job.min + int(index), job.closure);
      if (r != 0) {
        int none = 0;
        failure.compare_exchange_strong(none, r);
      }
      remaining.fetch_sub(1);
    }
  }

  void workerLoop() {
    inLoop = true; // a kernel's nested loop runs on its own thread
    uint64_t seen = state.load() >> 32;
    for (;;) {
      auto start = std::chrono::steady_clock::now();
      uint64_t epoch;
      for (int spins = 0; (epoch = state.load() >> 32) == seen; ++spins) {
        cpuRelax();
        if ((spins & 255) == 255 &&
            std::chrono::steady_clock::now() - start >
                std::chrono::microseconds(kSpinMicros)) {
          std::unique_lock<std::mutex> lock(sleepMutex);
          sleepers.fetch_add(1);
          wake.wait(lock, [&] { return (state.load() >> 32) != seen; });
          sleepers.fetch_sub(1);
          start = std::chrono::steady_clock::now();
        }
      }
      seen = epoch;
      work(epoch);
    }
  }

  std::vector<std::thread> workers;
  std::mutex callMutex; // one loop at a time
  Job job; // written only while the loop is closed
  std::atomic<int> jobSize{0};
  std::atomic<uint64_t> state{kClosed};
  std::atomic<int> remaining{0}, failure{0}, sleepers{0};
  std::mutex sleepMutex;
  std::condition_variable wake;
  static thread_local bool inLoop;
};

thread_local bool Pool::inLoop = false;

Pool *thePool = nullptr; // never freed: its workers live as long as the process
std::once_flag installOnce;
int installedThreads = 0;

int doParFor(void *uctx, halide_task_t fn, int min, int size,
             uint8_t *closure) {
  return thePool->run(uctx, fn, min, size, closure);
}

} // namespace

int installThreadPool(int threads) {
  std::call_once(installOnce, [threads] {
    int n = threads;
    if (n <= 0) {
      unsigned cores = std::thread::hardware_concurrency();
      n = cores > 0 ? int(cores) : 1;
    }
    installedThreads = n;
    halide_set_num_threads(n); // for TFC_THREAD_POOL=halide
    const char *which = std::getenv("TFC_THREAD_POOL");
    if (which && std::strcmp(which, "halide") == 0)
      return;
    thePool = new Pool(n);
    halide_set_custom_do_par_for(doParFor);
  });
  return installedThreads;
}

bool threadPoolInstalled() { return thePool != nullptr; }

} // namespace tfc
