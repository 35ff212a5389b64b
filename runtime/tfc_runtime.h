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
 * Thread safety: a tfc_weights may be shared by many contexts; a context is
 * used by one thread at a time.
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

/* A context: the activation arena (sized for max_seq) and the thread count
 * (0 = the number of cores). The first context fixes Halide's thread pool
 * size for the process. NULL on error. */
tfc_context *tfc_context_create(const tfc_weights *weights, int threads,
                                char *err, size_t err_size);
void tfc_context_destroy(tfc_context *ctx);

/* One forward pass over n tokens; writes n * tfc_output_cols(model) floats
 * (logits, one row per token). 0 on success; otherwise non-zero and
 * tfc_context_error(ctx) says why. */
int tfc_forward(tfc_context *ctx, const int32_t *tokens, int64_t n,
                float *output);
const char *tfc_context_error(const tfc_context *ctx);

int64_t tfc_output_cols(const tfc_model *model);
int64_t tfc_max_seq(const tfc_model *model);
int64_t tfc_vocab(const tfc_model *model);

/* Per-kernel timing: when enabled, tfc_forward accumulates the wall time of
 * each kernel; tfc_profile_print writes a table (kernel, calls, total ms,
 * share of the total) to a FILE* given as void* (stdout if NULL). */
void tfc_profile_enable(tfc_context *ctx, int enable);
void tfc_profile_print(const tfc_context *ctx, void *file);

#ifdef __cplusplus
}
#endif

#endif /* TFC_RUNTIME_H */
