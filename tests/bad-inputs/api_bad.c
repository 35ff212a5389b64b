/* api_bad.c WEIGHTS OTHER_WEIGHTS CASE: one bad call sequence of the C API
 * of a compiled tiny-decoder (vocab 64, max_seq 64), named by CASE (the
 * catalogue's api rows). It makes the bad call and reports what the API
 * said:
 *   exit 1, "error: MESSAGE" on stderr  the API refused the call (expected)
 *   exit 0, "accepted" on stdout        the API took the bad input
 *   exit 3                              setup failed, or no such CASE
 * OTHER_WEIGHTS is a weights file of another model (tiny-llama). */
#include "tiny_decoder.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V 64
#define MAX_SEQ 64

static char err[512];
static const char *weightsPath;
static const char *otherPath;
static int32_t tokens[MAX_SEQ + 8];
static float out[(MAX_SEQ + 8) * V];

static int refused(const char *msg) {
  fprintf(stderr, "error: %s\n", msg);
  return 1;
}

static int accepted(void) {
  printf("accepted\n");
  return 0;
}

/* The result of a call that returns non-zero on error. */
static int status(int rc, const char *msg) {
  return rc != 0 ? refused(msg) : accepted();
}

/* What a case created, freed at exit (so LeakSanitizer stays quiet). */
static tfc_weights *allWeights[4];
static tfc_context *allContexts[4];
static int numWeights, numContexts;

static void freeAll(void) {
  for (int i = 0; i < numContexts; ++i)
    tfc_context_destroy(allContexts[i]);
  for (int i = 0; i < numWeights; ++i)
    tfc_weights_free(allWeights[i]);
}

static tfc_weights *keepWeights(tfc_weights *w) {
  if (w)
    allWeights[numWeights++] = w;
  return w;
}

static tfc_context *keepContext(tfc_context *c) {
  if (c)
    allContexts[numContexts++] = c;
  return c;
}

static tfc_weights *load(void) {
  tfc_weights *w = keepWeights(
      tfc_weights_load(tfc_model_tiny_decoder(), weightsPath, err, sizeof err));
  if (!w) {
    fprintf(stderr, "setup: %s\n", err);
    exit(3);
  }
  return w;
}

static tfc_context *context(const tfc_weights *w) {
  tfc_context *ctx = keepContext(tfc_context_create(w, 1, err, sizeof err));
  if (!ctx) {
    fprintf(stderr, "setup: %s\n", err);
    exit(3);
  }
  return ctx;
}

/* Runs n good tokens so the context's cache holds n positions. */
static void prefill(tfc_context *ctx, int64_t n) {
  if (tfc_append(ctx, tokens, n, out, 0) != 0) {
    fprintf(stderr, "setup: %s\n", tfc_context_error(ctx));
    exit(3);
  }
}

static int sampler(int64_t vocab, float temperature, int32_t top_k,
                   float top_p) {
  tfc_sampler *s =
      tfc_sampler_create(vocab, temperature, top_k, top_p, 1, err, sizeof err);
  if (!s)
    return refused(err);
  tfc_sampler_destroy(s);
  return accepted();
}

static int run(const char *name) {
  const tfc_model *m = tfc_model_tiny_decoder();
#define CASE(s) if (strcmp(name, s) == 0)
  /* Loading weights. */
  CASE("load-null-model") {
    tfc_weights *w =
        keepWeights(tfc_weights_load(NULL, weightsPath, err, sizeof err));
    return w ? accepted() : refused(err);
  }
  CASE("load-null-path") {
    tfc_weights *w = keepWeights(tfc_weights_load(m, NULL, err, sizeof err));
    return w ? accepted() : refused(err);
  }
  CASE("load-missing-file") {
    tfc_weights *w = keepWeights(
        tfc_weights_load(m, "/nonexistent/w.safetensors", err, sizeof err));
    return w ? accepted() : refused(err);
  }
  CASE("load-other-model") {
    tfc_weights *w =
        keepWeights(tfc_weights_load(m, otherPath, err, sizeof err));
    return w ? accepted() : refused(err);
  }
  CASE("load-tiny-err-buffer") {
    /* A one-byte buffer gets only the terminator; the call still fails. */
    char small[1] = {'x'};
    tfc_weights *w =
        keepWeights(tfc_weights_load(m, NULL, small, sizeof small));
    if (w)
      return accepted();
    return small[0] == '\0' ? refused("NULL path, message truncated to ''")
                            : accepted();
  }
  CASE("ctx-null-weights") {
    tfc_context *c = keepContext(tfc_context_create(NULL, 1, err, sizeof err));
    return c ? accepted() : refused(err);
  }
  CASE("ctx-negative-threads") {
    tfc_context *c =
        keepContext(tfc_context_create(load(), -1, err, sizeof err));
    return c ? accepted() : refused(err);
  }

  /* One sequence. */
  tfc_weights *w = load();
  tfc_context *ctx = context(w);
  CASE("forward-null-context") {
    return status(tfc_forward(NULL, tokens, 3, out), tfc_context_error(NULL));
  }
  CASE("forward-null-tokens") {
    return status(tfc_forward(ctx, NULL, 3, out), tfc_context_error(ctx));
  }
  CASE("forward-null-output") {
    return status(tfc_forward(ctx, tokens, 3, NULL), tfc_context_error(ctx));
  }
  CASE("forward-n-zero") {
    return status(tfc_forward(ctx, tokens, 0, out), tfc_context_error(ctx));
  }
  CASE("forward-n-negative") {
    return status(tfc_forward(ctx, tokens, -5, out), tfc_context_error(ctx));
  }
  CASE("forward-n-above-max-seq") {
    return status(tfc_forward(ctx, tokens, MAX_SEQ + 1, out),
                  tfc_context_error(ctx));
  }
  CASE("forward-n-int64-max") {
    return status(tfc_forward(ctx, tokens, INT64_MAX, out),
                  tfc_context_error(ctx));
  }
  CASE("forward-token-vocab") {
    tokens[2] = V;
    return status(tfc_forward(ctx, tokens, 3, out), tfc_context_error(ctx));
  }
  CASE("forward-token-negative") {
    tokens[0] = -1;
    return status(tfc_forward(ctx, tokens, 3, out), tfc_context_error(ctx));
  }
  CASE("append-past-max-seq") {
    prefill(ctx, MAX_SEQ - 1);
    return status(tfc_append(ctx, tokens, 2, out, 0), tfc_context_error(ctx));
  }
  CASE("append-int64-max-after-prefill") {
    /* pos + n must not overflow in the bounds check. */
    prefill(ctx, 3);
    return status(tfc_append(ctx, tokens, INT64_MAX, out, 0),
                  tfc_context_error(ctx));
  }

  /* Batched decode. */
  tfc_context *ctx2 = context(w);
  tfc_context *pair[2] = {ctx, ctx2};
  CASE("batch-b-zero") {
    return status(tfc_decode_batch(pair, 0, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-b-negative") {
    return status(tfc_decode_batch(pair, -2, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-null-contexts") {
    return status(tfc_decode_batch(NULL, 2, tokens, out),
                  "tfc_decode_batch(NULL, ...) failed");
  }
  CASE("batch-null-member") {
    pair[1] = NULL;
    return status(tfc_decode_batch(pair, 2, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-shared-context") {
    pair[1] = ctx;
    return status(tfc_decode_batch(pair, 2, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-other-weights") {
    pair[1] = context(load());
    return status(tfc_decode_batch(pair, 2, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-null-tokens") {
    return status(tfc_decode_batch(pair, 2, NULL, out), tfc_context_error(ctx));
  }
  CASE("batch-token-vocab") {
    tokens[1] = V + 7;
    return status(tfc_decode_batch(pair, 2, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-past-max-seq") {
    prefill(ctx2, MAX_SEQ);
    return status(tfc_decode_batch(pair, 2, tokens, out),
                  tfc_context_error(ctx));
  }
  CASE("batch-b-above-max-seq") {
    tfc_context *many[MAX_SEQ + 1];
    for (int i = 0; i <= MAX_SEQ; ++i)
      many[i] = ctx;
    return status(tfc_decode_batch(many, MAX_SEQ + 1, tokens, out),
                  tfc_context_error(ctx));
  }

  /* Sampling. */
  CASE("sampler-temperature-negative") return sampler(V, -0.5f, 0, 1.0f);
  CASE("sampler-temperature-nan") return sampler(V, NAN, 0, 1.0f);
  CASE("sampler-temperature-inf") return sampler(V, INFINITY, 0, 1.0f);
  CASE("sampler-top-k-negative") return sampler(V, 1.0f, -1, 1.0f);
  CASE("sampler-top-p-zero") return sampler(V, 1.0f, 0, 0.0f);
  CASE("sampler-top-p-above-one") return sampler(V, 1.0f, 0, 1.5f);
  CASE("sampler-top-p-nan") return sampler(V, 1.0f, 0, NAN);
  CASE("sampler-vocab-zero") return sampler(0, 1.0f, 0, 1.0f);
  CASE("sampler-null-logits") {
    tfc_sampler *s = tfc_sampler_create(V, 0.0f, 0, 1.0f, 1, err, sizeof err);
    if (!s)
      return 3;
    int32_t id = tfc_sampler_next(s, NULL);
    return id < 0 ? refused("tfc_sampler_next(s, NULL) returned a negative id")
                  : accepted();
  }
#undef CASE
  fprintf(stderr, "api_bad: no case '%s'\n", name);
  return 3;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: api_bad WEIGHTS OTHER_WEIGHTS CASE\n");
    return 3;
  }
  weightsPath = argv[1];
  otherPath = argv[2];
  for (int i = 0; i < MAX_SEQ + 8; ++i)
    tokens[i] = (i * 7 + 1) % V;
  atexit(freeAll);
  return run(argv[3]);
}
