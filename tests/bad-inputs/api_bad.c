/* api_bad.c WEIGHTS OTHER_WEIGHTS CASE: one bad call sequence of the C API
 * of a compiled tiny-decoder (vocab 64, max_seq 64), named by CASE (the
 * catalogue's api rows). It makes the bad call and reports what the API
 * said:
 *   exit 1, "error: MESSAGE" on stderr  the API refused the call (expected)
 *   exit 0, "accepted" on stdout        the API took the bad input
 *   exit 3                              setup failed, or no such CASE
 * OTHER_WEIGHTS is a weights file of another model (tiny-llama).
 * Built with -DAPI_BAD_TEXT it drives the byte-tokenizer model tiny-bytes
 * (tests/lit/Inputs/tiny-bytes.yaml: vocab 256, max_seq 64) instead, with
 * random weights (WEIGHTS is not read), for the text calls' cases. */
#ifdef API_BAD_TEXT
#include "tiny_bytes.h"
#define MODEL tfc_model_tiny_bytes
#define V 256
#else
#include "tiny_decoder.h"
#define MODEL tfc_model_tiny_decoder
#define V 64
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEQ 64

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

/* The same with tfc_last_error(), read after the call (not as another
 * argument: C leaves the order of evaluation open, and the message of a
 * later failure may move the string). */
static int failed(int rc) {
  return rc != 0 ? refused(tfc_last_error()) : accepted();
}

/* What a case created, freed at exit (so LeakSanitizer stays quiet). */
static tfc_weights *allWeights[4];
static tfc_context *allContexts[4];
static int numWeights, numContexts;
static tfc_tokenizer *theTokenizer; /* the model's, made by tokenizer() */

static void freeAll(void) {
  for (int i = 0; i < numContexts; ++i)
    tfc_context_destroy(allContexts[i]);
  for (int i = 0; i < numWeights; ++i)
    tfc_weights_free(allWeights[i]);
  tfc_tokenizer_free(theTokenizer);
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
#ifdef API_BAD_TEXT
  tfc_weights *w = keepWeights(tfc_weights_random(MODEL(), 1));
#else
  tfc_weights *w = keepWeights(tfc_weights_load(MODEL(), weightsPath));
#endif
  if (!w) {
    fprintf(stderr, "setup: %s\n", tfc_last_error());
    exit(3);
  }
  return w;
}

static tfc_context *context(const tfc_weights *w) {
  tfc_context *ctx = keepContext(tfc_context_create(w, &(tfc_context_params){.threads = 1}));
  if (!ctx) {
    fprintf(stderr, "setup: %s\n", tfc_last_error());
    exit(3);
  }
  return ctx;
}

/* Runs n good tokens so the context's cache holds n positions. */
static void prefill(tfc_context *ctx, int64_t n) {
  if (tfc_append(ctx, tokens, n, out, 0) != 0) {
    fprintf(stderr, "setup: %s\n", tfc_last_error());
    exit(3);
  }
}

static int sampler(int64_t vocab, float temperature, int32_t top_k,
                   float top_p) {
  tfc_sampler *s =
      tfc_sampler_create(vocab, &(tfc_sampler_params){temperature, top_k, top_p, 1});
  if (!s)
    return refused(tfc_last_error());
  tfc_sampler_destroy(s);
  return accepted();
}

static tfc_tokenizer *tokenizer(void) {
  if (!theTokenizer)
    theTokenizer = tfc_tokenizer_load(MODEL(), NULL);
  if (!theTokenizer) {
    fprintf(stderr, "setup: %s\n", tfc_last_error());
    exit(3);
  }
  return theTokenizer;
}

/* The result of a call that returns -1 on error. */
static int count(int64_t n) {
  return n < 0 ? refused(tfc_last_error()) : accepted();
}

static int generate(tfc_context *ctx, const char *prompt,
                    const tfc_generate_params *p) {
  return count(tfc_generate(ctx, tokenizer(), prompt, p, NULL, NULL));
}

static int run(const char *name) {
  const tfc_model *m = MODEL();
#define CASE(s) if (strcmp(name, s) == 0)
  /* Loading weights. */
  CASE("load-null-model") {
    tfc_weights *w =
        keepWeights(tfc_weights_load(NULL, weightsPath));
    return w ? accepted() : refused(tfc_last_error());
  }
  CASE("load-null-path") {
    tfc_weights *w = keepWeights(tfc_weights_load(m, NULL));
    return w ? accepted() : refused(tfc_last_error());
  }
  CASE("load-missing-file") {
    tfc_weights *w = keepWeights(
        tfc_weights_load(m, "/nonexistent/w.safetensors"));
    return w ? accepted() : refused(tfc_last_error());
  }
  CASE("load-other-model") {
    tfc_weights *w =
        keepWeights(tfc_weights_load(m, otherPath));
    return w ? accepted() : refused(tfc_last_error());
  }
  CASE("ctx-threads-after-pool") {
    /* The first context sized the kernels' pool (1 thread); another count
     * is refused, not silently ignored. */
    context(load());
    tfc_context *c = keepContext(
        tfc_context_create(load(), &(tfc_context_params){.threads = 2}));
    return c ? accepted() : refused(tfc_last_error());
  }
  CASE("ctx-null-weights") {
    tfc_context *c = keepContext(tfc_context_create(NULL, &(tfc_context_params){.threads = 1}));
    return c ? accepted() : refused(tfc_last_error());
  }
  CASE("ctx-negative-threads") {
    tfc_context *c =
        keepContext(tfc_context_create(load(), &(tfc_context_params){.threads = -1}));
    return c ? accepted() : refused(tfc_last_error());
  }

  /* Tokenizers. */
  CASE("tokenizer-load-null-model") {
    tfc_tokenizer *t = tfc_tokenizer_load(NULL, NULL);
    tfc_tokenizer_free(t);
    return t ? accepted() : refused(tfc_last_error());
  }
  CASE("tokenizer-load-no-tokenizer") {
    tfc_tokenizer *t = tfc_tokenizer_load(m, "/nonexistent");
    tfc_tokenizer_free(t);
    return t ? accepted() : refused(tfc_last_error());
  }
  int32_t ids[8] = {72, 105, 33, 0, 0, 0, 0, 0};
  char text[16];
  CASE("tokenize-null-tokenizer")
    return count(tfc_tokenize(NULL, "Hi!", 3, ids, 8));
  CASE("tokenize-null-text")
    return count(tfc_tokenize(tokenizer(), NULL, 3, ids, 8));
  CASE("tokenize-null-tokens")
    return count(tfc_tokenize(tokenizer(), "Hi!", 3, NULL, 8));
  CASE("tokenize-negative-capacity")
    return count(tfc_tokenize(tokenizer(), "Hi!", 3, ids, -1));
  CASE("detokenize-null-tokenizer")
    return count(tfc_detokenize(NULL, ids, 3, text, sizeof text));
  CASE("detokenize-null-tokens")
    return count(tfc_detokenize(tokenizer(), NULL, 3, text, sizeof text));
  CASE("detokenize-negative-n")
    return count(tfc_detokenize(tokenizer(), ids, -2, text, sizeof text));
  CASE("detokenize-null-text")
    return count(tfc_detokenize(tokenizer(), ids, 3, NULL, sizeof text));
  CASE("detokenize-id-vocab") {
    ids[1] = V;
    return count(tfc_detokenize(tokenizer(), ids, 3, text, sizeof text));
  }
  CASE("detokenize-id-negative") {
    ids[0] = -1;
    return count(tfc_detokenize(tokenizer(), ids, 3, text, sizeof text));
  }

  /* One sequence. */
  tfc_weights *w = load();
  tfc_context *ctx = context(w);
  CASE("forward-null-context") {
    return failed(tfc_forward(NULL, tokens, 3, out));
  }
  CASE("forward-null-tokens") {
    return failed(tfc_forward(ctx, NULL, 3, out));
  }
  CASE("forward-null-output") {
    return failed(tfc_forward(ctx, tokens, 3, NULL));
  }
  CASE("forward-n-zero") {
    return failed(tfc_forward(ctx, tokens, 0, out));
  }
  CASE("forward-n-negative") {
    return failed(tfc_forward(ctx, tokens, -5, out));
  }
  CASE("forward-n-above-max-seq") {
    return failed(tfc_forward(ctx, tokens, MAX_SEQ + 1, out));
  }
  CASE("forward-n-int64-max") {
    return failed(tfc_forward(ctx, tokens, INT64_MAX, out));
  }
  CASE("forward-token-vocab") {
    tokens[2] = V;
    return failed(tfc_forward(ctx, tokens, 3, out));
  }
  CASE("forward-token-negative") {
    tokens[0] = -1;
    return failed(tfc_forward(ctx, tokens, 3, out));
  }
  CASE("append-past-max-seq") {
    prefill(ctx, MAX_SEQ - 1);
    return failed(tfc_append(ctx, tokens, 2, out, 0));
  }
  CASE("append-int64-max-after-prefill") {
    /* pos + n must not overflow in the bounds check. */
    prefill(ctx, 3);
    return failed(tfc_append(ctx, tokens, INT64_MAX, out, 0));
  }

  /* Text generation. */
  tfc_generate_params gp = tfc_generate_default_params();
  gp.max_tokens = 4;
  CASE("generate-null-context")
    return count(tfc_generate(NULL, tokenizer(), "Hi", &gp, NULL, NULL));
  CASE("generate-null-tokenizer")
    return count(tfc_generate(ctx, NULL, "Hi", &gp, NULL, NULL));
  CASE("generate-null-prompt") return generate(ctx, NULL, &gp);
  CASE("generate-empty-prompt") return generate(ctx, "", &gp);
  CASE("generate-negative-max-tokens") {
    gp.max_tokens = -1;
    return generate(ctx, "Hi", &gp);
  }
  CASE("generate-null-stop-tokens") {
    gp.num_stop_tokens = 2;
    return generate(ctx, "Hi", &gp);
  }
  CASE("generate-negative-stop-count") {
    gp.num_stop_tokens = -1;
    return generate(ctx, "Hi", &gp);
  }
  CASE("generate-stop-token-vocab") {
    int32_t stop[2] = {10, V};
    gp.stop_tokens = stop;
    gp.num_stop_tokens = 2;
    return generate(ctx, "Hi", &gp);
  }
  CASE("generate-bad-temperature") {
    gp.sampler.temperature = -1.0f;
    return generate(ctx, "Hi", &gp);
  }
  CASE("generate-prompt-past-max-seq") {
    char longText[MAX_SEQ + 2];
    memset(longText, 'a', MAX_SEQ + 1);
    longText[MAX_SEQ + 1] = '\0';
    return generate(ctx, longText, &gp);
  }
  CASE("generate-prompt-after-cached") {
    prefill(ctx, 60);
    return generate(ctx, "abcdefgh", &gp);
  }

  /* Batched decode. */
  tfc_context *ctx2 = context(w);
  tfc_context *pair[2] = {ctx, ctx2};
  CASE("batch-b-zero") {
    return failed(tfc_decode_batch(pair, 0, tokens, out));
  }
  CASE("batch-b-negative") {
    return failed(tfc_decode_batch(pair, -2, tokens, out));
  }
  CASE("batch-null-contexts") {
    return status(tfc_decode_batch(NULL, 2, tokens, out),
                  "tfc_decode_batch(NULL, ...) failed");
  }
  CASE("batch-null-member") {
    pair[1] = NULL;
    return failed(tfc_decode_batch(pair, 2, tokens, out));
  }
  CASE("batch-shared-context") {
    pair[1] = ctx;
    return failed(tfc_decode_batch(pair, 2, tokens, out));
  }
  CASE("batch-other-weights") {
    pair[1] = context(load());
    return failed(tfc_decode_batch(pair, 2, tokens, out));
  }
  CASE("batch-null-tokens") {
    return failed(tfc_decode_batch(pair, 2, NULL, out));
  }
  CASE("batch-token-vocab") {
    tokens[1] = V + 7;
    return failed(tfc_decode_batch(pair, 2, tokens, out));
  }
  CASE("batch-past-max-seq") {
    prefill(ctx2, MAX_SEQ);
    return failed(tfc_decode_batch(pair, 2, tokens, out));
  }
  CASE("batch-b-above-max-seq") {
    tfc_context *many[MAX_SEQ + 1];
    for (int i = 0; i <= MAX_SEQ; ++i)
      many[i] = ctx;
    return failed(tfc_decode_batch(many, MAX_SEQ + 1, tokens, out));
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
    tfc_sampler *s = tfc_sampler_create(V, &(tfc_sampler_params){0.0f, 0, 1.0f, 1});
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
