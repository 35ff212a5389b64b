//===- RuntimeTest.cpp - The runtime walking a hand-built plan ------------===//
//
// A mock compiled model: a 2-step plan (embed: x = tok_embed[tokens] +
// pos_embed[n] into an arena slice; head: logits = x tok_embed^T into the
// output) with hand-written kernels of the Halide `_argv` signature, over a
// tiny decoder spec whose weights InitWeights writes. The kernels read the
// halide_buffer_t descriptors the runtime builds, so the tests check the
// descriptors (types, extents, strides) as well as the values. Also here:
// main() of compiled executables (tfc_main.cpp built without its main).
//
//===----------------------------------------------------------------------===//
#include "tfc_plan.h"
#include "tfc_runtime.h"
#include "ApiError.h"
#include "Scratch.h"
#include "ThreadPool.h"

#include "spec/SpecParser.h"
#include "weights/InitWeights.h"
#include "weights/Layouts.h"

#include <HalideRuntime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tfc {
int runMain(int argc, char **argv);
}

// --- Allocation counting -----------------------------------------------------
// Every operator new, and (outside ASan, which owns malloc) every malloc,
// calloc, realloc and aligned_alloc of the process bumps a counter while
// counting is on.
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
void noteAllocation() {
  if (counting.load(std::memory_order_relaxed))
    allocations.fetch_add(1, std::memory_order_relaxed);
}
} // namespace

void *operator new(size_t size) {
  noteAllocation();
  if (void *p = std::malloc(size ? size : 1))
    return p;
  throw std::bad_alloc();
}
void *operator new[](size_t size) { return operator new(size); }
// The nothrow forms too (std::stable_sort's buffer uses them): every form
// must pair with the free() below, or ASan reports a mismatch.
void *operator new(size_t size, const std::nothrow_t &) noexcept {
  noteAllocation();
  return std::malloc(size ? size : 1);
}
void *operator new[](size_t size, const std::nothrow_t &tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept {
  std::free(p);
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t) noexcept { std::free(p); }

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kCountsMalloc = false;
#else
constexpr bool kCountsMalloc = true;
extern "C" {
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void __libc_free(void *);
void *malloc(size_t size) {
  noteAllocation();
  return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
  noteAllocation();
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
  noteAllocation();
  return __libc_realloc(p, size);
}
void *aligned_alloc(size_t align, size_t size) {
  noteAllocation();
  return __libc_memalign(align, size);
}
void free(void *p) { __libc_free(p); }
}
#endif

namespace {

// --- The mock model
// ------------------------------------------------------------
constexpr int64_t V = 11, D = 4, S = 6; // vocab, d_model, max_seq
constexpr int64_t kArenaOffset = 8;     // x lives at arena + 8
constexpr int kThreads = 2;             // every test's contexts: see
                                        // FirstContextFixesHalideThreads

const char *kSpecYaml = R"(name: mock-decoder
family: decoder
dims:
  vocab: 11
  d_model: 4
  n_layers: 1
  n_heads: 1
  d_ff: 8
  max_seq: 6
)";

bool fail(const char *msg) {
  halide_error(nullptr, msg);
  return false;
}

/// Checks a buffer the way a Halide pipeline checks its arguments.
bool isDense(const halide_buffer_t *b, halide_type_code_t code, int rank,
             const int64_t *rowMajor) {
  if (b->type.code != code || b->type.bits != 32 || b->type.lanes != 1 ||
      b->dimensions != rank || !b->host || b->device || b->device_interface)
    return false;
  int64_t stride = 1;
  for (int k = 0; k < rank; ++k) {
    if (b->dim[k].min != 0 || b->dim[k].extent != rowMajor[rank - 1 - k] ||
        b->dim[k].stride != stride)
      return false;
    stride *= rowMajor[rank - 1 - k];
  }
  return true;
}

/// tokens [N], tok_embed [V, D], pos_embed [S, D] -> x [N, D]
extern "C" int mock_embed_argv(void **args) {
  auto *tok = static_cast<halide_buffer_t *>(args[0]);
  auto *emb = static_cast<halide_buffer_t *>(args[1]);
  auto *pos = static_cast<halide_buffer_t *>(args[2]);
  auto *x = static_cast<halide_buffer_t *>(args[3]);
  int64_t n = tok->dimensions == 1 ? tok->dim[0].extent : -1;
  int64_t tokShape[] = {n}, embShape[] = {V, D}, posShape[] = {S, D},
          xShape[] = {n, D};
  if (!isDense(tok, halide_type_int, 1, tokShape) ||
      !isDense(emb, halide_type_float, 2, embShape) ||
      !isDense(pos, halide_type_float, 2, posShape) ||
      !isDense(x, halide_type_float, 2, xShape))
    return fail("mock_embed: unexpected buffer descriptor"), -1;
  const int32_t *t = reinterpret_cast<const int32_t *>(tok->host);
  const float *e = reinterpret_cast<const float *>(emb->host);
  const float *p = reinterpret_cast<const float *>(pos->host);
  float *out = reinterpret_cast<float *>(x->host);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d)
      out[i * D + d] = e[t[i] * D + d] + p[i * D + d];
  return 0;
}

/// x [N, D], tok_embed [V, D] -> logits [N, V] (tied head: x E^T)
extern "C" int mock_head_argv(void **args) {
  auto *x = static_cast<halide_buffer_t *>(args[0]);
  auto *emb = static_cast<halide_buffer_t *>(args[1]);
  auto *logits = static_cast<halide_buffer_t *>(args[2]);
  int64_t n = x->dimensions == 2 ? x->dim[1].extent : -1;
  int64_t xShape[] = {n, D}, embShape[] = {V, D}, outShape[] = {n, V};
  if (!isDense(x, halide_type_float, 2, xShape) ||
      !isDense(emb, halide_type_float, 2, embShape) ||
      !isDense(logits, halide_type_float, 2, outShape))
    return fail("mock_head: unexpected buffer descriptor"), -1;
  const float *a = reinterpret_cast<const float *>(x->host);
  const float *e = reinterpret_cast<const float *>(emb->host);
  float *out = reinterpret_cast<float *>(logits->host);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t v = 0; v < V; ++v) {
      float acc = 0.0f;
      for (int64_t d = 0; d < D; ++d)
        acc += a[i * D + d] * e[v * D + d];
      out[i * V + v] = acc;
    }
  return 0;
}

extern "C" int mock_fail_argv(void **) {
  halide_error(nullptr, "Input buffer x is accessed at 7, which is beyond "
                        "the max (5) in dimension 0\n");
  return -4;
}

extern "C" int mock_silent_fail_argv(void **) { return -7; }

/// The plan as a compiler would emit it, in vectors a test may edit before
/// finish() points the tfc_model at them.
struct MockPlan {
  std::vector<tfc_weight_info> weights = {{"tok_embed", 2, {V, D, 0}},
                                          {"pos_embed", 2, {S, D, 0}}};
  std::vector<tfc_kernel> kernels = {{"mock_embed", mock_embed_argv},
                                     {"mock_head", mock_head_argv}};
  std::vector<tfc_step> steps = {{0, 0, 4, "embed"}, {1, 4, 3, "head"}};
  std::vector<tfc_arg> args = {
      {TFC_ARG_TOKENS, 0, 0, 1, {TFC_DIM_N, 0, 0}},
      {TFC_ARG_WEIGHT, 0, 0, 2, {V, D, 0}},
      {TFC_ARG_WEIGHT, 1, 0, 2, {S, D, 0}},
      {TFC_ARG_ARENA, 0, kArenaOffset, 2, {TFC_DIM_N, D, 0}},
      {TFC_ARG_ARENA, 0, kArenaOffset, 2, {TFC_DIM_N, D, 0}},
      {TFC_ARG_WEIGHT, 0, 0, 2, {V, D, 0}},
      {TFC_ARG_OUTPUT, 0, 0, 2, {TFC_DIM_N, V, 0}}};
  tfc_model model{};
  // The weights-file tables, as tfc compile writes them for the mock spec.
  std::vector<tfc::InitParams> manifest;
  std::vector<tfc::PlanLayout> planLayouts;
  std::vector<tfc_tensor> tensors;
  std::vector<tfc_tensor_source> sources;
  std::vector<tfc_layout> layouts;

  MockPlan();
  const tfc_model *finish() {
    model.plan_version = TFC_PLAN_VERSION;
    model.name = "mock-decoder";
    model.spec_yaml = kSpecYaml;
    model.target = "host";
    model.max_seq = S;
    model.vocab = V;
    model.output_cols = V;
    model.arena_floats = kArenaOffset + S * D;
    model.num_weights = int32_t(weights.size());
    model.weights = weights.data();
    model.num_kernels = int32_t(kernels.size());
    model.kernels = kernels.data();
    model.num_steps = int32_t(steps.size());
    model.steps = steps.data();
    model.args = args.data();
    model.num_tensors = int32_t(tensors.size());
    model.tensors = tensors.data();
    model.num_layouts = int32_t(layouts.size());
    model.layouts = layouts.data();
    model.num_sources = int32_t(sources.size());
    model.sources = sources.data();
    return &model;
  }
};

tfc::ModelSpec mockSpec() {
  std::string error;
  std::optional<tfc::ModelSpec> spec =
      tfc::parseSpecString(kSpecYaml, "mock", error);
  EXPECT_TRUE(spec) << error;
  return *spec;
}

MockPlan::MockPlan() {
  tfc::ModelSpec spec = mockSpec();
  manifest = tfc::initParams(spec);
  std::map<std::string, int32_t> index;
  for (const tfc::InitParams &p : manifest) {
    tfc_tensor t{};
    t.name = p.tensor.name.c_str();
    t.rank = int32_t(p.tensor.shape.size());
    std::copy(p.tensor.shape.begin(), p.tensor.shape.end(), t.dims);
    t.init_mean = p.mean;
    t.init_sigma = p.sigma;
    index[p.tensor.name] = int32_t(tensors.size());
    tensors.push_back(t);
  }
  planLayouts = tfc::planLayouts(spec);
  for (const tfc::PlanLayout &l : planLayouts) {
    tfc_layout out{};
    out.name = l.name.c_str();
    out.prefix = l.prefix.c_str();
    out.tied_head = l.tiedHead.empty() ? nullptr : l.tiedHead.c_str();
    out.unsupported = l.unsupported.empty() ? nullptr : l.unsupported.c_str();
    out.first_source = int32_t(sources.size());
    out.num_sources = int32_t(l.sources.size());
    for (const tfc::PlanLayout::Source &src : l.sources) {
      tfc_tensor_source ts{};
      ts.tensor = index.at(src.native);
      ts.file = src.file.c_str();
      ts.prefixed = src.prefixed;
      ts.xform = src.xform;
      ts.file_rank = int32_t(src.fileShape.size());
      std::copy(src.fileShape.begin(), src.fileShape.end(), ts.file_dims);
      ts.column = src.column;
      sources.push_back(ts);
    }
    layouts.push_back(out);
  }
  finish();
}

std::string tempPath(const std::string &name) {
  return testing::TempDir() + "tfc_runtime_" + name;
}

/// Writes the mock model's random weights (seed 7) in `layout` once per
/// layout and returns the path.
std::string mockWeights(tfc::WeightLayout layout = tfc::WeightLayout::Native) {
  std::string path =
      tempPath(std::string("mock_") + tfc::toString(layout) + ".safetensors");
  std::string error;
  EXPECT_TRUE(tfc::writeWeights(mockSpec(), tfc::initWeights(mockSpec(), 7),
                                layout, tfc::DType::F32, path, error))
      << error;
  return path;
}

/// The logits the mock kernels must produce, computed here the same way in
/// f32 from the same random weights.
std::vector<float> expectedLogits(const std::vector<int32_t> &tokens) {
  std::map<std::string, tfc::RefTensor> w = tfc::initWeights(mockSpec(), 7);
  const tfc::RefTensor &e = w.at("tok_embed"), &p = w.at("pos_embed");
  size_t n = tokens.size();
  std::vector<float> x(n * D), out(n * V);
  for (size_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d)
      x[i * D + size_t(d)] =
          float(e[tokens[i] * D + d]) + float(p[int64_t(i) * D + d]);
  for (size_t i = 0; i < n; ++i)
    for (int64_t v = 0; v < V; ++v) {
      float acc = 0.0f;
      for (int64_t d = 0; d < D; ++d)
        acc += x[i * D + size_t(d)] * float(e[v * D + d]);
      out[i * V + size_t(v)] = acc;
    }
  return out;
}

struct Loaded {
  tfc_weights *weights = nullptr;
  tfc_context *ctx = nullptr;
  ~Loaded() {
    tfc_context_destroy(ctx);
    tfc_weights_free(weights);
  }
};

tfc_context_params threadsParams(int threads) {
  tfc_context_params p = tfc_context_default_params();
  p.threads = threads;
  return p;
}

void load(const tfc_model *model, const std::string &path, Loaded &l) {
  l.weights = tfc_weights_load(model, path.c_str());
  ASSERT_NE(l.weights, nullptr) << tfc_last_error();
  tfc_context_params p = threadsParams(kThreads);
  l.ctx = tfc_context_create(l.weights, &p);
  ASSERT_NE(l.ctx, nullptr) << tfc_last_error();
}

std::string loadError(const tfc_model *model, const std::string &path) {
  tfc::setLastError("unset");
  tfc_weights *w = tfc_weights_load(model, path.c_str());
  EXPECT_EQ(w, nullptr);
  tfc_weights_free(w);
  return tfc_last_error();
}

// --- Forward
// ---------------------------------------------------------------------

TEST(Runtime, ForwardMatchesHandComputation) {
  MockPlan plan;
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), l));
  EXPECT_EQ(tfc_output_cols(&plan.model), V);
  EXPECT_EQ(tfc_max_seq(&plan.model), S);
  EXPECT_EQ(tfc_vocab(&plan.model), V);
  // Different N in turn: the descriptors are patched per call.
  for (std::vector<int32_t> tokens :
       {std::vector<int32_t>{3, 1, 4}, std::vector<int32_t>{10},
        std::vector<int32_t>{0, 9, 2, 6, 5, 3}, std::vector<int32_t>{7, 7}}) {
    std::vector<float> out(tokens.size() * V, -1.0f);
    ASSERT_EQ(
        tfc_forward(l.ctx, tokens.data(), int64_t(tokens.size()), out.data()),
        0)
        << tfc_last_error();
    EXPECT_EQ(out, expectedLogits(tokens)) << "n = " << tokens.size();
  }
}

TEST(Runtime, LoadsHuggingFaceGpt2Layout) {
  MockPlan plan;
  Loaded l;
  // The spec says layout native; the file's names say hf-gpt2 (wte.weight,
  // wpe.weight), which wins.
  ASSERT_NO_FATAL_FAILURE(
      load(&plan.model, mockWeights(tfc::WeightLayout::HFGPT2), l));
  std::vector<int32_t> tokens = {5, 0, 8};
  std::vector<float> out(tokens.size() * V);
  ASSERT_EQ(tfc_forward(l.ctx, tokens.data(), 3, out.data()), 0)
      << tfc_last_error();
  EXPECT_EQ(out, expectedLogits(tokens));
}

TEST(Runtime, BadInputIsAnErrorString) {
  MockPlan plan;
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), l));
  std::vector<float> out(size_t(S + 1) * V);
  std::vector<int32_t> tokens = {1, 2, 3, 11, 4, 5, 6};
  EXPECT_NE(tfc_forward(l.ctx, tokens.data(), 4, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(),
               "token id 11 at position 3 is out of range [0, 11)");
  tokens[3] = -2;
  EXPECT_NE(tfc_forward(l.ctx, tokens.data(), 4, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(),
               "token id -2 at position 3 is out of range [0, 11)");
  tokens[3] = 0;
  EXPECT_NE(tfc_forward(l.ctx, tokens.data(), 7, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(),
               "sequence of 7 tokens exceeds max_seq 6");
  EXPECT_NE(tfc_forward(l.ctx, tokens.data(), 0, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(),
               "sequence of 0 tokens: need at least 1");
  EXPECT_NE(tfc_forward(l.ctx, nullptr, 1, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(), "tokens is NULL");
  EXPECT_NE(tfc_forward(l.ctx, tokens.data(), 1, nullptr), 0);
  EXPECT_STREQ(tfc_last_error(), "output is NULL");
  // The context still works after errors; a success leaves the message of
  // the last failure (as errno does).
  ASSERT_EQ(tfc_forward(l.ctx, tokens.data(), 2, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(), "output is NULL");
  EXPECT_NE(tfc_forward(nullptr, tokens.data(), 1, out.data()), 0);
  EXPECT_STREQ(tfc_last_error(), "context is NULL");
  // A length that would overflow pos + n (found by FuzzRuntimeApi) is a
  // cache overflow, not a read past the tokens.
  tfc_reset(l.ctx);
  ASSERT_EQ(tfc_append(l.ctx, tokens.data(), 1, out.data(), 1), 0);
  EXPECT_NE(tfc_append(l.ctx, tokens.data(), INT64_MAX, out.data(), 1), 0);
  EXPECT_STREQ(tfc_last_error(),
               "KV cache overflow: 1 cached + 9223372036854775807 new tokens "
               "exceed max_seq 6 (tfc_reset starts a new sequence)");
  EXPECT_EQ(tfc_position(l.ctx), 1);
}

TEST(Runtime, KernelFailureIsAnErrorNotAnAbort) {
  MockPlan plan;
  plan.kernels[1] = {"mock_fail", mock_fail_argv};
  plan.steps[1].label = "head.fail";
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load(plan.finish(), mockWeights(), l));
  int32_t tokens[] = {1, 2};
  float out[2 * V];
  EXPECT_NE(tfc_forward(l.ctx, tokens, 2, out), 0);
  // The message comes through Halide's error handler (the runtime object).
  EXPECT_STREQ(tfc_last_error(),
               "kernel mock_fail (step head.fail) failed: Input buffer x is "
               "accessed at 7, which is beyond the max (5) in dimension 0");

  plan.kernels[1] = {"mock_silent", mock_silent_fail_argv};
  EXPECT_NE(tfc_forward(l.ctx, tokens, 2, out), 0);
  EXPECT_STREQ(tfc_last_error(),
               "kernel mock_silent (step head.fail) failed: Halide error "
               "code -7");
}

// --- Loading errors
// ----------------------------------------------------------------

TEST(Runtime, MissingWeightsFile) {
  MockPlan plan;
  std::string path = tempPath("does_not_exist.safetensors");
  std::string err = loadError(&plan.model, path);
  EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
}

TEST(Runtime, WeightsOfAnotherModelNameTheTensor) {
  std::string error;
  std::optional<tfc::ModelSpec> other = tfc::parseSpecString(
      "name: other\nfamily: decoder\n"
      "dims: {vocab: 13, d_model: 8, n_layers: 1, n_heads: 2, max_seq: 6}\n",
      "other", error);
  ASSERT_TRUE(other) << error;
  std::string path = tempPath("other_model.safetensors");
  ASSERT_TRUE(tfc::writeWeights(*other, tfc::initWeights(*other, 1),
                                tfc::WeightLayout::Native, tfc::DType::F32,
                                path, error))
      << error;
  MockPlan plan;
  std::string err = loadError(&plan.model, path);
  EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("tensor 'tok_embed'"), std::string::npos) << err;
  EXPECT_NE(err.find("[11, 4]"), std::string::npos) << err;
  EXPECT_NE(err.find("[13, 8]"), std::string::npos) << err;
}

TEST(Runtime, PlanShapeDisagreeingWithFile) {
  MockPlan plan;
  plan.weights[1].dims[0] = 5;
  plan.args[2].dims[0] = 5;
  std::string path = mockWeights();
  EXPECT_EQ(loadError(&plan.model, path),
            path + ": tensor 'pos_embed': the plan expects shape [5, 4], "
                   "found [6, 4]");
}

TEST(Runtime, PlanWeightOutsideManifest) {
  MockPlan plan;
  plan.weights[1].name = "layers.0.attn.wz";
  std::string path = mockWeights();
  EXPECT_EQ(loadError(&plan.model, path),
            path + ": tensor 'layers.0.attn.wz' is used by the plan but is "
                   "not in the manifest of model 'mock-decoder' (the plan "
                   "and its tables disagree)");
}

TEST(Runtime, MalformedWeightTablesAreRejectedAtLoad) {
  // The loader copies between the file's tensor and the native one by
  // these tables: an index out of range or a shape that does not fit the
  // transform is a load error, not an out-of-bounds read.
  std::string path = mockWeights();
  const std::string where = "model 'mock-decoder': plan: ";
  {
    MockPlan plan;
    plan.sources[0].tensor = int32_t(plan.tensors.size());
    EXPECT_EQ(loadError(&plan.model, path),
              where + "weight source 0: bad tensor index, name or shape");
  }
  {
    MockPlan plan;
    plan.sources[0].file_dims[0] += 1; // tok_embed [11, 4] from [12, 4]
    EXPECT_EQ(loadError(&plan.model, path),
              where + "weight source 0: the file shape does not fit tensor "
                      "'tok_embed' and its transform");
  }
  {
    MockPlan plan;
    plan.layouts[1].num_sources = plan.model.num_sources;
    EXPECT_EQ(loadError(&plan.model, path),
              where + "layout 1: bad name or sources");
  }
  {
    MockPlan plan;
    // hf-gpt2's fused c_attn: a column slice past the file's columns.
    bool found = false;
    for (tfc_tensor_source &s : plan.sources)
      if (s.xform == TFC_XFORM_COLUMNS && !found) {
        s.column = s.file_dims[s.file_rank - 1];
        found = true;
      }
    ASSERT_TRUE(found);
    EXPECT_NE(loadError(&plan.model, path).find("does not fit tensor"),
              std::string::npos);
  }
  {
    MockPlan plan;
    plan.model.num_layouts = 0;
    EXPECT_EQ(loadError(&plan.model, path),
              where + "no weight manifest or layouts (a NULL or empty table)");
  }
}

TEST(Runtime, MalformedPlansAreRejectedAtLoad) {
  std::string path = mockWeights();
  {
    MockPlan plan;
    plan.args[3].offset = 12; // 12 + 6 * 4 > arena_floats 32
    EXPECT_EQ(loadError(&plan.model, path),
              "model 'mock-decoder': plan: step 0 (embed) arg 3: arena slice "
              "at offset 12 of 24 floats (at max_seq) exceeds arena_floats "
              "32");
  }
  {
    MockPlan plan;
    plan.args[5].dims[1] = 5;
    EXPECT_EQ(loadError(&plan.model, path),
              "model 'mock-decoder': plan: step 1 (head) arg 1: weight "
              "'tok_embed' is [11, 4], the step uses it as [11, 5]");
  }
  {
    MockPlan plan;
    plan.steps[1].kernel = 2;
    EXPECT_NE(loadError(&plan.model, path).find("step 1 (head): kernel 2 of 2"),
              std::string::npos);
  }
  {
    // A GPU plan names its device API and Halide's interface together.
    MockPlan plan;
    plan.model.device_api = "opencl";
    EXPECT_EQ(loadError(&plan.model, path),
              "model 'mock-decoder': plan: device_api 'opencl' and its device "
              "interface must be given together, for opencl or cuda");
    plan.model.device_api = "metal";
    plan.model.device_interface = [] {
      return static_cast<const halide_device_interface_t *>(nullptr);
    };
    EXPECT_NE(loadError(&plan.model, path).find("device_api 'metal'"),
              std::string::npos);
  }
  {
    MockPlan plan;
    plan.model.plan_version = 99;
    EXPECT_EQ(loadError(&plan.model, path),
              "model 'mock-decoder': plan: version 99, this runtime reads "
              "version " + std::to_string(TFC_PLAN_VERSION) +
                  " (recompile the model)");
  }
}

TEST(Runtime, ErrorsArePerThread) {
  MockPlan plan;
  EXPECT_EQ(tfc_weights_load(&plan.model, "/nonexistent/w.safetensors"),
            nullptr);
  std::string mine = tfc_last_error();
  EXPECT_EQ(mine.rfind("/nonexistent/w.safetensors: ", 0), 0u) << mine;
  std::string theirs;
  std::thread other([&] {
    theirs = tfc_last_error(); // nothing failed on this thread yet
    EXPECT_EQ(tfc_weights_load(nullptr, "x"), nullptr);
    theirs += "|" + std::string(tfc_last_error());
  });
  other.join();
  EXPECT_EQ(theirs, "|model is NULL");
  EXPECT_EQ(tfc_last_error(), mine);
  EXPECT_EQ(tfc_api_version(), TFC_API_VERSION);
}

TEST(Runtime, NullArgumentsFailThroughTheConvention) {
  MockPlan plan;
  // Each call runs (and sets the message) before failsWith compares.
  auto failsWith = [](auto rc, auto bad, const char *message) {
    return rc == bad && std::string(tfc_last_error()) == message;
  };
  float f = 0;
  int32_t t = 0;
  EXPECT_TRUE(failsWith(tfc_output_cols(nullptr), -1, "model is NULL"));
  EXPECT_TRUE(failsWith(tfc_max_seq(nullptr), -1, "model is NULL"));
  EXPECT_TRUE(failsWith(tfc_vocab(nullptr), -1, "model is NULL"));
  EXPECT_TRUE(failsWith(tfc_output_rows(nullptr, 3), -1, "model is NULL"));
  EXPECT_TRUE(failsWith(tfc_model_family(nullptr), -1, "model is NULL"));
  EXPECT_EQ(tfc_model_name(nullptr), nullptr);
  EXPECT_EQ(tfc_model_tokenizer(nullptr), nullptr);
  EXPECT_TRUE(failsWith(tfc_position(nullptr), -1, "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_source_length(nullptr), -1, "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_reset(nullptr), 1, "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_profile_enable(nullptr, 1), 1, "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_profile_print(nullptr, nullptr), 1,
                        "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_append(nullptr, &t, 1, &f, 0), 1,
                        "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_encode(nullptr, &t, nullptr, nullptr, 1, &f), 1,
                        "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_classify(nullptr, &f, &f), 1, "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_set_source(nullptr, &t, 1), 1, "context is NULL"));
  EXPECT_TRUE(failsWith(tfc_decode_batch(nullptr, 1, &t, &f), 1,
                        "contexts are NULL"));
  EXPECT_TRUE(failsWith(tfc_pool(&plan.model, nullptr, 1, nullptr,
                                 TFC_POOL_CLS, &f),
                        1, "hidden is NULL"));
  EXPECT_TRUE(failsWith(tfc_pool(&plan.model, &f, 1, nullptr, 7, &f), 1,
                        "pool 7 is not TFC_POOL_CLS (0) or TFC_POOL_MEAN (1)"));
  EXPECT_TRUE(failsWith(tfc_select_device(-1), 1,
                        "device index -1 is negative (0 = the first device)"));
  EXPECT_TRUE(failsWith(tfc_sampler_next(nullptr, &f), -1, "sampler is NULL"));
  EXPECT_EQ(std::string(tfc_model_name(&plan.model)), "mock-decoder");
  EXPECT_EQ(tfc_model_family(&plan.model), TFC_FAMILY_DECODER);
  // Destructors take NULL.
  tfc_weights_free(nullptr);
  tfc_context_destroy(nullptr);
  tfc_sampler_destroy(nullptr);
}

TEST(Runtime, RandomWeightsEqualTheInitWeightsFile) {
  // tfc_weights_random draws, from the plan's tables alone, the values
  // `tfc init-weights` writes from the spec.
  MockPlan plan;
  Loaded fromFile, drawn;
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), fromFile));
  drawn.weights = tfc_weights_random(&plan.model, 7);
  ASSERT_NE(drawn.weights, nullptr) << tfc_last_error();
  tfc_context_params p = threadsParams(kThreads);
  drawn.ctx = tfc_context_create(drawn.weights, &p);
  ASSERT_NE(drawn.ctx, nullptr) << tfc_last_error();
  std::vector<int32_t> tokens = {2, 9, 4};
  std::vector<float> a(tokens.size() * V), b(tokens.size() * V);
  ASSERT_EQ(tfc_forward(fromFile.ctx, tokens.data(), 3, a.data()), 0);
  ASSERT_EQ(tfc_forward(drawn.ctx, tokens.data(), 3, b.data()), 0);
  EXPECT_EQ(a, b);
}

TEST(Runtime, NegativeThreadCountIsRejected) {
  MockPlan plan;
  tfc_weights *w = tfc_weights_load(&plan.model, mockWeights().c_str());
  ASSERT_NE(w, nullptr) << tfc_last_error();
  tfc_context_params p = threadsParams(-1);
  EXPECT_EQ(tfc_context_create(w, &p), nullptr);
  EXPECT_STREQ(tfc_last_error(),
               "thread count -1 is negative (0 = the number of cores)");
  EXPECT_EQ(tfc_context_create(nullptr, nullptr), nullptr);
  EXPECT_STREQ(tfc_last_error(), "weights are NULL");
  tfc_weights_free(w);
}

TEST(Runtime, FirstContextFixesHalideThreads) {
  MockPlan plan;
  Loaded a, b;
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), a));
  // Another count is refused, saying why; 0 takes the pool as it is.
  tfc_context_params p = threadsParams(5);
  EXPECT_EQ(tfc_context_create(a.weights, &p), nullptr);
  EXPECT_NE(std::string(tfc_last_error()).find("already has"),
            std::string::npos)
      << tfc_last_error();
  p.threads = 0;
  tfc_context *other = tfc_context_create(a.weights, &p);
  ASSERT_NE(other, nullptr) << tfc_last_error();
  // halide_set_num_threads returns the previous count: the first context's.
  EXPECT_EQ(halide_set_num_threads(kThreads), kThreads);
  tfc_context_destroy(other);
}

// The kernels' thread pool (runtime/ThreadPool.cpp), through the entry point
// the generated code calls: every task of a loop runs exactly once, the
// first failure is the loop's result, and nested loops and loops from two
// threads at once (the second runs on its own thread) complete.
struct PoolCounts {
  std::vector<std::atomic<int>> hits;
  int failAt = -1;
  explicit PoolCounts(size_t n) : hits(n) {}
};
int countTask(void *, int i, uint8_t *closure) {
  auto *c = reinterpret_cast<PoolCounts *>(closure);
  c->hits[size_t(i)].fetch_add(1);
  return i == c->failAt ? 42 : 0;
}
int nestedTask(void *uctx, int i, uint8_t *closure) {
  auto *outer = reinterpret_cast<std::vector<PoolCounts> *>(closure);
  return halide_do_par_for(uctx, countTask, 0, 64,
                           reinterpret_cast<uint8_t *>(&(*outer)[size_t(i)]));
}

TEST(Runtime, ThreadPoolRunsEachTaskOnce) {
  MockPlan plan;
  Loaded l; // creates a context, which installs the pool
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), l));
  if (!std::getenv("TFC_THREAD_POOL"))
    EXPECT_TRUE(tfc::threadPoolInstalled());
  for (int round = 0; round < 200; ++round) {
    int size = 1 + round % 37;
    PoolCounts c(size_t(size) + 3);
    ASSERT_EQ(halide_do_par_for(nullptr, countTask, 3, size,
                                reinterpret_cast<uint8_t *>(&c)),
              0);
    for (int i = 0; i < size + 3; ++i)
      ASSERT_EQ(c.hits[size_t(i)].load(), i < 3 ? 0 : 1)
          << "round " << round << " task " << i;
  }
  PoolCounts failing(100);
  failing.failAt = 57;
  EXPECT_EQ(halide_do_par_for(nullptr, countTask, 0, 100,
                              reinterpret_cast<uint8_t *>(&failing)),
            42);
  std::vector<PoolCounts> inner;
  inner.reserve(8);
  for (int i = 0; i < 8; ++i)
    inner.emplace_back(64);
  ASSERT_EQ(halide_do_par_for(nullptr, nestedTask, 0, 8,
                              reinterpret_cast<uint8_t *>(&inner)),
            0);
  for (const PoolCounts &c : inner)
    for (const std::atomic<int> &h : c.hits)
      ASSERT_EQ(h.load(), 1);
  // Two callers at once.
  std::atomic<int> bad{0};
  auto caller = [&] {
    for (int round = 0; round < 100; ++round) {
      PoolCounts c(50);
      if (halide_do_par_for(nullptr, countTask, 0, 50,
                            reinterpret_cast<uint8_t *>(&c)) != 0)
        bad.fetch_add(1);
      for (const std::atomic<int> &h : c.hits)
        if (h.load() != 1)
          bad.fetch_add(1);
    }
  };
  std::thread t1(caller), t2(caller);
  t1.join();
  t2.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Runtime, ScratchBlocksAreKeptAndReused) {
  MockPlan plan;
  Loaded l; // creates a context, which installs the allocator
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), l));
  // Installed: Halide's own entry points reach it.
  tfc::ScratchStats s0 = tfc::scratchStats();
  void *viaHalide = halide_malloc(nullptr, tfc::kLargeBytes);
  ASSERT_NE(viaHalide, nullptr);
  halide_free(nullptr, viaHalide);
  tfc::ScratchStats s1 = tfc::scratchStats();
  EXPECT_GE(s1.created + s1.kept, s0.created + 1);
  EXPECT_EQ(halide_malloc(nullptr, tfc::kLargeBytes), viaHalide) << "kept";
  halide_free(nullptr, viaHalide);

  // Small requests go to Halide's default allocator: nothing is created.
  tfc::ScratchStats a = tfc::scratchStats();
  void *small = tfc::scratchMalloc(nullptr, 100);
  ASSERT_NE(small, nullptr);
  tfc::scratchFree(nullptr, small);
  EXPECT_EQ(tfc::scratchStats().created, a.created);

  // A large block, written end to end, comes back aligned; freed, it is
  // handed out again, also for a smaller request that fits.
  const size_t big = size_t(3) << 20, mid = size_t(1) << 20;
  char *p = static_cast<char *>(tfc::scratchMalloc(nullptr, big));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  std::memset(p, 1, big);
  tfc::scratchFree(nullptr, p);
  tfc::ScratchStats b = tfc::scratchStats();
  EXPECT_EQ(b.created, a.created + 1);
  EXPECT_GE(b.keptBytes, big);
  EXPECT_EQ(tfc::scratchMalloc(nullptr, mid), p);
  // Two at once: the second needs a block of its own.
  char *q = static_cast<char *>(tfc::scratchMalloc(nullptr, mid));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);
  tfc::scratchFree(nullptr, q);
  tfc::scratchFree(nullptr, p);
  // The smallest kept block that fits: q's for a request q fits.
  EXPECT_EQ(tfc::scratchMalloc(nullptr, mid), q);
  tfc::scratchFree(nullptr, q);
  tfc::ScratchStats c = tfc::scratchStats();
  EXPECT_EQ(c.created, a.created + 2);

  // The same sizes again and again (the kernels of every forward pass):
  // nothing new.
  for (int round = 0; round < 50; ++round) {
    std::vector<void *> held;
    for (size_t bytes : {big, mid, size_t(100000)})
      held.push_back(tfc::scratchMalloc(nullptr, bytes));
    for (void *h : held)
      tfc::scratchFree(nullptr, h);
  }
  tfc::ScratchStats d = tfc::scratchStats();
  EXPECT_EQ(d.created, c.created + 1); // the 100000-byte block
  // At most kKeptBlocks free blocks stay.
  std::vector<void *> many;
  for (int i = 0; i < tfc::kKeptBlocks + 5; ++i)
    many.push_back(tfc::scratchMalloc(nullptr, tfc::kLargeBytes + size_t(i)));
  for (void *m : many)
    tfc::scratchFree(nullptr, m);
  EXPECT_EQ(tfc::scratchStats().kept, tfc::kKeptBlocks);
}

// --- No allocation, profiling, threads
// ------------------------------------------------

TEST(Runtime, ForwardDoesNotAllocate) {
  MockPlan plan;
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), l));
  std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6};
  std::vector<float> out(tokens.size() * V);
  ASSERT_EQ(tfc_forward(l.ctx, tokens.data(), 6, out.data()), 0);
  // The counter itself must see allocations, or the check below is empty.
  counting = true;
  delete new int(1);
  counting = false;
  ASSERT_EQ(allocations.exchange(0), kCountsMalloc ? 2 : 1);

  int failures = 0;
  counting = true;
  for (int i = 0; i < 200; ++i) {
    tfc_profile_enable(l.ctx, i % 2); // both paths, and the counter reset
    int64_t n = 1 + i % 6;            // N changes: descriptors are patched
    failures += tfc_forward(l.ctx, tokens.data(), n, out.data()) != 0;
    failures += tfc_forward(l.ctx, tokens.data(), 9, out.data()) == 0;
  }
  counting = false;
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(allocations.exchange(0), 0);
}

TEST(Runtime, ProfileTableListsKernels) {
  MockPlan plan;
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load(&plan.model, mockWeights(), l));
  int32_t tokens[] = {1, 2, 3};
  float out[3 * V];
  ASSERT_EQ(tfc_forward(l.ctx, tokens, 3, out), 0); // not profiled
  tfc_profile_enable(l.ctx, 1);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(tfc_forward(l.ctx, tokens, 3, out), 0);
  tfc_profile_enable(l.ctx, 0);
  ASSERT_EQ(tfc_forward(l.ctx, tokens, 3, out), 0); // not profiled

  FILE *f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  tfc_profile_print(l.ctx, f);
  std::rewind(f);
  std::vector<std::string> lines;
  char buf[256];
  while (std::fgets(buf, sizeof buf, f))
    lines.push_back(buf);
  std::fclose(f);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "kernel        calls     total ms   share\n");
  // Rows are sorted by time; find each kernel's row.
  auto row = [&](const std::string &name) {
    for (const std::string &line : lines)
      if (line.rfind(name + " ", 0) == 0)
        return line;
    return std::string();
  };
  EXPECT_EQ(row("mock_embed").substr(0, 19), "mock_embed        3");
  EXPECT_EQ(row("mock_head").substr(0, 19), "mock_head         3");
  EXPECT_EQ(row("total").substr(0, 19), "total             6");
  EXPECT_NE(row("total").find("100.0%"), std::string::npos);

  // Enabling again starts a new measurement.
  tfc_profile_enable(l.ctx, 1);
  f = std::tmpfile();
  tfc_profile_print(l.ctx, f);
  std::rewind(f);
  ASSERT_TRUE(std::fgets(buf, sizeof buf, f));
  std::fclose(f);
  EXPECT_EQ(std::string(buf), "profile: no kernel calls recorded "
                              "(tfc_profile_enable before tfc_forward)\n");
}

TEST(Runtime, ContextsOnTwoThreadsShareWeights) {
  MockPlan plan;
  tfc_weights *w = tfc_weights_load(&plan.model, mockWeights().c_str());
  ASSERT_NE(w, nullptr) << tfc_last_error();
  std::vector<int32_t> tokens = {4, 8, 1, 0, 10, 3};
  std::vector<float> results[2];
  int failures[2] = {0, 0};
  auto work = [&](int t) {
    tfc_context_params p = threadsParams(kThreads);
    tfc_context *ctx = tfc_context_create(w, &p);
    if (!ctx) {
      failures[t] = -1;
      return;
    }
    std::vector<float> out(tokens.size() * V);
    for (int i = 0; i < 100; ++i) {
      int64_t n = 1 + (i + t) % 6;
      failures[t] += tfc_forward(ctx, tokens.data(), n, out.data()) != 0;
    }
    failures[t] += tfc_forward(ctx, tokens.data(), 6, out.data()) != 0;
    results[t] = out;
    tfc_context_destroy(ctx);
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(failures[0], 0);
  EXPECT_EQ(failures[1], 0);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], expectedLogits(tokens));
  tfc_weights_free(w);
}

// --- main() of compiled executables
// ----------------------------------------------

MockPlan &mainPlan() {
  static MockPlan plan;
  return plan;
}

struct MainResult {
  int code;
  std::string out, err;
};

MainResult runMain(std::vector<std::string> args) {
  // Every run pins the thread count: whichever test creates the first
  // context of the process fixes the thread pool
  // (FirstContextFixesHalideThreads).
  args.insert(args.begin(),
              {"/some/dir/mock-model", "--threads", std::to_string(kThreads)});
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(&a[0]);
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int code = tfc::runMain(int(args.size()), argv.data());
  MainResult r{code, "", ""};
  r.out = testing::internal::GetCapturedStdout();
  r.err = testing::internal::GetCapturedStderr();
  return r;
}

TEST(RuntimeMain, PrintsNextTokenAndTop5) {
  std::vector<float> logits = expectedLogits({3, 1, 4});
  const float *last = logits.data() + 2 * V;
  std::vector<int> order(V);
  for (int i = 0; i < V; ++i)
    order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return last[a] > last[b]; });
  char want[512];
  std::snprintf(want, sizeof want,
                "next token: %d\ntop 5: %d (%.4f) %d (%.4f) %d (%.4f) %d "
                "(%.4f) %d (%.4f)\n",
                order[0], order[0], double(last[order[0]]), order[1],
                double(last[order[1]]), order[2], double(last[order[2]]),
                order[3], double(last[order[3]]), order[4],
                double(last[order[4]]));
  MainResult r =
      runMain({"--weights", mockWeights(), "--tokens", "3 1,4", "--threads=2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, want);
  EXPECT_EQ(r.err, "");
}

TEST(RuntimeMain, DumpsLogits) {
  std::string path = tempPath("logits.bin");
  std::remove(path.c_str());
  MainResult r = runMain({"--weights", mockWeights(), "--tokens", "0 9 2 6",
                          "--dump-logits", path});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  std::vector<float> want = expectedLogits({0, 9, 2, 6});
  ASSERT_EQ(bytes.size(), want.size() * sizeof(float));
  std::vector<float> got(want.size());
  std::memcpy(got.data(), bytes.data(), bytes.size());
  EXPECT_EQ(got, want);
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

TEST(RuntimeMain, BenchAndProfile) {
  MainResult r = runMain({"--weights", mockWeights(), "--bench", "--bench-runs",
                          "3", "--profile"});
  ASSERT_EQ(r.code, 0) << r.err;
  // Default bench length: min(512, max_seq) = 6 random tokens.
  EXPECT_EQ(r.out.rfind("bench: 6 tokens, 3 runs: median ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" tokens/s\n"), std::string::npos) << r.out;
  // The warm-up is not profiled: 3 calls per kernel.
  EXPECT_NE(r.out.find("\nmock_embed        3 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nmock_head         3 "), std::string::npos) << r.out;

  r = runMain({"--weights", mockWeights(), "--bench", "--bench-tokens", "4",
               "--bench-runs=1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("bench: 4 tokens, 1 runs: median ", 0), 0u) << r.out;
}

TEST(RuntimeMain, UsageErrorsExit2) {
  std::string w = mockWeights();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--tokens", "1"}, "--weights is required (or --random-weights SEED)"},
      {{"--weights", w}, "--tokens or --prompt is required (or --bench)"},
      {{"--weights", w, "--tokens", "1", "--threads", "-1"},
       "--threads: expected an integer in [0, 1024], found '-1'"},
      {{"--weights", w, "--tokens", "1", "--threads", "2x"},
       "--threads: expected an integer in [0, 1024], found '2x'"},
      {{"--weights", w, "--bench", "--bench-runs", "0"},
       "--bench-runs: expected an integer in [1, 1000000], found '0'"},
      {{"--weights", w, "--bench", "--bench-tokens", "0"},
       "--bench-tokens: expected an integer >= 1, found '0'"},
      {{"--weights", w, "--tokens", "1", "--bench-runs", "3"},
       "--bench-tokens and --bench-runs need --bench"},
      {{"--weights", w, "--tokens", "1 two"},
       "--tokens: 'two' is not an integer token id"},
      {{"--weights", w, "--tokens", " , "}, "--tokens: no token ids in ' , '"},
      {{"--weights", w, "--tokens"}, "--tokens needs a value"},
      {{"--weights", w, "--tokens", "1", "--frobnicate"},
       "unknown argument '--frobnicate'"},
  };
  for (const Case &c : cases) {
    MainResult r = runMain(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_EQ(r.err, "mock-model: error: " + c.message +
                         "\nrun 'mock-model --help' for usage\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST(RuntimeMain, RuntimeErrorsExit1) {
  MainResult r = runMain({"--weights", mockWeights(), "--tokens", "1 11"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "mock-model: error: token id 11 at position 1 is out of "
                   "range [0, 11)\n");
  r = runMain({"--weights", mockWeights(), "--tokens", "1 2 3 4 5 6 7"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "mock-model: error: sequence of 7 tokens exceeds max_seq 6\n");
  std::string missing = tempPath("missing.safetensors");
  r = runMain({"--weights", missing, "--tokens", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("mock-model: error: " + missing + ": ", 0), 0u)
      << r.err;
}

TEST(RuntimeMain, Help) {
  MainResult r = runMain({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("usage: mock-model --weights W.safetensors --tokens "
                        "\"1 2 3\" [options]\nmodel mock-decoder: vocab 11, "
                        "max_seq 6, 11 output columns, target host\n",
                        0),
            0u)
      << r.out;
}

} // namespace

extern "C" const tfc_model *tfc_main_model(void) { return &mainPlan().model; }
