//===- Runtime.cpp - Walking a compiled model's plan (tfc_runtime.h) ------===//
//
// A compiled model is a table (tfc_plan.h): weights by name and shape,
// kernels, and steps whose arguments are tokens, weights, arena slices or the
// output. This file loads the weights named by the table, builds one
// halide_buffer_t per plan argument when a context is created, and per
// tfc_forward only patches the extents that depend on N, then calls the
// kernels in order. Nothing in tfc_forward allocates: the arena, the buffer
// descriptors, the argv arrays, the profile counters and the error buffer are
// all made by tfc_context_create.
//
// Halide's runtime (thread pool, error handler) is process-global and is not
// linked here: its symbols come from the Halide runtime object that `tfc
// compile` links into the final program.
//
//===----------------------------------------------------------------------===//
#include "tfc_runtime.h"
#include "tfc_plan.h"
#include "ApiError.h"
#include "Generate.h"
#include "Device.h"
#include "Scratch.h"
#include "ThreadPool.h"
#include "WeightFormat.h"

#include "SafetensorsReader.h"
#include "WeightLoad.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>

namespace {

constexpr size_t kAlign = 64; // bytes; a cache line, an AVX-512 row

/// Zero-filled bytes, 64-byte aligned. A buffer of 2 MiB or more (weights,
/// the arena, the KV cache) is aligned to 2 MiB and asks Linux for
/// transparent huge pages before its first touch: a decode step streams
/// every weight once, and with 4 KiB pages that is a TLB miss, and a
/// restart of the hardware prefetcher, every 4 KiB.
void *allocBytes(int64_t count) {
  constexpr size_t kHuge = size_t(2) << 20;
  size_t bytes = static_cast<size_t>(std::max<int64_t>(count, 1));
  size_t align = bytes >= kHuge ? kHuge : kAlign;
  bytes = (bytes + align - 1) / align * align;
  void *p = std::aligned_alloc(align, bytes);
  if (!p)
    return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (align == kHuge)
    (void)madvise(p, bytes, MADV_HUGEPAGE); // advice only: may be refused
#endif
  // The zeroing also touches every page, so the first forward pass does not
  // pay the page faults. The kernel zeroes each new page on the thread that
  // touches it first, which for gpt2-small's 650 MB of weights was most of
  // the load time on one thread: every core takes a share.
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  size_t chunk = bytes >= (size_t(64) << 20) && cores > 1
                     ? (bytes / cores + kHuge - 1) / kHuge * kHuge
                     : bytes;
  std::vector<std::thread> helpers;
  for (size_t at = chunk; at < bytes; at += chunk) {
    auto zero = [=] {
      std::memset(static_cast<char *>(p) + at, 0, std::min(chunk, bytes - at));
    };
    try {
      helpers.emplace_back(zero);
    } catch (...) { // no thread to be had: this one does it
      zero();
    }
  }
  std::memset(p, 0, std::min(chunk, bytes));
  for (std::thread &t : helpers)
    t.join();
  return p;
}

/// allocBytes for `count` floats.
float *allocFloats(int64_t count) {
  int64_t n = std::max<int64_t>(count, 1);
  if (n > INT64_MAX / int64_t(sizeof(float)))
    return nullptr;
  return static_cast<float *>(allocBytes(n * int64_t(sizeof(float))));
}

/// Address space for `count` floats that is never touched (PROT_NONE): a GPU
/// context's arena and cache pointers locate their slices, the device holds
/// the data (bindDeviceArgs turns each pointer into a device crop).
float *reserveFloats(int64_t count, size_t &bytes) {
  bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(float);
  void *p = mmap(nullptr, bytes, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<float *>(p);
}

std::string shapeOf(int32_t rank, const int64_t *dims) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i) {
    if (i)
      s += ", ";
    s += dims[i] == TFC_DIM_N ? std::string("N") : std::to_string(dims[i]);
  }
  return s + "]";
}

/// Elements of an argument when N = n, or -1 when it overflows int64.
int64_t numelAt(const tfc_arg &a, int64_t n) {
  int64_t count = 1;
  for (int32_t i = 0; i < a.rank; ++i) {
    int64_t d = a.dims[i] == TFC_DIM_N ? n : a.dims[i];
    if (d != 0 && count > INT64_MAX / d)
      return -1;
    count *= d;
  }
  return count;
}

bool hasDimN(const tfc_arg &a) {
  for (int32_t i = 0; i < a.rank; ++i)
    if (a.dims[i] == TFC_DIM_N)
      return true;
  return false;
}

/// Number of entries of model->args the steps use.
int64_t argCount(const tfc_model &m) {
  int64_t count = 0;
  for (int32_t s = 0; s < m.num_steps; ++s)
    count = std::max<int64_t>(count, int64_t(m.steps[s].first_arg) +
                                         m.steps[s].num_args);
  return count;
}

const char *labelOf(const tfc_step &step) {
  return step.label ? step.label : "?";
}

/// The weights-file tables (tensors, layouts, sources): every index in
/// range, and each source's file shape consistent with its native tensor
/// and transform, so that the loader's copies stay inside both buffers.
bool checkWeightTables(const tfc_model *m, const std::string &where,
                       std::string &error) {
  auto bad = [&](const std::string &what) {
    error = where + what;
    return false;
  };
  if (m->num_tensors < 1 || !m->tensors || m->num_layouts < 1 ||
      !m->layouts || m->num_sources < 1 || !m->sources)
    return bad("no weight manifest or layouts (a NULL or empty table)");
  auto numel = [](const int64_t *dims, int32_t rank) {
    int64_t n = 1;
    for (int32_t i = 0; i < rank; ++i)
      n = dims[i] < 0 || (dims[i] && n > INT64_MAX / dims[i]) ? -1
                                                               : n * dims[i];
    return n;
  };
  for (int32_t t = 0; t < m->num_tensors; ++t) {
    const tfc_tensor &x = m->tensors[t];
    if (!x.name || x.rank < 1 || x.rank > TFC_MAX_RANK ||
        numel(x.dims, x.rank) < 0)
      return bad("tensor " + std::to_string(t) + ": bad name or shape");
  }
  for (int32_t s = 0; s < m->num_sources; ++s) {
    const tfc_tensor_source &src = m->sources[s];
    std::string at = "weight source " + std::to_string(s) + ": ";
    if (src.tensor < 0 || src.tensor >= m->num_tensors || !src.file ||
        src.file_rank < 1 || src.file_rank > 4 ||
        numel(src.file_dims, src.file_rank) < 0)
      return bad(at + "bad tensor index, name or shape");
    const tfc_tensor &t = m->tensors[src.tensor];
    const int64_t *f = src.file_dims;
    int64_t fileCount = numel(f, src.file_rank), count = numel(t.dims, t.rank);
    bool ok = false;
    switch (src.xform) {
    case TFC_XFORM_COPY:
    case TFC_XFORM_RESHAPE:
      ok = fileCount == count;
      break;
    case TFC_XFORM_TRANSPOSE:
      ok = src.file_rank == 2 && t.rank == 2 && f[0] == t.dims[1] &&
           f[1] == t.dims[0];
      break;
    case TFC_XFORM_CONV_PATCH:
      ok = src.file_rank == 4 && t.rank == 2 && f[2] == f[3] &&
           t.dims[1] == f[0] && t.dims[0] == f[1] * f[2] * f[3];
      break;
    case TFC_XFORM_COLUMNS: {
      int64_t total = f[src.file_rank - 1], width = t.dims[t.rank - 1];
      ok = src.column >= 0 && width >= 0 && src.column + width <= total &&
           total > 0 && width > 0 && count / width == fileCount / total;
      break;
    }
    }
    if (!ok)
      return bad(at + "the file shape does not fit tensor '" + t.name +
                 "' and its transform");
  }
  for (int32_t l = 0; l < m->num_layouts; ++l) {
    const tfc_layout &x = m->layouts[l];
    if (!x.name || !x.prefix || x.first_source < 0 || x.num_sources < 0 ||
        int64_t(x.first_source) + x.num_sources > m->num_sources)
      return bad("layout " + std::to_string(l) + ": bad name or sources");
  }
  return true;
}

/// Checks the table once, at load time, so that tfc_forward can trust every
/// index and size in it (a plan is generated, but a stale or hand-edited one
/// must fail with a message rather than write out of bounds).
bool checkPlan(const tfc_model *m, std::string &error) {
  if (!m) {
    error = "model is NULL";
    return false;
  }
  std::string where =
      std::string("model '") + (m->name ? m->name : "?") + "': plan: ";
  if (m->plan_version != TFC_PLAN_VERSION) {
    error = where + "version " + std::to_string(m->plan_version) +
            ", this runtime reads version " + std::to_string(TFC_PLAN_VERSION) +
            " (recompile the model)";
    return false;
  }
  bool vit = m->family == TFC_FAMILY_VIT;
  if (!m->spec_yaml || m->max_seq < 1 || (m->vocab < 1 && !vit) ||
      m->output_cols < 1 ||
      m->arena_floats < 0 || m->cache_floats < 0 || m->num_weights < 0 ||
      m->num_kernels < 0 || m->num_steps < 0 ||
      (m->num_weights && !m->weights) || (m->num_kernels && !m->kernels) ||
      (m->num_steps && (!m->steps || !m->args)) || m->max_seq > INT32_MAX ||
      m->family < TFC_FAMILY_DECODER ||
      m->family > TFC_FAMILY_ENCODER_DECODER || m->type_vocab < 0 ||
      m->num_source_steps < 0 || m->num_source_steps > m->num_steps ||
      (m->num_source_steps > 0) != (m->family == TFC_FAMILY_ENCODER_DECODER)) {
    error = where + "malformed header (max_seq " + std::to_string(m->max_seq) +
            ", vocab " + std::to_string(m->vocab) + ", output_cols " +
            std::to_string(m->output_cols) + ", arena_floats " +
            std::to_string(m->arena_floats) + ", family " +
            std::to_string(m->family) + ", type_vocab " +
            std::to_string(m->type_vocab) + ", source steps " +
            std::to_string(m->num_source_steps) + ", or a NULL table)";
    return false;
  }
  if (!checkWeightTables(m, where, error))
    return false;
  if ((m->device_interface != nullptr) != (m->device_api != nullptr) ||
      (m->device_api && std::strcmp(m->device_api, "opencl") != 0 &&
       std::strcmp(m->device_api, "cuda") != 0)) {
    error = where + "device_api '" +
            (m->device_api ? m->device_api : "(null)") +
            "' and its device interface must be given together, for opencl "
            "or cuda";
    return false;
  }
  for (int32_t w = 0; w < m->num_weights; ++w) {
    const tfc_weight_info &info = m->weights[w];
    bool ok = info.name && info.rank >= 1 && info.rank <= TFC_MAX_RANK &&
              info.dtype >= TFC_DTYPE_F32 && info.dtype <= TFC_DTYPE_I8 &&
              info.panel >= 0 && (info.scales == 0 || info.scales == 1) &&
              (!info.scales || info.dtype == TFC_DTYPE_F32) &&
              ((info.dtype == TFC_DTYPE_I8 || info.scales) ? info.group >= 1
                                                           : info.group == 0);
    for (int32_t i = 0; ok && i < info.rank; ++i)
      ok = info.dims[i] >= 1;
    if (!ok) {
      error = where + "weight " + std::to_string(w) + " ('" +
              (info.name ? info.name : "?") + "') has no name or a bad shape";
      return false;
    }
  }
  for (int32_t k = 0; k < m->num_kernels; ++k)
    if (!m->kernels[k].name || !m->kernels[k].fn) {
      error = where + "kernel " + std::to_string(k) + " has no name or entry";
      return false;
    }
  for (int32_t s = 0; s < m->num_steps; ++s) {
    const tfc_step &step = m->steps[s];
    std::string at =
        where + "step " + std::to_string(s) + " (" + labelOf(step) + ")";
    if (step.kernel < 0 || step.kernel >= m->num_kernels ||
        step.first_arg < 0 || step.num_args < 0) {
      error = at + ": kernel " + std::to_string(step.kernel) + " of " +
              std::to_string(m->num_kernels) + ", args from " +
              std::to_string(step.first_arg) + " count " +
              std::to_string(step.num_args);
      return false;
    }
    // An encoder-decoder's source steps read the source, its target steps
    // the target tokens, the source's cache rows and write the output.
    bool sourceStep = s < m->num_source_steps;
    for (int32_t i = 0; i < step.num_args; ++i) {
      const tfc_arg &a = m->args[step.first_arg + i];
      std::string arg = at + " arg " + std::to_string(i) + ": ";
      if (a.kind == TFC_ARG_POS)
        continue; // a scalar: nothing to size
      if ((sourceStep && (a.kind == TFC_ARG_TOKENS ||
                          a.kind == TFC_ARG_OUTPUT ||
                          (a.kind == TFC_ARG_CACHE &&
                           a.rows == TFC_ROWS_SOURCE))) ||
          (!sourceStep && a.kind == TFC_ARG_SOURCE)) {
        error = arg + "kind " + std::to_string(a.kind) + " in a " +
                (sourceStep ? "source" : "target") + " step";
        return false;
      }
      bool ok = a.rank >= 1 && a.rank <= TFC_MAX_RANK;
      for (int32_t d = 0; ok && d < a.rank; ++d)
        ok = a.dims[d] >= 1 || a.dims[d] == TFC_DIM_N;
      if (!ok) {
        error = arg + "bad rank " + std::to_string(a.rank) + " or dimension";
        return false;
      }
      // Halide extents and strides are int32: the whole buffer at max_seq
      // must fit.
      int64_t maxCount = numelAt(a, m->max_seq);
      if (maxCount < 0 || maxCount > INT32_MAX) {
        error = arg + "shape " + shapeOf(a.rank, a.dims) +
                " has more than 2^31 elements at max_seq";
        return false;
      }
      switch (a.kind) {
      case TFC_ARG_TOKENS:
      case TFC_ARG_TYPES:
      case TFC_ARG_MASK:
      case TFC_ARG_SOURCE:
        if (a.rank != 1 || a.dims[0] != TFC_DIM_N) {
          error = arg + "token ids must be [N], found " +
                  shapeOf(a.rank, a.dims);
          return false;
        }
        if ((a.kind == TFC_ARG_TYPES || a.kind == TFC_ARG_MASK) &&
            m->family != TFC_FAMILY_ENCODER) {
          error = arg + "token types and masks are encoder inputs";
          return false;
        }
        if (a.kind == TFC_ARG_SOURCE &&
            m->family != TFC_FAMILY_ENCODER_DECODER) {
          error = arg + "source tokens are an encoder-decoder's input";
          return false;
        }
        break;
      case TFC_ARG_IMAGE:
        if (!vit || a.rank != 3 || hasDimN(a)) {
          error = arg + "an image must be a ViT's [H, W, C], found " +
                  shapeOf(a.rank, a.dims);
          return false;
        }
        break;
      case TFC_ARG_WEIGHT: {
        if (a.index < 0 || a.index >= m->num_weights) {
          error = arg + "weight index " + std::to_string(a.index) + " of " +
                  std::to_string(m->num_weights);
          return false;
        }
        const tfc_weight_info &info = m->weights[a.index];
        if (a.rank != info.rank ||
            !std::equal(a.dims, a.dims + a.rank, info.dims)) {
          error = arg + "weight '" + info.name + "' is " +
                  shapeOf(info.rank, info.dims) + ", the step uses it as " +
                  shapeOf(a.rank, a.dims);
          return false;
        }
        break;
      }
      case TFC_ARG_ARENA:
        if (a.offset < 0 || a.offset > m->arena_floats ||
            maxCount > m->arena_floats - a.offset) {
          error = arg + "arena slice at offset " + std::to_string(a.offset) +
                  " of " + std::to_string(maxCount) +
                  " floats (at max_seq) exceeds arena_floats " +
                  std::to_string(m->arena_floats);
          return false;
        }
        break;
      case TFC_ARG_CACHE:
        if ((a.rows != TFC_ROWS_NEW && a.rows != TFC_ROWS_SEEN &&
             a.rows != TFC_ROWS_SOURCE) ||
            a.dims[0] != TFC_DIM_N || a.offset < 0 ||
            a.offset > m->cache_floats ||
            maxCount > m->cache_floats - a.offset) {
          error = arg + "cache slice at offset " + std::to_string(a.offset) +
                  " of " + std::to_string(maxCount) + " floats (rows mode " +
                  std::to_string(a.rows) + ") exceeds cache_floats " +
                  std::to_string(m->cache_floats);
          return false;
        }
        break;
      case TFC_ARG_OUTPUT:
        // The caller provides n * output_cols floats: the output must be
        // N rows of at most output_cols, or one pooled row (a ViT's
        // classes; an encoder's classifier or pooler).
        if ((vit || (m->family == TFC_FAMILY_ENCODER && !hasDimN(a)))
                ? (a.rank != 2 || a.dims[0] != 1 ||
                   a.dims[1] != m->output_cols)
                : (numelAt(a, 1) > m->output_cols || !hasDimN(a))) {
          error = arg + "output " + shapeOf(a.rank, a.dims) +
                  " is not [N, <= " + std::to_string(m->output_cols) + "]";
          return false;
        }
        break;
      default:
        error = arg + "unknown kind " + std::to_string(a.kind);
        return false;
      }
    }
  }
  return true;
}

// Halide reports a failing kernel through its (process-global) error handler
// and then returns a non-zero code. The handler runs on the thread that hit
// the error, which for the checks a pipeline makes on its arguments is the
// thread that called the kernel: keep the message per thread, so that two
// contexts on two threads do not see each other's errors.
thread_local char tlsHalideError[512];
thread_local size_t tlsHalideFirst = 0; // length of the first message in it

extern "C" void recordHalideError(void *, const char *msg) {
  // A failure may report several errors (a device runtime says what it
  // tried, ..., then that the call failed): the first and the last are
  // kept, "; " between them.
  size_t n = msg ? std::strlen(msg) : 0;
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
    --n;
  size_t at = tlsHalideError[0] ? tlsHalideFirst : 0;
  if (at > 0 && at + 2 < sizeof tlsHalideError) {
    tlsHalideError[at++] = ';';
    tlsHalideError[at++] = ' ';
  }
  n = std::min(n, sizeof tlsHalideError - 1 - at);
  for (size_t i = 0; i < n; ++i)
    tlsHalideError[at + i] = msg[i] == '\n' ? ' ' : msg[i];
  tlsHalideError[at + n] = '\0';
  if (at == 0)
    tlsHalideFirst = n;
}

std::once_flag halideSetup;

/// Process-global state, set once by the first context: the kernels'
/// thread pool (ThreadPool.h; a later count would change it for every
/// context at once), Halide's error handler and the kernels' scratch
/// allocator (Scratch.h).
/// Returns the pool's thread count.
int installHalideOnce(int threads) {
  std::call_once(halideSetup, [threads] {
    halide_set_error_handler(recordHalideError);
    tfc::installThreadPool(threads);
    tfc::installScratchAllocator();
  });
  return tfc::installThreadPool(threads);
}

int64_t nowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

} // namespace

struct tfc_weights {
  const tfc_model *model = nullptr;
  uint8_t *storage = nullptr;  // every plan weight, 64-byte aligned each
  std::vector<void *> tensors; // by plan weight index, into storage
  // GPU models: every plan weight on the device (storage is freed once
  // they are uploaded).
  const halide_device_interface_t *device = nullptr;
  std::vector<tfc::DeviceMemory> onDevice; // by plan weight index
  ~tfc_weights() {
    for (tfc::DeviceMemory &m : onDevice)
      tfc::deviceRelease(m);
    std::free(storage);
  }
};

struct tfc_context {
  const tfc_model *model = nullptr;
  const tfc_weights *weights = nullptr;
  float *arena = nullptr;
  float *cache = nullptr;  // KV cache: every layer's K and V, max_seq rows
  int64_t pos = 0;         // tokens in the cache
  int64_t sourceLen = 0;   // encoder-decoders: S, 0 until a source is set
  int32_t posValue = 0;    // what TFC_ARG_POS arguments point to
  int32_t outputStep = -1; // the step that writes the output
  // One descriptor per entry of model->args, TFC_MAX_RANK dimensions each,
  // and the void* arrays the `_argv` entries take (a step's argv is
  // argv.data() + first_arg).
  std::vector<halide_buffer_t> buffers;
  std::vector<halide_dimension_t> dims;
  std::vector<void *> argv;
  std::vector<int32_t> dynamicArgs; // args with an N dimension
  std::vector<int32_t> tokenArgs, outputArgs;
  std::vector<int32_t> typeArgs, maskArgs; // encoders
  std::vector<int32_t> imageArgs;          // ViT
  std::vector<int32_t> sourceArgs;         // encoder-decoders
  std::vector<int32_t> zeros, ones;        // default types and mask
  bool profiling = false;
  std::vector<int64_t> kernelCalls, kernelNs; // by kernel index
  char error[1024] = {0};
  // GPU models (model->device_interface): arena and cache are untouched
  // address space (reserveFloats) whose pointers bindDeviceArgs translates
  // into crops of deviceArena and deviceCache; inputs and the output pass
  // through a device block per argument (argMemory).
  const halide_device_interface_t *device = nullptr;
  size_t arenaBytes = 0, cacheBytes = 0; // the reserved ranges
  tfc::DeviceMemory deviceArena, deviceCache;
  std::vector<tfc::DeviceMemory> argMemory; // by arg: a crop or a block
  std::vector<float *> pendingOutput;       // by arg: where to copy it back
  // OpenCL: a slice at an offset the device cannot take as a kernel
  // argument (kOpenCLAlign) is copied into the arg's staging block for the
  // step and back after it (argStaged: the bytes, 0 when not staged).
  bool stageUnaligned = false; // an OpenCL device
  std::vector<tfc::DeviceMemory> argStaging;
  std::vector<int64_t> argStaged;
  std::vector<uint8_t *> argSlice; // a staged arg's (reserved) host pointer
  // tfc_decode_batch: the context whose cache the current step reads.
  const tfc_context *cacheOwner = nullptr;
  ~tfc_context() {
    if (deviceArena.valid()) // kernels still queued finish first
      tfc::deviceSync(deviceArena);
    for (tfc::DeviceMemory &m : argStaging)
      tfc::deviceRelease(m);
    for (tfc::DeviceMemory &m : argMemory) // crops before their parents
      tfc::deviceRelease(m);
    tfc::deviceRelease(deviceArena);
    tfc::deviceRelease(deviceCache);
    if (device) {
      if (arena)
        munmap(arena, arenaBytes);
      if (cache)
        munmap(cache, cacheBytes);
    } else {
      std::free(arena);
      std::free(cache);
    }
  }
};

namespace {

/// Points arg `i` of ctx's descriptors at `host` with `rows` in place of N,
/// with dense strides: row-major dims [a, b, c] become Halide dims 0 = c
/// (stride 1), 1 = b, 2 = a. checkPlan made sure the extents fit int32.
void bindRows(tfc_context &ctx, int64_t i, void *host, int64_t rows) {
  const tfc_arg &a = ctx.model->args[i];
  halide_dimension_t *dim = &ctx.dims[size_t(i) * TFC_MAX_RANK];
  int64_t stride = 1;
  for (int32_t k = 0; k < a.rank; ++k) {
    int64_t extent = a.dims[a.rank - 1 - k];
    if (extent == TFC_DIM_N)
      extent = rows;
    dim[k].min = 0;
    dim[k].extent = int32_t(extent);
    dim[k].stride = int32_t(stride);
    dim[k].flags = 0;
    stride *= extent;
  }
  ctx.buffers[size_t(i)].host = static_cast<uint8_t *>(host);
}

/// Floats in one row (every extent but the leading N).
int64_t rowWidth(const tfc_arg &a) {
  int64_t width = 1;
  for (int32_t k = 1; k < a.rank; ++k)
    width *= a.dims[k];
  return width;
}

/// Arg `i` for a call of n tokens at the context's position: arena slices at
/// their offset, cache arguments from row pos (new rows) or 0 (every row
/// seen).
void patchShape(tfc_context &ctx, int64_t i, int64_t n) {
  const tfc_arg &a = ctx.model->args[i];
  void *host = ctx.buffers[size_t(i)].host;
  int64_t rows = n;
  if (a.kind == TFC_ARG_ARENA) // a last-row or batch call may have moved it
    host = ctx.arena + a.offset;
  if (a.kind == TFC_ARG_CACHE) {
    host = ctx.cache + a.offset +
           (a.rows == TFC_ROWS_NEW ? ctx.pos : 0) * rowWidth(a);
    if (a.rows == TFC_ROWS_SEEN)
      rows = ctx.pos + n;
    if (a.rows == TFC_ROWS_SOURCE && ctx.sourceLen > 0)
      rows = ctx.sourceLen;
  }
  bindRows(ctx, i, host, rows);
}

/// Bytes of a bound argument (its descriptor's extents times its type).
int64_t boundBytes(const halide_buffer_t &b) {
  int64_t count = 1;
  for (int32_t d = 0; d < b.dimensions; ++d)
    count *= b.dim[d].extent;
  return count * ((b.type.bits + 7) / 8);
}

/// A GPU model's step: points each argument of step s at device memory.
/// An argument whose descriptor has a host pointer was (re)bound by the
/// host code since the last call: an arena or cache slice becomes a crop of
/// the device arena or cache at the same offset (kept while the offset
/// stays), an input (tokens, types, mask, source, image) is copied to the
/// argument's device block, and the output's host pointer is remembered
/// for readDeviceOutputs. A descriptor without one keeps its binding.
int bindDeviceArgs(tfc_context &ctx, int32_t s) {
  const tfc_model *m = ctx.model;
  const tfc_step &step = m->steps[s];
  for (int32_t a = 0; a < step.num_args; ++a) {
    size_t i = size_t(step.first_arg + a);
    const tfc_arg &arg = m->args[i];
    halide_buffer_t &b = ctx.buffers[i];
    if (arg.kind == TFC_ARG_POS || arg.kind == TFC_ARG_WEIGHT || !b.host)
      continue;
    tfc::DeviceMemory &mem = ctx.argMemory[i];
    int rc = 0;
    if (arg.kind == TFC_ARG_ARENA || arg.kind == TFC_ARG_CACHE) {
      const tfc_context &owner =
          arg.kind == TFC_ARG_CACHE && ctx.cacheOwner ? *ctx.cacheOwner : ctx;
      const tfc::DeviceMemory &whole =
          arg.kind == TFC_ARG_ARENA ? owner.deviceArena : owner.deviceCache;
      const float *base = arg.kind == TFC_ARG_ARENA ? owner.arena : owner.cache;
      int64_t offset = int64_t(reinterpret_cast<float *>(b.host) - base) *
                       int64_t(sizeof(float));
      if (mem.parent != &whole || mem.offset != offset)
        rc = tfc::deviceCrop(whole, offset, mem);
      if (rc == 0 && ctx.stageUnaligned && offset % tfc::kOpenCLAlign != 0) {
        // Read and written through an aligned block (the copies are
        // queued on the device like the kernel).
        int64_t bytes = boundBytes(b);
        tfc::DeviceMemory &stage = ctx.argStaging[i];
        if (!stage.valid())
          rc = tfc::deviceAllocate(ctx.device,
                                   numelAt(arg, m->max_seq) *
                                       int64_t(sizeof(float)),
                                   stage);
        if (rc == 0)
          rc = tfc::deviceCopy(mem, stage, bytes);
        if (rc != 0)
          return rc;
        ctx.argStaged[i] = bytes;
        ctx.argSlice[i] = b.host;
        tfc::deviceBind(b, stage);
        continue;
      }
    } else if (arg.kind == TFC_ARG_OUTPUT) {
      ctx.pendingOutput[i] = reinterpret_cast<float *>(b.host);
    } else {
      rc = tfc::deviceWrite(mem, b.host, boundBytes(b));
    }
    if (rc != 0)
      return rc;
    tfc::deviceBind(b, mem);
  }
  return 0;
}

/// After a GPU model's step: copies its staged slices back, and its output,
/// if it has one, to the caller (waiting for the device: the call's one
/// synchronisation).
int readDeviceOutputs(tfc_context &ctx, int32_t s) {
  const tfc_model *m = ctx.model;
  const tfc_step &step = m->steps[s];
  for (int32_t a = 0; a < step.num_args; ++a) {
    size_t i = size_t(step.first_arg + a);
    if (ctx.argStaged[i] > 0) {
      int rc = tfc::deviceCopy(ctx.argStaging[i], ctx.argMemory[i],
                               ctx.argStaged[i]);
      ctx.argStaged[i] = 0;
      // Staged again when the step next runs.
      ctx.buffers[i].host = ctx.argSlice[i];
      if (rc != 0)
        return rc;
    }
    if (!ctx.pendingOutput[i])
      continue;
    float *host = ctx.pendingOutput[i];
    ctx.pendingOutput[i] = nullptr;
    int rc = tfc::deviceRead(ctx.argMemory[i], host,
                             boundBytes(ctx.buffers[i]));
    if (rc != 0)
      return rc;
  }
  return 0;
}

/// Runs step s with ctx's descriptors; on failure writes the message to
/// `error` (of `size` bytes) and returns non-zero.
int callStep(tfc_context &ctx, int32_t s, char *error, size_t size) {
  const tfc_model *m = ctx.model;
  const tfc_step &step = m->steps[s];
  const tfc_kernel &kernel = m->kernels[step.kernel];
  tlsHalideError[0] = '\0';
  if (ctx.device) {
    int rc = bindDeviceArgs(ctx, s);
    if (rc != 0) {
      std::snprintf(error, size, "step %s: cannot place its arguments on the "
                    "%s device: %s", labelOf(step), m->device_api,
                    tlsHalideError[0] ? tlsHalideError : "Halide error");
      return rc;
    }
  }
  int64_t start = ctx.profiling ? nowNs() : 0;
  int rc = kernel.fn(ctx.argv.data() + step.first_arg);
  if (rc != 0 && ctx.device) {
    // Let what was queued settle; nothing of the step is copied back, and
    // its staged slices are bound again from their pointers next time.
    tfc::deviceSync(ctx.deviceArena);
    for (int32_t a = 0; a < step.num_args; ++a) {
      size_t i = size_t(step.first_arg + a);
      if (ctx.argStaged[i] > 0)
        ctx.buffers[i].host = ctx.argSlice[i];
      ctx.argStaged[i] = 0;
      ctx.pendingOutput[i] = nullptr;
    }
  }
  // Kernels run asynchronously on a device: a profile waits for each.
  if (rc == 0 && ctx.device && ctx.profiling)
    rc = tfc::deviceSync(ctx.deviceArena);
  if (rc == 0 && ctx.device) {
    rc = readDeviceOutputs(ctx, s);
    if (rc != 0) {
      std::snprintf(error, size, "step %s: cannot read its output from the "
                    "%s device: %s", labelOf(step), m->device_api,
                    tlsHalideError[0] ? tlsHalideError : "Halide error");
      return rc;
    }
  }
  if (ctx.profiling) {
    ctx.kernelNs[size_t(step.kernel)] += nowNs() - start;
    ++ctx.kernelCalls[size_t(step.kernel)];
  }
  if (rc != 0) {
    if (tlsHalideError[0])
      std::snprintf(error, size, "kernel %s (step %s) failed: %s", kernel.name,
                    labelOf(step), tlsHalideError);
    else
      std::snprintf(error, size,
                    "kernel %s (step %s) failed: Halide error code %d",
                    kernel.name, labelOf(step), rc);
  }
  return rc;
}

/// Whether every id is in [0, vocab); otherwise ctx's error names the first
/// one out of range, `what` ("source " or "") before "token id".
bool checkTokenIds(tfc_context &ctx, const int32_t *ids, int64_t n,
                   const char *what) {
  const tfc_model *m = ctx.model;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= m->vocab) {
      std::snprintf(ctx.error, sizeof ctx.error,
                    "%stoken id %" PRId32 " at position %" PRId64
                    " is out of range [0, %" PRId64 ")",
                    what, ids[i], i, m->vocab);
      return false;
    }
  return true;
}

/// Steps that depend on one sequence's position or cache (embedding,
/// QKV, attention) run once per sequence in a batch; the others (the
/// projections, the MLP, the head) run once for all sequences.
bool perSequence(const tfc_model &m, int32_t s) {
  const tfc_step &step = m.steps[s];
  for (int32_t a = 0; a < step.num_args; ++a) {
    int32_t kind = m.args[step.first_arg + a].kind;
    if (kind == TFC_ARG_POS || kind == TFC_ARG_CACHE)
      return true;
  }
  return false;
}

} // namespace

extern "C" {

// The API's calls are thin wrappers (at the end of this file) that report a
// failure through tfc_last_error(); these do the work and leave the
// message in the context.
static int impl_append(tfc_context *ctx, const int32_t *tokens, int64_t n,
                       float *output, int all_rows);
static int impl_encode(tfc_context *ctx, const int32_t *tokens,
                       const int32_t *types, const int32_t *mask, int64_t n,
                       float *output);

namespace {

/// Where the native tensors of a model come from: a file
/// (tfc::readWeightsFile) or the random initialiser; each goes to the sink.
using TensorSource =
    std::function<bool(const tfc::TensorSink &, std::string &)>;

tfc_weights *buildWeights(const tfc_model *model, const std::string &where,
                          const TensorSource &source);

} // namespace

tfc_weights *tfc_weights_load(const tfc_model *model, const char *path) {
  std::string error;
  if (!checkPlan(model, error))
    return tfc::fail<tfc_weights *>(nullptr, error);
  if (!path)
    return tfc::fail<tfc_weights *>(nullptr, "weights path is NULL");
  std::string file = path;
  return buildWeights(model, file,
                      [&](const tfc::TensorSink &sink, std::string &e) {
                        return tfc::readWeightsFile(*model, file, sink, e);
                      });
}

tfc_weights *tfc_weights_random(const tfc_model *model, uint64_t seed) {
  std::string error;
  if (!checkPlan(model, error))
    return tfc::fail<tfc_weights *>(nullptr, error);
  return buildWeights(model,
                      "random weights (seed " + std::to_string(seed) + ")",
                      [&](const tfc::TensorSink &sink, std::string &e) {
                        return tfc::randomWeightTensors(*model, seed, sink, e);
                      });
}

namespace {

tfc_weights *buildWeights(const tfc_model *model, const std::string &where,
                          const TensorSource &source) {
  std::string error;
  const char *path = where.c_str();
  // Each plan weight's storage form and size come from the manifest's
  // shapes, so the storage is allocated before the file is read; then the
  // native tensors arrive one at a time (as f32, straight from the file's
  // dtype) and each is converted into the plan weights that read it. Peak
  // memory: the storage plus the largest converted tensor.
  std::map<std::string, int32_t> tensorOf;
  for (int32_t t = 0; t < model->num_tensors; ++t)
    tensorOf[model->tensors[t].name] = t;
  auto weights = std::make_unique<tfc_weights>();
  weights->model = model;
  std::vector<int64_t> offsets(size_t(model->num_weights));
  std::vector<tfc::WeightForm> forms(size_t(model->num_weights));
  std::multimap<int32_t, int32_t> readers; // native tensor -> plan weights
  int64_t total = 0;                       // bytes
  for (int32_t w = 0; w < model->num_weights; ++w) {
    const tfc_weight_info &info = model->weights[w];
    auto it = tensorOf.find(info.name);
    if (it == tensorOf.end())
      return tfc::fail<tfc_weights *>(
          nullptr, std::string(path) + ": tensor '" + info.name +
                       "' is used by the plan but is not in the manifest of "
                       "model '" +
                       model->name + "' (the plan and its tables disagree)");
    const tfc_tensor &t = model->tensors[it->second];
    if (!tfc::weightForm(info, std::vector<int64_t>(t.dims, t.dims + t.rank),
                         forms[size_t(w)], error))
      return tfc::fail<tfc_weights *>(nullptr, std::string(path) + ": " + error);
    offsets[size_t(w)] = total;
    total += (forms[size_t(w)].bytes + int64_t(kAlign) - 1) /
             int64_t(kAlign) * int64_t(kAlign);
    readers.emplace(it->second, w);
  }
  weights->storage = static_cast<uint8_t *>(allocBytes(total));
  if (!weights->storage)
    return tfc::fail<tfc_weights *>(
        nullptr, std::string(path) + ": out of memory for " +
                     std::to_string(total) + " bytes of weights");
  weights->tensors.resize(size_t(model->num_weights));
  bool ok = source(
      [&](int32_t tensor, const float *data, std::string &e) {
        auto [first, last] = readers.equal_range(tensor);
        for (auto r = first; r != last; ++r) {
          int32_t w = r->second;
          uint8_t *dst = weights->storage + offsets[size_t(w)];
          if (!tfc::storeWeight(model->weights[w], forms[size_t(w)], data, dst,
                                e)) {
            e = std::string(path) + ": " + e;
            return false;
          }
          weights->tensors[size_t(w)] = dst;
        }
        return true;
      },
      error);
  if (!ok)
    return tfc::fail<tfc_weights *>(nullptr, error);
  if (model->device_interface) {
    // A GPU model: every weight goes to the device once, here; the host
    // copy is freed.
    halide_set_error_handler(recordHalideError);
    // The kernels' temporaries (a norm's statistics, the decode products'
    // slices, ...) are device allocations per call: Halide keeps freed ones
    // for reuse instead of returning each to the driver.
    halide_reuse_device_allocations(nullptr, true);
    weights->device = model->device_interface();
    weights->onDevice.resize(size_t(model->num_weights));
    for (int32_t w = 0; w < model->num_weights; ++w) {
      tlsHalideError[0] = '\0';
      if (tfc::deviceUpload(weights->device, weights->tensors[size_t(w)],
                            forms[size_t(w)].bytes,
                            weights->onDevice[size_t(w)]) != 0) {
        tfc::setLastError(
                 std::string(path) + ": cannot upload weight '" +
                     model->weights[w].name + "' (" +
                     std::to_string(forms[size_t(w)].bytes) + " bytes) to the " +
                     model->device_api + " device: " +
                     (tlsHalideError[0] ? tlsHalideError : "Halide error"));
        return nullptr;
      }
      weights->tensors[size_t(w)] = nullptr;
    }
    std::free(weights->storage);
    weights->storage = nullptr;
  }
  return weights.release();
}

} // namespace

void tfc_weights_free(tfc_weights *weights) { delete weights; }

tfc_context_params tfc_context_default_params(void) {
  tfc_context_params p;
  p.threads = 0;
  p.profile = 0;
  return p;
}

tfc_context *tfc_context_create(const tfc_weights *weights,
                                const tfc_context_params *params) {
  tfc_context_params defaults = tfc_context_default_params();
  if (!params)
    params = &defaults;
  int threads = params->threads;
  if (!weights)
    return tfc::fail<tfc_context *>(nullptr, "weights are NULL");
  if (threads < 0)
    return tfc::fail<tfc_context *>(
        nullptr, "thread count " + std::to_string(threads) +
                     " is negative (0 = the number of cores)");
  // The kernels' pool is process-wide: the first context sizes it.
  int pool = installHalideOnce(threads);
  if (threads > 0 && threads != pool)
    return tfc::fail<tfc_context *>(
        nullptr, "thread count " + std::to_string(threads) +
                     ": the kernels' thread pool already has " +
                     std::to_string(pool) +
                     " threads (the first context in a process sizes it; "
                     "ask for 0 or " + std::to_string(pool) + ")");
  const tfc_model *model = weights->model;
  auto ctx = std::make_unique<tfc_context>();
  ctx->model = model;
  ctx->weights = weights;
  ctx->device = weights->device;
  ctx->stageUnaligned =
      ctx->device && std::strcmp(model->device_api, "opencl") == 0;
  if (ctx->device) {
    ctx->arena = reserveFloats(model->arena_floats, ctx->arenaBytes);
    ctx->cache = reserveFloats(model->cache_floats, ctx->cacheBytes);
    tlsHalideError[0] = '\0';
    if (ctx->arena && ctx->cache &&
        (tfc::deviceAllocate(ctx->device, int64_t(ctx->arenaBytes),
                             ctx->deviceArena) != 0 ||
         tfc::deviceAllocate(ctx->device, int64_t(ctx->cacheBytes),
                             ctx->deviceCache) != 0)) {
      tfc::setLastError(
               std::string("cannot allocate an arena of ") +
                   std::to_string(ctx->arenaBytes) + " bytes and a KV cache of " +
                   std::to_string(ctx->cacheBytes) + " bytes on the " +
                   model->device_api + " device: " +
                   (tlsHalideError[0] ? tlsHalideError : "Halide error"));
      return nullptr;
    }
  } else {
    ctx->arena = allocFloats(model->arena_floats);
    ctx->cache = allocFloats(std::max<int64_t>(model->cache_floats, 1));
  }
  if (!ctx->arena || !ctx->cache) {
    tfc::setLastError(
             "out of memory for an arena of " +
                 std::to_string(model->arena_floats) +
                 " floats and a KV cache of " +
                 std::to_string(model->cache_floats) + " floats");
    return nullptr;
  }

  int64_t count = argCount(*model);
  ctx->buffers.resize(size_t(count));
  ctx->dims.resize(size_t(count) * TFC_MAX_RANK);
  ctx->argv.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    const tfc_arg &a = model->args[i];
    halide_buffer_t &b = ctx->buffers[size_t(i)];
    b = halide_buffer_t(); // no device, no flags
    b.type.code = halide_type_float;
    b.type.bits = 32;
    b.type.lanes = 1;
    b.dimensions = a.rank;
    b.dim = &ctx->dims[size_t(i) * TFC_MAX_RANK];
    switch (a.kind) {
    case TFC_ARG_TOKENS:
      b.type.code = halide_type_int;
      ctx->tokenArgs.push_back(int32_t(i));
      break;
    case TFC_ARG_TYPES:
      b.type.code = halide_type_int;
      ctx->typeArgs.push_back(int32_t(i));
      break;
    case TFC_ARG_MASK:
      b.type.code = halide_type_int;
      ctx->maskArgs.push_back(int32_t(i));
      break;
    case TFC_ARG_IMAGE:
      ctx->imageArgs.push_back(int32_t(i));
      break;
    case TFC_ARG_SOURCE:
      b.type.code = halide_type_int;
      ctx->sourceArgs.push_back(int32_t(i));
      break;
    case TFC_ARG_WEIGHT: {
      b.host = static_cast<uint8_t *>(weights->tensors[size_t(a.index)]);
      const tfc_weight_info &info = model->weights[a.index];
      bool half = !info.scales && (info.dtype == TFC_DTYPE_F16 ||
                                   info.dtype == TFC_DTYPE_BF16);
      if (half && model->device_interface) {
        // GPU kernels read 16-bit weights as their bits (uint16) and
        // decode them with integer operations.
        b.type.code = halide_type_uint;
        b.type.bits = 16;
      } else if (!info.scales && info.dtype == TFC_DTYPE_F16) {
        b.type.bits = 16;
      } else if (!info.scales && info.dtype == TFC_DTYPE_BF16) {
        b.type.code = halide_type_bfloat;
        b.type.bits = 16;
      } else if (!info.scales && info.dtype == TFC_DTYPE_I8) {
        b.type.code = halide_type_int;
        b.type.bits = 8;
      }
      break;
    }
    case TFC_ARG_ARENA:
      b.host = reinterpret_cast<uint8_t *>(ctx->arena + a.offset);
      break;
    case TFC_ARG_OUTPUT:
      ctx->outputArgs.push_back(int32_t(i));
      break;
    case TFC_ARG_CACHE:
      break; // host set by patchShape
    }
    ctx->argv[size_t(i)] = &ctx->buffers[size_t(i)];
    if (a.kind == TFC_ARG_POS) {
      ctx->argv[size_t(i)] = &ctx->posValue;
      continue;
    }
    if (hasDimN(a))
      ctx->dynamicArgs.push_back(int32_t(i));
    patchShape(*ctx, i, model->max_seq);
  }
  if (ctx->device) {
    // Weights are bound once; inputs and the output get a device block of
    // their size at max_seq; arena and cache slices are crops, made when
    // a step first runs (bindDeviceArgs).
    ctx->argMemory.resize(size_t(count));
    ctx->argStaging.resize(size_t(count));
    ctx->argStaged.assign(size_t(count), 0);
    ctx->argSlice.assign(size_t(count), nullptr);
    ctx->pendingOutput.assign(size_t(count), nullptr);
    for (int64_t i = 0; i < count; ++i) {
      const tfc_arg &a = model->args[i];
      halide_buffer_t &b = ctx->buffers[size_t(i)];
      if (a.kind == TFC_ARG_WEIGHT) {
        tfc::deviceBind(b, weights->onDevice[size_t(a.index)]);
        continue;
      }
      if (a.kind == TFC_ARG_POS || a.kind == TFC_ARG_ARENA ||
          a.kind == TFC_ARG_CACHE)
        continue;
      int64_t bytes = numelAt(a, model->max_seq) * ((b.type.bits + 7) / 8);
      tlsHalideError[0] = '\0';
      if (tfc::deviceAllocate(ctx->device, bytes,
                              ctx->argMemory[size_t(i)]) != 0) {
        tfc::setLastError(
                 std::string("cannot allocate ") + std::to_string(bytes) +
                     " bytes on the " + model->device_api + " device: " +
                     (tlsHalideError[0] ? tlsHalideError : "Halide error"));
        return nullptr;
      }
    }
  }
  for (int32_t s = 0; s < model->num_steps; ++s)
    for (int32_t i = 0; i < model->steps[s].num_args; ++i)
      if (model->args[model->steps[s].first_arg + i].kind == TFC_ARG_OUTPUT)
        ctx->outputStep = s;
  ctx->kernelCalls.assign(size_t(model->num_kernels), 0);
  ctx->kernelNs.assign(size_t(model->num_kernels), 0);
  if (model->family == TFC_FAMILY_ENCODER) {
    ctx->zeros.assign(size_t(model->max_seq), 0);
    ctx->ones.assign(size_t(model->max_seq), 1);
  }

  ctx->profiling = params->profile != 0;
  return ctx.release();
}

void tfc_context_destroy(tfc_context *ctx) { delete ctx; }

static int impl_forward(tfc_context *ctx, const int32_t *tokens, int64_t n,
                float *output) {
  if (!ctx)
    return 1;
  if (ctx->model->family == TFC_FAMILY_ENCODER)
    return impl_encode(ctx, tokens, nullptr, nullptr, n, output);
  if (ctx->model->family == TFC_FAMILY_VIT)
    return impl_append(ctx, tokens, n, output, 1); // says: tfc_classify
  ctx->pos = 0;
  return impl_append(ctx, tokens, n, output, 1);
}

static int impl_set_source(tfc_context *ctx, const int32_t *source, int64_t s) {
  if (!ctx)
    return 1;
  const tfc_model *m = ctx->model;
  ctx->error[0] = '\0';
  if (m->family != TFC_FAMILY_ENCODER_DECODER) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "model '%s' is not an encoder-decoder: it takes no source",
                  m->name ? m->name : "?");
    return 1;
  }
  if (!source) {
    std::snprintf(ctx->error, sizeof ctx->error, "source is NULL");
    return 1;
  }
  if (s < 1 || s > m->max_seq) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "source of %" PRId64 " tokens: need 1 to max_seq %" PRId64,
                  s, m->max_seq);
    return 1;
  }
  if (!checkTokenIds(*ctx, source, s, "source "))
    return 1;
  // The source steps run at pos 0 over the S source rows; the target
  // starts over (its keys attended to the old source).
  ctx->pos = 0;
  ctx->sourceLen = 0;
  ctx->posValue = 0;
  for (int32_t i : ctx->dynamicArgs)
    patchShape(*ctx, i, s);
  for (int32_t i : ctx->sourceArgs)
    ctx->buffers[size_t(i)].host =
        reinterpret_cast<uint8_t *>(const_cast<int32_t *>(source));
  for (int32_t st = 0; st < m->num_source_steps; ++st)
    if (callStep(*ctx, st, ctx->error, sizeof ctx->error) != 0)
      return 1;
  ctx->sourceLen = s;
  return 0;
}

int64_t tfc_source_length(const tfc_context *ctx) {
  return ctx ? ctx->sourceLen : tfc::fail<int64_t>(-1, "context is NULL");
}

int tfc_reset(tfc_context *ctx) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->pos = 0; // an encoder-decoder keeps its source
  return 0;
}

int64_t tfc_position(const tfc_context *ctx) {
  return ctx ? ctx->pos : tfc::fail<int64_t>(-1, "context is NULL");
}

namespace {

/// Checks an encoder call's types and mask (NULL: the defaults); writes
/// ctx->error and returns false on bad input.
bool checkEncoderInputs(tfc_context *ctx, const int32_t *types,
                        const int32_t *mask, int64_t n, const char *where) {
  const tfc_model *m = ctx->model;
  for (int64_t i = 0; types && i < n; ++i)
    if (types[i] < 0 || types[i] >= std::max<int64_t>(m->type_vocab, 1)) {
      std::snprintf(ctx->error, sizeof ctx->error,
                    "%stoken type %" PRId32 " at position %" PRId64
                    " is out of range [0, %" PRId64 ")%s",
                    where, types[i], i, std::max<int64_t>(m->type_vocab, 1),
                    m->type_vocab ? "" : " (the model has no token types)");
      return false;
    }
  bool any = !mask;
  for (int64_t i = 0; mask && i < n; ++i) {
    if (mask[i] != 0 && mask[i] != 1) {
      std::snprintf(ctx->error, sizeof ctx->error,
                    "%sattention mask entry %" PRId32 " at position %" PRId64
                    " must be 0 (padding) or 1 (a token)",
                    where, mask[i], i);
      return false;
    }
    any = any || mask[i] == 1;
  }
  if (!any) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "%sattention mask of %" PRId64
                  " entries has no 1: no token to attend to",
                  where, n);
    return false;
  }
  return true;
}

int runTokens(tfc_context *ctx, const int32_t *tokens, const int32_t *types,
              const int32_t *mask, int64_t n, float *output, int all_rows);

} // namespace

static int impl_classify(tfc_context *ctx, const float *image, float *logits) {
  if (!ctx)
    return 1;
  const tfc_model *m = ctx->model;
  ctx->error[0] = '\0';
  if (m->family != TFC_FAMILY_VIT) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "model '%s' is not an image classifier (tfc_classify "
                  "takes a ViT)",
                  m->name ? m->name : "?");
    return 1;
  }
  if (!image || !logits) {
    std::snprintf(ctx->error, sizeof ctx->error, "%s is NULL",
                  !image ? "image" : "logits");
    return 1;
  }
  ctx->pos = 0;
  ctx->posValue = 0;
  for (int32_t i : ctx->dynamicArgs)
    patchShape(*ctx, i, m->max_seq);
  for (int32_t i : ctx->imageArgs)
    ctx->buffers[size_t(i)].host =
        reinterpret_cast<uint8_t *>(const_cast<float *>(image));
  for (int32_t i : ctx->outputArgs)
    ctx->buffers[size_t(i)].host = reinterpret_cast<uint8_t *>(logits);
  for (int32_t s = 0; s < m->num_steps; ++s)
    if (callStep(*ctx, s, ctx->error, sizeof ctx->error) != 0)
      return 1;
  return 0;
}

static int impl_append(tfc_context *ctx, const int32_t *tokens, int64_t n,
               float *output, int all_rows) {
  if (!ctx)
    return 1;
  if (ctx->model->family == TFC_FAMILY_VIT) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "model '%s' is an image classifier: use tfc_classify",
                  ctx->model->name ? ctx->model->name : "?");
    return 1;
  }
  if (ctx->model->family == TFC_FAMILY_ENCODER) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "model '%s' is an encoder: it has no KV cache to append "
                  "to (use tfc_encode or tfc_forward)",
                  ctx->model->name ? ctx->model->name : "?");
    return 1;
  }
  return runTokens(ctx, tokens, nullptr, nullptr, n, output, all_rows);
}

static int impl_encode(tfc_context *ctx, const int32_t *tokens, const int32_t *types,
               const int32_t *mask, int64_t n, float *output) {
  if (!ctx)
    return 1;
  ctx->error[0] = '\0';
  if (ctx->model->family != TFC_FAMILY_ENCODER) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "model '%s' is not an encoder (tfc_encode takes token "
                  "types and a mask; use tfc_forward)",
                  ctx->model->name ? ctx->model->name : "?");
    return 1;
  }
  if (tokens && n >= 1 && n <= ctx->model->max_seq &&
      !checkEncoderInputs(ctx, types, mask, n, ""))
    return 1;
  ctx->pos = 0;
  int rc = runTokens(ctx, tokens, types, mask, n, output, 1);
  ctx->pos = 0; // an encoder keeps no state between calls
  return rc;
}

static int impl_encode_batch(tfc_context *ctx, int32_t b, int64_t n,
                     const int32_t *tokens, const int32_t *types,
                     const int32_t *mask, float *output) {
  if (!ctx)
    return 1;
  ctx->error[0] = '\0';
  if (b < 1) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "batch of %" PRId32 " sequences: need at least 1", b);
    return 1;
  }
  if (!tokens || !output) {
    std::snprintf(ctx->error, sizeof ctx->error, "%s is NULL",
                  !tokens ? "tokens" : "output");
    return 1;
  }
  // Each sequence's output: n rows of hidden states, or one pooled row.
  int64_t rowFloats = tfc_output_rows(ctx->model, n) * ctx->model->output_cols;
  for (int32_t i = 0; i < b; ++i) {
    int64_t at = int64_t(i) * n;
    if (impl_encode(ctx, tokens + at, types ? types + at : nullptr,
                   mask ? mask + at : nullptr, n, output + i * rowFloats) != 0) {
      std::string why = ctx->error;
      std::snprintf(ctx->error, sizeof ctx->error, "sequence %" PRId32 ": %s",
                    i, why.c_str());
      return 1;
    }
  }
  return 0;
}

static int impl_pool(const tfc_model *model, const float *hidden, int64_t n,
             const int32_t *mask, int pool, float *out) {
  if (!model || !hidden || !out || n < 1 ||
      (pool != TFC_POOL_CLS && pool != TFC_POOL_MEAN))
    return 1;
  int64_t cols = model->output_cols;
  if (pool == TFC_POOL_CLS) {
    std::copy(hidden, hidden + cols, out);
    return 0;
  }
  int64_t count = 0;
  std::fill(out, out + cols, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] == 0)
      continue;
    ++count;
    for (int64_t c = 0; c < cols; ++c)
      out[c] += hidden[i * cols + c];
  }
  if (count == 0)
    return 1;
  for (int64_t c = 0; c < cols; ++c)
    out[c] /= float(count);
  return 0;
}

namespace {

int runTokens(tfc_context *ctx, const int32_t *tokens, const int32_t *types,
              const int32_t *mask, int64_t n, float *output, int all_rows) {
  const tfc_model *m = ctx->model;
  ctx->error[0] = '\0';
  if (!tokens || !output) {
    std::snprintf(ctx->error, sizeof ctx->error, "%s is NULL",
                  !tokens ? "tokens" : "output");
    return 1;
  }
  if (m->family == TFC_FAMILY_ENCODER_DECODER && ctx->sourceLen == 0) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "model '%s' is an encoder-decoder: set its source with "
                  "tfc_set_source before running target tokens",
                  m->name ? m->name : "?");
    return 1;
  }
  if (n < 1) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "sequence of %" PRId64 " tokens: need at least 1", n);
    return 1;
  }
  if (ctx->pos == 0 && n > m->max_seq) {
    std::snprintf(ctx->error, sizeof ctx->error,
                  "sequence of %" PRId64 " tokens exceeds max_seq %" PRId64, n,
                  m->max_seq);
    return 1;
  }
  if (n > m->max_seq - ctx->pos) { // pos <= max_seq: no overflow
    std::snprintf(ctx->error, sizeof ctx->error,
                  "KV cache overflow: %" PRId64 " cached + %" PRId64
                  " new tokens exceed max_seq %" PRId64
                  " (tfc_reset starts a new sequence)",
                  ctx->pos, n, m->max_seq);
    return 1;
  }
  if (!checkTokenIds(*ctx, tokens, n, ""))
    return 1;

  // Extents depend on n and, for the cache, on pos: patch every dynamic
  // argument (a few stores each; nothing is allocated).
  ctx->posValue = int32_t(ctx->pos);
  for (int32_t i : ctx->dynamicArgs)
    patchShape(*ctx, i, n);
  // Halide does not write through input buffers; the cast only fits the
  // struct's field type.
  for (int32_t i : ctx->tokenArgs)
    ctx->buffers[size_t(i)].host =
        reinterpret_cast<uint8_t *>(const_cast<int32_t *>(tokens));
  for (int32_t i : ctx->outputArgs)
    ctx->buffers[size_t(i)].host = reinterpret_cast<uint8_t *>(output);
  for (int32_t i : ctx->typeArgs)
    ctx->buffers[size_t(i)].host = reinterpret_cast<uint8_t *>(
        const_cast<int32_t *>(types ? types : ctx->zeros.data()));
  for (int32_t i : ctx->maskArgs)
    ctx->buffers[size_t(i)].host = reinterpret_cast<uint8_t *>(
        const_cast<int32_t *>(mask ? mask : ctx->ones.data()));
  if (!all_rows && ctx->outputStep >= 0) {
    // Only the last row's output: the step that writes it reads the last
    // row of its [N, ...] inputs and writes one row.
    const tfc_step &step = m->steps[ctx->outputStep];
    for (int32_t a = 0; a < step.num_args; ++a) {
      int32_t i = step.first_arg + a;
      const tfc_arg &arg = m->args[i];
      if (!hasDimN(arg) || arg.kind == TFC_ARG_CACHE)
        continue;
      patchShape(*ctx, i, 1);
      if (arg.kind == TFC_ARG_ARENA) {
        int64_t width = numelAt(arg, 1);
        ctx->buffers[size_t(i)].host = reinterpret_cast<uint8_t *>(
            ctx->arena + arg.offset + (n - 1) * width);
      }
    }
  }

  for (int32_t s = m->num_source_steps; s < m->num_steps; ++s)
    if (callStep(*ctx, s, ctx->error, sizeof ctx->error) != 0)
      return 1;
  ctx->pos += n;
  return 0;
}

/// After a batch: the lead's crops of other contexts' device caches go (a
/// context may be destroyed before the lead).
void releaseForeignCrops(tfc_context &lead) {
  for (size_t i = 0; i < lead.argMemory.size(); ++i) {
    tfc::DeviceMemory &m = lead.argMemory[i];
    if (m.isCrop && m.parent != &lead.deviceArena &&
        m.parent != &lead.deviceCache) {
      tfc::deviceRelease(m);
      // Rebound from the host pointer at the next call (patchShape).
      lead.buffers[i].device = 0;
    }
  }
}

} // namespace

static int impl_decode_batch(tfc_context *const *ctxs, int32_t b, const int32_t *tokens,
                     float *output) {
  if (!ctxs || !ctxs[0])
    return 1;
  tfc_context &lead = *ctxs[0];
  const tfc_model *m = lead.model;
  lead.error[0] = '\0';
  if (m->family != TFC_FAMILY_DECODER) {
    std::snprintf(lead.error, sizeof lead.error,
                  "model '%s' is not a decoder: it does not decode",
                  m->name ? m->name : "?");
    return 1;
  }
  if (b < 1) {
    std::snprintf(lead.error, sizeof lead.error,
                  "batch of %" PRId32 " sequences: need at least 1", b);
    return 1;
  }
  if (!tokens || !output) {
    std::snprintf(lead.error, sizeof lead.error, "%s is NULL",
                  !tokens ? "tokens" : "output");
    return 1;
  }
  if (b > m->max_seq) {
    std::snprintf(lead.error, sizeof lead.error,
                  "batch of %" PRId32 " sequences exceeds max_seq %" PRId64
                  " (the arena holds max_seq rows)",
                  b, m->max_seq);
    return 1;
  }
  for (int32_t i = 0; i < b; ++i) {
    const tfc_context *c = ctxs[i];
    if (!c || c->weights != lead.weights) {
      std::snprintf(lead.error, sizeof lead.error, "sequence %" PRId32 ": %s",
                    i,
                    c ? "its context uses other weights" : "context is NULL");
      return 1;
    }
    for (int32_t j = 0; j < i; ++j)
      if (ctxs[j] == c) {
        std::snprintf(lead.error, sizeof lead.error,
                      "sequences %" PRId32 " and %" PRId32 " share one context",
                      j, i);
        return 1;
      }
    if (c->pos + 1 > m->max_seq) {
      std::snprintf(lead.error, sizeof lead.error,
                    "sequence %" PRId32 ": KV cache overflow: %" PRId64
                    " cached + 1 new token exceed max_seq %" PRId64,
                    i, c->pos, m->max_seq);
      return 1;
    }
    if (tokens[i] < 0 || tokens[i] >= m->vocab) {
      std::snprintf(lead.error, sizeof lead.error,
                    "sequence %" PRId32 ": token id %" PRId32
                    " is out of range [0, %" PRId64 ")",
                    i, tokens[i], m->vocab);
      return 1;
    }
  }
  // The lead context's arena holds the b rows (one per sequence) of every
  // activation; each sequence keeps its own KV cache and position.
  for (int32_t s = 0; s < m->num_steps; ++s) {
    const tfc_step &step = m->steps[s];
    bool each = perSequence(*m, s);
    for (int32_t seq = 0; seq < (each ? b : 1); ++seq) {
      tfc_context &c = *ctxs[seq];
      for (int32_t a = 0; a < step.num_args; ++a) {
        int64_t i = step.first_arg + a;
        const tfc_arg &arg = m->args[i];
        if (!hasDimN(arg) && arg.kind != TFC_ARG_POS)
          continue;
        int64_t rows = each ? 1 : b, first = each ? seq : 0;
        switch (arg.kind) {
        case TFC_ARG_TOKENS:
          bindRows(lead, i, const_cast<int32_t *>(tokens) + first, rows);
          break;
        case TFC_ARG_ARENA:
          bindRows(lead, i, lead.arena + arg.offset + first * rowWidth(arg),
                   rows);
          break;
        case TFC_ARG_OUTPUT:
          bindRows(lead, i, output + first * m->output_cols, rows);
          break;
        case TFC_ARG_CACHE: {
          // This sequence's cache: the new row at its position, or every row
          // up to and including it.
          float *base = c.cache + arg.offset;
          if (arg.rows == TFC_ROWS_NEW)
            bindRows(lead, i, base + c.pos * rowWidth(arg), 1);
          else
            bindRows(lead, i, base, c.pos + 1);
          break;
        }
        case TFC_ARG_POS:
          lead.posValue = int32_t(c.pos);
          lead.argv[size_t(i)] = &lead.posValue;
          break;
        default:
          break;
        }
      }
      lead.cacheOwner = &c; // a GPU step reads this sequence's device cache
      int rc = callStep(lead, s, lead.error, sizeof lead.error);
      lead.cacheOwner = nullptr;
      if (rc != 0) {
        releaseForeignCrops(lead);
        return 1;
      }
    }
  }
  releaseForeignCrops(lead);
  for (int32_t i = 0; i < b; ++i)
    ++ctxs[i]->pos;
  // The next tfc_append re-patches every dynamic descriptor of the lead.
  return 0;
}

int64_t tfc_output_cols(const tfc_model *model) {
  return model ? model->output_cols : tfc::fail<int64_t>(-1, "model is NULL");
}

int64_t tfc_output_rows(const tfc_model *model, int64_t n) {
  if (!model)
    return tfc::fail<int64_t>(-1, "model is NULL");
  for (int32_t s = 0; s < model->num_steps; ++s)
    for (int32_t a = 0; a < model->steps[s].num_args; ++a) {
      const tfc_arg &arg = model->args[model->steps[s].first_arg + a];
      if (arg.kind == TFC_ARG_OUTPUT)
        return hasDimN(arg) ? n : 1;
    }
  return n;
}
const char *tfc_device_api(const tfc_model *model) {
  return model && model->device_interface ? model->device_api : nullptr;
}

int tfc_select_device(int index) {
  if (index < 0)
    return tfc::fail(1, "device index " + std::to_string(index) +
                            " is negative (0 = the first device)");
  halide_set_gpu_device(index);
  return 0;
}

int64_t tfc_max_seq(const tfc_model *model) {
  return model ? model->max_seq : tfc::fail<int64_t>(-1, "model is NULL");
}
int64_t tfc_vocab(const tfc_model *model) {
  return model ? model->vocab : tfc::fail<int64_t>(-1, "model is NULL");
}
const char *tfc_model_name(const tfc_model *model) {
  return model ? model->name : tfc::fail<const char *>(nullptr, "model is NULL");
}
int tfc_model_family(const tfc_model *model) {
  return model ? model->family : tfc::fail(-1, "model is NULL");
}
const char *tfc_model_tokenizer(const tfc_model *model) {
  if (!model)
    return tfc::fail<const char *>(nullptr, "model is NULL");
  return model->tokenizer ? model->tokenizer : "none";
}

int tfc_profile_enable(tfc_context *ctx, int enable) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  // Enabling starts a new measurement.
  if (enable) {
    std::fill(ctx->kernelCalls.begin(), ctx->kernelCalls.end(), 0);
    std::fill(ctx->kernelNs.begin(), ctx->kernelNs.end(), 0);
  }
  ctx->profiling = enable != 0;
  return 0;
}

int tfc_profile_print(const tfc_context *ctx, FILE *out) {
  if (!out)
    out = stdout;
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  const tfc_model *m = ctx->model;
  std::vector<int32_t> order;
  int64_t totalNs = 0, totalCalls = 0;
  for (int32_t k = 0; k < m->num_kernels; ++k)
    if (ctx->kernelCalls[size_t(k)]) {
      order.push_back(k);
      totalNs += ctx->kernelNs[size_t(k)];
      totalCalls += ctx->kernelCalls[size_t(k)];
    }
  if (order.empty()) {
    std::fprintf(out, "profile: no kernel calls recorded "
                      "(tfc_profile_enable before tfc_forward)\n");
    return 0;
  }
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return ctx->kernelNs[size_t(a)] > ctx->kernelNs[size_t(b)];
  });
  size_t width = 6;
  for (int32_t k : order)
    width = std::max(width, std::strlen(m->kernels[k].name));
  int w = int(width);
  std::fprintf(out, "%-*s %8s %12s %7s\n", w, "kernel", "calls", "total ms",
               "share");
  for (int32_t k : order) {
    double ns = double(ctx->kernelNs[size_t(k)]);
    std::fprintf(out, "%-*s %8" PRId64 " %12.3f %6.1f%%\n", w,
                 m->kernels[k].name, ctx->kernelCalls[size_t(k)], ns / 1e6,
                 totalNs ? 100.0 * ns / double(totalNs) : 0.0);
  }
  std::fprintf(out, "%-*s %8" PRId64 " %12.3f %6.1f%%\n", w, "total",
               totalCalls, double(totalNs) / 1e6, 100.0);
  return 0;
}

// --- The API's calls that run kernels: the message a failure leaves in the
// context becomes the thread's tfc_last_error(). -----------------------------

static int reported(const tfc_context *ctx, int rc) {
  if (rc != 0)
    tfc::setLastError(ctx->error[0] ? ctx->error : "the call failed");
  return rc;
}

int tfc_forward(tfc_context *ctx, const int32_t *tokens, int64_t n,
                float *output) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->error[0] = '\0';
  return reported(ctx, impl_forward(ctx, tokens, n, output));
}

int tfc_append(tfc_context *ctx, const int32_t *tokens, int64_t n,
               float *output, int all_rows) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->error[0] = '\0';
  return reported(ctx, impl_append(ctx, tokens, n, output, all_rows));
}

int tfc_set_source(tfc_context *ctx, const int32_t *source, int64_t s) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->error[0] = '\0';
  return reported(ctx, impl_set_source(ctx, source, s));
}

int tfc_classify(tfc_context *ctx, const float *image, float *logits) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->error[0] = '\0';
  return reported(ctx, impl_classify(ctx, image, logits));
}

int tfc_encode(tfc_context *ctx, const int32_t *tokens, const int32_t *types,
               const int32_t *mask, int64_t n, float *output) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->error[0] = '\0';
  return reported(ctx, impl_encode(ctx, tokens, types, mask, n, output));
}

int tfc_encode_batch(tfc_context *ctx, int32_t b, int64_t n,
                     const int32_t *tokens, const int32_t *types,
                     const int32_t *mask, float *output) {
  if (!ctx)
    return tfc::fail(1, "context is NULL");
  ctx->error[0] = '\0';
  return reported(ctx,
                  impl_encode_batch(ctx, b, n, tokens, types, mask, output));
}

int tfc_decode_batch(tfc_context *const *ctxs, int32_t b,
                     const int32_t *tokens, float *output) {
  if (!ctxs || !ctxs[0])
    return tfc::fail(1, ctxs ? "sequence 0: context is NULL"
                             : "contexts are NULL");
  ctxs[0]->error[0] = '\0';
  return reported(ctxs[0], impl_decode_batch(ctxs, b, tokens, output));
}

int tfc_pool(const tfc_model *model, const float *hidden, int64_t n,
             const int32_t *mask, int pool, float *out) {
  if (!model || !hidden || !out)
    return tfc::fail(1, std::string(!model    ? "model"
                                    : !hidden ? "hidden"
                                              : "out") +
                            " is NULL");
  if (n < 1)
    return tfc::fail(1, "pooling " + std::to_string(n) +
                            " rows: need at least 1");
  if (pool != TFC_POOL_CLS && pool != TFC_POOL_MEAN)
    return tfc::fail(1, "pool " + std::to_string(pool) +
                            " is not TFC_POOL_CLS (0) or TFC_POOL_MEAN (1)");
  if (impl_pool(model, hidden, n, mask, pool, out) != 0)
    return tfc::fail(1, "mask has no 1: no token to average");
  return 0;
}

} // extern "C"

namespace tfc {
const tfc_model *contextModel(const tfc_context *ctx) {
  return ctx ? ctx->model : nullptr;
}
} // namespace tfc
