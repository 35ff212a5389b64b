/*===- tfc_runtime.h - Run a model compiled by tfc ----------------*- C -*-===
 *
 * The C API of a compiled model. A program links the model's library
 * (`tfc compile SPEC --library -o DIR` writes libNAME.a and NAME.h, which
 * declares `const tfc_model *tfc_model_NAME(void)`) and calls:
 *
 *   char err[512];
 *   tfc_weights *w = tfc_weights_load(tfc_model_gpt2(), "w.safetensors",
 *                                     err, sizeof err);
 *   tfc_context *ctx = tfc_context_create(w, 2, err, sizeof err);
 *   float *logits = malloc(n * tfc_output_cols(tfc_model_gpt2()) * 4);
 *   if (tfc_forward(ctx, tokens, n, logits) != 0)
 *     fprintf(stderr, "%s\n", tfc_context_error(ctx));
 *   tfc_context_destroy(ctx);
 *   tfc_weights_free(w);
 *
 * Every function reports bad input (a missing or misshapen weight, a token
 * id >= vocab, N > max_seq) through its return value and an error string; none
 * calls abort() or exit(). A context allocates its arena once, at creation:
 * tfc_forward allocates nothing.
 *
 * Thread safety (checked by tests/lit/compiled/threads.test and
 * tsan-halide-pool.test under ThreadSanitizer, see scripts/test.sh):
 *  - tfc_model (tfc_model_NAME()): constant data; any thread, any time.
 *  - tfc_weights: read-only once tfc_weights_load returns. Any number of
 *    contexts on any threads may share one; it must outlive them all, and
 *    tfc_weights_free must not run while one of them is in use. The file
 *    is only read (open O_RDONLY, mmap PROT_READ) and may be mode 0444.
 *  - tfc_context: one thread at a time (its arena, KV cache, buffer
 *    descriptors, error string and profile counters are unsynchronised);
 *    different contexts run concurrently with no lock. Moving a context to
 *    another thread is fine if the handover synchronises (a join, a mutex).
 *    tfc_decode_batch uses every context it is given: none of them may be
 *    in use elsewhere during the call. tfc_context_error's string belongs
 *    to the context and is valid until its next call.
 *  - tfc_sampler: one thread at a time; use one per thread (its scratch and
 *    generator state are unsynchronised).
 *  - tfc_context_create and tfc_context_destroy may run on any threads at
 *    once. Halide's runtime is process-global: the first context created
 *    in the process installs the error handler and fixes the size of
 *    the kernels' thread pool, which every context then shares (a later
 *    context's `threads` is ignored). The pool's workers spin for up to
 *    2 ms between parallel loops before they sleep (TFC_THREAD_POOL=halide
 *    in the environment uses Halide's own pool instead). Halide
 *    reports an error to the thread that hit it: a kernel's argument
 *    checks fail on the calling thread, whose context gets the message;
 *    a failure inside a parallel loop (on a pool worker) gives the
 *    context only Halide's error code.
 *  - Tokenizers are not part of this C API; the C++ ones (Tokenizer.h)
 *    may be shared by threads (encode/decode are const; the GPT-2 merge
 *    cache is behind a mutex).
 *===----------------------------------------------------------------------===*/
#ifndef TFC_RUNTIME_H
#define TFC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "tfc_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tfc_weights tfc_weights;
typedef struct tfc_context tfc_context;

/* Loads a safetensors file (memory-mapped, read-only) in any layout the
 * model's spec supports (native, hf-gpt2, hf-llama, ...; detected from the
 * tensor names), converts it to f32 and checks every tensor against the
 * model's manifest. NULL on error, with a one-line message in err. */
tfc_weights *tfc_weights_load(const tfc_model *model, const char *path,
                              char *err, size_t err_size);
void tfc_weights_free(tfc_weights *weights);
/* Deterministic random weights, the values `tfc init-weights SPEC --seed
 * SEED` writes, for benchmarks and checks with no weights file at hand (a
 * machine the file is too large to carry to). NULL on error. */
tfc_weights *tfc_weights_random(const tfc_model *model, uint64_t seed,
                                char *err, size_t err_size);

/* A context: the activation arena (sized for max_seq) and the thread count
 * (0 = the number of cores). The first context fixes the kernels' thread
 * pool size for the process. NULL on error. */
tfc_context *tfc_context_create(const tfc_weights *weights, int threads,
                                char *err, size_t err_size);
void tfc_context_destroy(tfc_context *ctx);

/* One forward pass over n tokens; writes n * tfc_output_cols(model) floats
 * (logits, one row per token). 0 on success; otherwise non-zero and
 * tfc_context_error(ctx) says why. */
int tfc_forward(tfc_context *ctx, const int32_t *tokens, int64_t n,
                float *output);
const char *tfc_context_error(const tfc_context *ctx);

/* Generation with the KV cache. A context holds one sequence: tfc_append
 * runs n new tokens at the current position (the number of tokens already
 * cached), stores their keys and values in the cache and advances the
 * position. Prefill is tfc_append of the prompt; each decode step is
 * tfc_append of one token. With all_rows = 1 it writes n rows of logits,
 * with all_rows = 0 only the last row (what sampling needs; cheaper).
 * Past max_seq it fails with a "KV cache overflow" message and changes
 * nothing. tfc_forward is tfc_reset + tfc_append(..., all_rows = 1). */
int tfc_append(tfc_context *ctx, const int32_t *tokens, int64_t n,
               float *output, int all_rows);
void tfc_reset(tfc_context *ctx); /* forget the sequence */

/* One decode step for b independent sequences at once, one context each
 * (same weights; each has its own KV cache and position): token i is
 * appended to ctxs[i], and row i of `output` (b * output_cols floats) gets
 * its logits. The projections, the MLP and the head read their weights once
 * for all b rows; the embedding, QKV and attention run per sequence, at
 * that sequence's position. The lead context ctxs[0] holds the batch's
 * activations and reports errors (tfc_context_error(ctxs[0])); on error no
 * position changes. b <= max_seq. */
int tfc_decode_batch(tfc_context *const *ctxs, int32_t b, const int32_t *tokens,
                     float *output);
int64_t tfc_position(const tfc_context *ctx); /* tokens in the cache */

/* Encoders (tfc_model.family == TFC_FAMILY_ENCODER, e.g. BERT): every token
 * attends to every other (no KV cache, no state between calls). `types`
 * are the token types (segments, < tfc_model.type_vocab; NULL = all 0);
 * `mask` is the attention mask (1 = a token, 0 = padding that no token
 * attends to; NULL = all 1; at least one 1). Writes n * output_cols floats:
 * the final hidden state of each token (an encoder whose head pools, a
 * classifier or BERT's pooler, writes one row: tfc_output_rows). tfc_forward on an encoder is
 * tfc_encode(ctx, tokens, NULL, NULL, n, output); tfc_append and
 * tfc_decode_batch refuse encoders. */
int tfc_encode(tfc_context *ctx, const int32_t *tokens, const int32_t *types,
               const int32_t *mask, int64_t n, float *output);
/* A padded batch: b sequences of n tokens each, row-major [b, n] tokens,
 * types (or NULL) and mask (or NULL), output [b, n, output_cols] ([b,
 * output_cols] when the head pools). Each sequence runs on its own; the
 * rows of padding (mask 0) get hidden states too, which no other row
 * depends on. On error the message names the sequence. */
int tfc_encode_batch(tfc_context *ctx, int32_t b, int64_t n,
                     const int32_t *tokens, const int32_t *types,
                     const int32_t *mask, float *output);

/* Encoder-decoders (TFC_FAMILY_ENCODER_DECODER, e.g. a translation model):
 * tfc_set_source runs the encoder over the s source tokens once and leaves
 * each decoder layer's cross-attention keys and values in the context's
 * cache; it also starts a new target (position 0). Then tfc_append (and
 * tfc_forward) run target tokens through the decoder exactly as for a
 * decoder-only model: self-attention over the target so far (KV cache),
 * cross-attention over the cached source, logits out. tfc_reset starts a
 * new target on the same source. tfc_append before any source fails with a
 * message. tfc_source_length: S, or 0 when no source is set. */
int tfc_set_source(tfc_context *ctx, const int32_t *source, int64_t s);
int64_t tfc_source_length(const tfc_context *ctx);

/* Image classifiers (TFC_FAMILY_VIT): one image, f32 [H, W, C] row-major
 * (already resized and normalised, e.g. by the executable's --image), to
 * output_cols logits, one per class. */
int tfc_classify(tfc_context *ctx, const float *image, float *logits);

/* Pooling hidden states [n, output_cols] into one vector (output_cols
 * floats): TFC_POOL_CLS takes the first token's ([CLS]) state, TFC_POOL_MEAN
 * averages the tokens whose mask entry is 1 (mask NULL: every token), as
 * sentence-embedding models do. 0 on success, 1 on a NULL pointer, n < 1,
 * an unknown pool or a mask with no 1. */
#define TFC_POOL_CLS 0
#define TFC_POOL_MEAN 1
int tfc_pool(const tfc_model *model, const float *hidden, int64_t n,
             const int32_t *mask, int pool, float *out);

/* Sampling the next token from a row of logits. temperature 0 is greedy
 * (argmax, lowest id on ties); otherwise logits / temperature, restricted
 * to the top_k largest (0 = no limit), then to the smallest set whose
 * probability reaches top_p (1 = no limit), renormalised and drawn with a
 * generator seeded by `seed`: the same seed gives the same tokens. A
 * sampler allocates its scratch once; tfc_sampler_next allocates nothing.
 * One sampler per thread. */
typedef struct tfc_sampler tfc_sampler;
tfc_sampler *tfc_sampler_create(int64_t vocab, float temperature, int32_t top_k,
                                float top_p, uint64_t seed, char *err,
                                size_t err_size);
int32_t tfc_sampler_next(tfc_sampler *sampler, const float *logits);
void tfc_sampler_destroy(tfc_sampler *sampler);

int64_t tfc_output_cols(const tfc_model *model);
/* Rows of output a call over n tokens writes: n, or 1 for a model whose
 * head pools (a ViT; an encoder with a classifier or BERT's pooler head,
 * whose tfc_encode writes output_cols floats). */
int64_t tfc_output_rows(const tfc_model *model, int64_t n);
int64_t tfc_max_seq(const tfc_model *model);
int64_t tfc_vocab(const tfc_model *model);

/* GPU models (tfc compile --target opencl|cuda) keep their weights (from
 * tfc_weights_load on), each context's arena and KV cache on a device; a
 * call copies its inputs in and its output out, and waits for the device
 * once. tfc_device_api: "opencl", "cuda", or NULL for a CPU model.
 * tfc_select_device picks the device (0 = the first) for every later
 * tfc_weights_load in the process; call it before the first (Halide keeps
 * the device it first opens; without it Halide reads the environment
 * variable HL_GPU_DEVICE, else takes the last device). 0 on success, 1 when
 * index < 0. A device that does not exist, or no OpenCL platform or CUDA
 * driver at all, makes tfc_weights_load fail with a message. */
const char *tfc_device_api(const tfc_model *model);
int tfc_select_device(int index);

/* Per-kernel timing: when enabled, tfc_forward accumulates the wall time of
 * each kernel; tfc_profile_print writes a table (kernel, calls, total ms,
 * share of the total) to a FILE* given as void* (stdout if NULL). */
void tfc_profile_enable(tfc_context *ctx, int enable);
void tfc_profile_print(const tfc_context *ctx, void *file);

#ifdef __cplusplus
}
#endif

#endif /* TFC_RUNTIME_H */
