/*===- tfc_runtime.h - Run a model compiled by tfc ----------------*- C -*-===
 *
 * The C API of a compiled model. A program links the model's library
 * (`tfc compile SPEC --library -o DIR` writes libNAME.a and NAME.h, which
 * declares `const tfc_model *tfc_model_NAME(void)`; `--shared` writes
 * libNAME.so) and calls:
 *
 *   tfc_weights *w = tfc_weights_load(tfc_model_gpt2(), "w.safetensors");
 *   tfc_context *ctx = tfc_context_create(w, NULL);  // default parameters
 *   float *logits = malloc(n * tfc_output_cols(tfc_model_gpt2()) * 4);
 *   if (!w || !ctx || tfc_forward(ctx, tokens, n, logits) != 0)
 *     fprintf(stderr, "%s\n", tfc_last_error());
 *   tfc_context_destroy(ctx);
 *   tfc_weights_free(w);
 *
 * Errors, one convention for every call: a function that can fail returns
 * NULL (constructors) or a non-zero int (everything else; the int64_t
 * counts and token ids: -1), and tfc_last_error() then holds a one-line
 * message naming what and where. A NULL handle or pointer argument is such
 * a failure, never a crash; no function calls abort() or exit(). The
 * destructors (tfc_*_free, tfc_*_destroy) accept NULL. A context allocates
 * its arena once, at creation: tfc_forward allocates nothing.
 *
 * Versions: TFC_API_VERSION is the version of this header; tfc_api_version()
 * the library's. They differ only when a program was built against another
 * release than it runs with: check once at start-up.
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
 *    in use elsewhere during the call.
 *  - tfc_last_error() is per thread: a failure on one thread never
 *    overwrites the message another thread is reading. The string is valid
 *    until the next failing call on the same thread.
 *  - tfc_sampler: one thread at a time; use one per thread (its scratch and
 *    generator state are unsynchronised).
 *  - tfc_context_create and tfc_context_destroy may run on any threads at
 *    once. Halide's runtime is process-global: the first context created
 *    in the process installs the error handler and fixes the size of
 *    the kernels' thread pool, which every context then shares (a later
 *    context that asks for another count fails, saying so; 0 takes the
 *    pool as it is). The pool's workers spin for up to
 *    2 ms between parallel loops before they sleep (TFC_THREAD_POOL=halide
 *    in the environment uses Halide's own pool instead). Halide
 *    reports an error to the thread that hit it: a kernel's argument
 *    checks fail on the calling thread, whose context gets the message;
 *    a failure inside a parallel loop (on a pool worker) gives the
 *    context only Halide's error code.
 *  - tfc_tokenizer: read-only once loaded; any number of threads may
 *    tokenize and detokenize with one at once.
 *===----------------------------------------------------------------------===*/
#ifndef TFC_RUNTIME_H
#define TFC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. Version 1 is the first with an opaque model,
 * tfc_last_error, parameter structs and tokenizers. */
#define TFC_API_VERSION 1

/* Every function of the API is visible from a shared library built with
 * -fvisibility=hidden (tfc compile --shared); nothing else is. */
#if defined(_WIN32)
#define TFC_API __declspec(dllexport)
#else
#define TFC_API __attribute__((visibility("default")))
#endif

typedef struct tfc_model tfc_model; /* a compiled model: tfc_model_NAME() */
typedef struct tfc_weights tfc_weights;
typedef struct tfc_context tfc_context;
typedef struct tfc_sampler tfc_sampler;
typedef struct tfc_tokenizer tfc_tokenizer;

/* The API version of the library (TFC_API_VERSION when it was built). */
TFC_API int tfc_api_version(void);

/* The message of the calling thread's last failed call ("" if none). */
TFC_API const char *tfc_last_error(void);

/* --- The model ------------------------------------------------------------ */

/* Families (tfc_model_family). */
#define TFC_FAMILY_DECODER 0
#define TFC_FAMILY_ENCODER 1
#define TFC_FAMILY_VIT 2
#define TFC_FAMILY_ENCODER_DECODER 3

/* The spec's name, e.g. "gpt2-small" (NULL for a NULL model). */
TFC_API const char *tfc_model_name(const tfc_model *model);
/* TFC_FAMILY_*, or -1 for a NULL model. */
TFC_API int tfc_model_family(const tfc_model *model);
/* Output floats per row, the largest sequence, the vocabulary (token ids
 * must be < vocab; a ViT: 0); -1 for a NULL model. */
TFC_API int64_t tfc_output_cols(const tfc_model *model);
TFC_API int64_t tfc_max_seq(const tfc_model *model);
TFC_API int64_t tfc_vocab(const tfc_model *model);
/* Rows of output a call over n tokens writes: n, or 1 for a model whose
 * head pools (a ViT; an encoder with a classifier or BERT's pooler head,
 * whose tfc_encode writes output_cols floats). -1 for a NULL model. */
TFC_API int64_t tfc_output_rows(const tfc_model *model, int64_t n);
/* The tokenizer the spec names: "byte", "gpt2", or "none". */
TFC_API const char *tfc_model_tokenizer(const tfc_model *model);

/* --- Weights ---------------------------------------------------------------- */

/* Loads a safetensors file in any layout the model's spec supports (native,
 * hf-gpt2, hf-llama, ...; detected from the tensor names), converts each
 * tensor straight from the file's dtype to the form the kernels read and
 * checks every tensor against the model. The file must be a regular file;
 * its data section must hold exactly the tensors its header lists. NULL on
 * error. */
TFC_API tfc_weights *tfc_weights_load(const tfc_model *model, const char *path);
/* Deterministic random weights, the values `tfc init-weights SPEC --seed
 * SEED` writes, for benchmarks and checks with no weights file at hand. */
TFC_API tfc_weights *tfc_weights_random(const tfc_model *model, uint64_t seed);
TFC_API void tfc_weights_free(tfc_weights *weights);

/* --- Contexts ----------------------------------------------------------- */

typedef struct {
  /* Threads of the kernels' pool: 0 = the number of cores. The pool is
   * process-wide and sized by the first context; a later context asking
   * for a different count fails. */
  int32_t threads;
  /* 1: per-kernel timing from the start (tfc_profile_enable). */
  int32_t profile;
} tfc_context_params;

TFC_API tfc_context_params tfc_context_default_params(void);

/* A context: the activation arena (sized for max_seq) and the KV cache.
 * params NULL: tfc_context_default_params(). NULL on error. */
TFC_API tfc_context *tfc_context_create(const tfc_weights *weights,
                                        const tfc_context_params *params);
TFC_API void tfc_context_destroy(tfc_context *ctx);

/* One forward pass over n tokens; writes tfc_output_rows(model, n) *
 * tfc_output_cols(model) floats (logits, one row per token). */
TFC_API int tfc_forward(tfc_context *ctx, const int32_t *tokens, int64_t n,
                        float *output);

/* Generation with the KV cache. A context holds one sequence: tfc_append
 * runs n new tokens at the current position (the number of tokens already
 * cached), stores their keys and values in the cache and advances the
 * position. Prefill is tfc_append of the prompt; each decode step is
 * tfc_append of one token. With all_rows = 1 it writes n rows of logits,
 * with all_rows = 0 only the last row (what sampling needs; cheaper).
 * Past max_seq it fails with a "KV cache overflow" message and changes
 * nothing. tfc_forward is tfc_reset + tfc_append(..., all_rows = 1). */
TFC_API int tfc_append(tfc_context *ctx, const int32_t *tokens, int64_t n,
                       float *output, int all_rows);
TFC_API int tfc_reset(tfc_context *ctx); /* forget the sequence */
/* Tokens in the cache; -1 for a NULL context. */
TFC_API int64_t tfc_position(const tfc_context *ctx);

/* One decode step for b independent sequences at once, one context each
 * (same weights; each has its own KV cache and position): token i is
 * appended to ctxs[i], and row i of `output` (b * output_cols floats) gets
 * its logits. The projections, the MLP and the head read their weights once
 * for all b rows; the embedding, QKV and attention run per sequence, at
 * that sequence's position. The lead context ctxs[0] holds the batch's
 * activations. On error no position changes. b <= max_seq. */
TFC_API int tfc_decode_batch(tfc_context *const *ctxs, int32_t b,
                             const int32_t *tokens, float *output);

/* Encoders (TFC_FAMILY_ENCODER, e.g. BERT): every token attends to every
 * other (no KV cache, no state between calls). `types` are the token types
 * (segments; NULL = all 0); `mask` is the attention mask (1 = a token, 0 =
 * padding that no token attends to; NULL = all 1; at least one 1). Writes
 * tfc_output_rows(model, n) * output_cols floats: the final hidden state of
 * each token, or one row when the head pools. tfc_forward on an encoder is
 * tfc_encode(ctx, tokens, NULL, NULL, n, output); tfc_append and
 * tfc_decode_batch refuse encoders. */
TFC_API int tfc_encode(tfc_context *ctx, const int32_t *tokens,
                       const int32_t *types, const int32_t *mask, int64_t n,
                       float *output);
/* A padded batch: b sequences of n tokens each, row-major [b, n] tokens,
 * types (or NULL) and mask (or NULL), output [b, n, output_cols] ([b,
 * output_cols] when the head pools). On error the message names the
 * sequence. */
TFC_API int tfc_encode_batch(tfc_context *ctx, int32_t b, int64_t n,
                             const int32_t *tokens, const int32_t *types,
                             const int32_t *mask, float *output);

/* Encoder-decoders (TFC_FAMILY_ENCODER_DECODER, e.g. a translation model):
 * tfc_set_source runs the encoder over the s source tokens once and leaves
 * each decoder layer's cross-attention keys and values in the context's
 * cache; it also starts a new target (position 0). Then tfc_append (and
 * tfc_forward) run target tokens through the decoder exactly as for a
 * decoder-only model. tfc_reset starts a new target on the same source.
 * tfc_append before any source fails. tfc_source_length: S, or 0 when no
 * source is set (-1 for a NULL context). */
TFC_API int tfc_set_source(tfc_context *ctx, const int32_t *source, int64_t s);
TFC_API int64_t tfc_source_length(const tfc_context *ctx);

/* Image classifiers (TFC_FAMILY_VIT): one image, f32 [H, W, C] row-major
 * (already resized and normalised, e.g. by the executable's --image), to
 * output_cols logits, one per class. */
TFC_API int tfc_classify(tfc_context *ctx, const float *image, float *logits);

/* Pooling hidden states [n, output_cols] into one vector (output_cols
 * floats): TFC_POOL_CLS takes the first token's ([CLS]) state, TFC_POOL_MEAN
 * averages the tokens whose mask entry is 1 (mask NULL: every token), as
 * sentence-embedding models do. Fails on n < 1, an unknown pool or a mask
 * with no 1. */
#define TFC_POOL_CLS 0
#define TFC_POOL_MEAN 1
TFC_API int tfc_pool(const tfc_model *model, const float *hidden, int64_t n,
                     const int32_t *mask, int pool, float *out);

/* --- Sampling ------------------------------------------------------------- */

/* Sampling the next token from a row of logits. temperature 0 is greedy
 * (argmax, lowest id on ties); otherwise logits / temperature, restricted
 * to the top_k largest (0 = no limit), then to the smallest set whose
 * probability reaches top_p (1 = no limit), renormalised and drawn with a
 * generator seeded by `seed`: the same seed gives the same tokens. A
 * sampler allocates its scratch once; tfc_sampler_next allocates nothing
 * and returns the token id, or -1 on error. One sampler per thread. */
typedef struct {
  float temperature; /* default 0.8 */
  int32_t top_k;     /* default 40 */
  float top_p;       /* default 0.95 */
  uint64_t seed;     /* default 0 */
} tfc_sampler_params;

TFC_API tfc_sampler_params tfc_sampler_default_params(void);
/* params NULL: tfc_sampler_default_params(). */
TFC_API tfc_sampler *tfc_sampler_create(int64_t vocab,
                                        const tfc_sampler_params *params);
TFC_API int32_t tfc_sampler_next(tfc_sampler *sampler, const float *logits);
TFC_API void tfc_sampler_destroy(tfc_sampler *sampler);

/* --- Text ----------------------------------------------------------------- */

/* The model's own tokenizer (tfc_model_tokenizer): "byte" needs no files
 * (path may be NULL); "gpt2" reads encoder.json and vocab.bpe from the
 * directory `path`. A model that names no tokenizer fails. */
TFC_API tfc_tokenizer *tfc_tokenizer_load(const tfc_model *model,
                                          const char *path);
TFC_API void tfc_tokenizer_free(tfc_tokenizer *tokenizer);

/* The ids of `len` bytes of text, into tokens[0 .. capacity). Returns the
 * number of ids the text has (more than capacity: nothing was written;
 * call again with a buffer that large; tokens may be NULL when capacity is
 * 0, to count), or -1 on error. */
TFC_API int64_t tfc_tokenize(const tfc_tokenizer *tokenizer, const char *text,
                             size_t len, int32_t *tokens, int64_t capacity);
/* The text of n ids, into text[0 .. capacity) with a terminating NUL.
 * Returns the text's length in bytes without the NUL (capacity or more:
 * nothing was written; call again with a buffer of length + 1; text may be
 * NULL when capacity is 0, to measure), or -1 on error (an id outside the
 * vocabulary). */
TFC_API int64_t tfc_detokenize(const tfc_tokenizer *tokenizer,
                               const int32_t *tokens, int64_t n, char *text,
                               size_t capacity);

/* Text generation on a decoder (or encoder-decoder after tfc_set_source):
 * the prompt (a NUL-terminated string) is tokenized and appended at the
 * context's position (call tfc_reset first for a new conversation), then
 * up to max_tokens tokens are sampled one at a time, with a sampler made
 * from params->sampler for tfc_vocab(model) ids; each one's text goes to
 * `on_piece` as soon as it is complete UTF-8 (a token may end
 * mid-character: its bytes wait for the next; a cut character followed by
 * anything else, and what is left at the end, go on as they are). A piece
 * is also NUL-terminated (piece[len] == 0). on_piece may be NULL (nothing
 * is printed). Generation stops at max_tokens, at one of stop_tokens (not
 * printed), at max_seq, or when on_piece returns non-zero. The same
 * parameters and seed give the same tokens as the executable's --prompt
 * (which prints a --stop-token it stops at). */
typedef int (*tfc_piece_fn)(const char *piece, size_t len, void *user);

typedef struct {
  int32_t max_tokens;         /* default 64 */
  tfc_sampler_params sampler; /* default tfc_sampler_default_params() */
  const int32_t *stop_tokens; /* default NULL */
  int32_t num_stop_tokens;    /* default 0 */
} tfc_generate_params;

TFC_API tfc_generate_params tfc_generate_default_params(void);
/* Returns the number of tokens generated (stop token excluded), or -1 on
 * error (NULL context, tokenizer or prompt; a prompt that encodes to no
 * tokens or does not fit before max_seq; negative max_tokens or
 * num_stop_tokens; a stop token outside the vocabulary; bad sampler
 * parameters). params NULL: the defaults. */
TFC_API int64_t tfc_generate(tfc_context *ctx, const tfc_tokenizer *tokenizer,
                             const char *prompt,
                             const tfc_generate_params *params,
                             tfc_piece_fn on_piece, void *user);

/* --- Devices -------------------------------------------------------------- */

/* GPU models (tfc compile --target opencl|cuda) keep their weights (from
 * tfc_weights_load on), each context's arena and KV cache on a device; a
 * call copies its inputs in and its output out, and waits for the device
 * once. tfc_device_api: "opencl", "cuda", or NULL for a CPU model.
 * tfc_select_device picks the device (0 = the first) for every later
 * tfc_weights_load in the process; call it before the first (Halide keeps
 * the device it first opens; without it Halide reads the environment
 * variable HL_GPU_DEVICE, else takes the last device). Fails when index <
 * 0. A device that does not exist, or no OpenCL platform or CUDA driver at
 * all, makes tfc_weights_load fail with a message. */
TFC_API const char *tfc_device_api(const tfc_model *model);
TFC_API int tfc_select_device(int index);

/* --- Profiling ------------------------------------------------------------ */

/* Per-kernel timing: when enabled, every call accumulates the wall time of
 * each kernel; tfc_profile_print writes a table (kernel, calls, total ms,
 * share of the total) to `out` (stdout if NULL). */
TFC_API int tfc_profile_enable(tfc_context *ctx, int enable);
TFC_API int tfc_profile_print(const tfc_context *ctx, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* TFC_RUNTIME_H */
