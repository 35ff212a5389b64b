/* api_encdec.c WEIGHTS: drives a compiled tiny-encdec (vocab 64, max_seq 32,
 * 64 logits a row) through the encoder-decoder C API:
 *  - target tokens before any source are refused, and so are bad sources;
 *  - after tfc_set_source, target tokens appended one at a time give the
 *    rows of one tfc_forward over all of them (the decoder's KV cache and
 *    the cached cross-attention keys and values);
 *  - tfc_reset starts a new target on the same source;
 *  - another source changes the logits, and setting the first one again
 *    gives its logits back bit for bit (nothing of the other source stays);
 *  - encoder-only and batch-decode calls are refused. */
#include "tiny_encdec.h"
#include "tfc_plan.h" /* the plan itself: private, for this test only */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V 64
#define T 5

static int failures = 0;
static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  failures += !ok;
}

/* max |a - b| / max(1, |b|), NaN the worst. */
static float worstError(const float *a, const float *b, int count) {
  float worst = 0;
  for (int i = 0; i < count; ++i) {
    float d = fabsf(a[i] - b[i]) / fmaxf(1.0f, fabsf(b[i]));
    if (!(d <= worst))
      worst = d;
  }
  return worst;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: api_encdec WEIGHTS\n");
    return 2;
  }
  const tfc_model *m = tfc_model_tiny_encdec();
  tfc_weights *w = tfc_weights_load(m, argv[1]);
  if (!w) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 2;
  }
  tfc_context *ctx = tfc_context_create(w, &(tfc_context_params){.threads = 2});
  if (!ctx) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 2;
  }
  check(m->family == TFC_FAMILY_ENCODER_DECODER && m->num_source_steps > 0 &&
            m->num_source_steps < m->num_steps && tfc_output_cols(m) == V,
        "the plan says encoder-decoder, with source steps first");

  int32_t source[6] = {4, 8, 15, 16, 23, 42};
  int32_t other[3] = {7, 7, 30};
  int32_t target[T] = {1, 17, 22, 9, 3};
  static float full[T * V], step[T * V], again[T * V], row[V];

  check(tfc_append(ctx, target, T, full, 1) != 0,
        "target tokens before a source fail");
  printf("error: %s\n", tfc_last_error());
  int32_t bad[3] = {1, 2, 64};
  check(tfc_set_source(ctx, bad, 3) != 0, "source id 64 fails");
  printf("error: %s\n", tfc_last_error());
  static int32_t longSource[33];
  check(tfc_set_source(ctx, longSource, 33) != 0, "a source of 33 fails");
  printf("error: %s\n", tfc_last_error());
  check(tfc_set_source(ctx, NULL, 3) != 0 && tfc_source_length(ctx) == 0,
        "a NULL source fails and sets none");

  check(tfc_set_source(ctx, source, 6) == 0 && tfc_source_length(ctx) == 6 &&
            tfc_position(ctx) == 0,
        "tfc_set_source encodes 6 tokens");
  check(tfc_forward(ctx, target, T, full) == 0 && tfc_position(ctx) == T,
        "tfc_forward runs the target");
  tfc_reset(ctx);
  int ok = 1;
  for (int i = 0; i < T && ok; ++i)
    ok = tfc_append(ctx, &target[i], 1, step + i * V, 1) == 0;
  float e = worstError(step, full, T * V);
  check(ok && e <= 1e-4f && tfc_source_length(ctx) == 6,
        "one token at a time equals the full target (within 1e-4)");
  if (!(e <= 1e-4f))
    printf("  worst relative error %g\n", e);

  tfc_reset(ctx);
  check(tfc_append(ctx, target, T, again, 1) == 0 &&
            memcmp(again, full, sizeof full) == 0,
        "tfc_reset keeps the source: the same logits bit for bit");
  check(tfc_append(ctx, target, 1, row, 0) == 0 && tfc_position(ctx) == T + 1,
        "appending past the target continues it");

  check(tfc_set_source(ctx, other, 3) == 0 && tfc_position(ctx) == 0 &&
            tfc_source_length(ctx) == 3,
        "a new source starts a new target");
  check(tfc_forward(ctx, target, T, again) == 0 &&
            worstError(again, full, T * V) > 1e-3f,
        "another source changes the logits");
  check(tfc_set_source(ctx, source, 6) == 0 &&
            tfc_forward(ctx, target, T, again) == 0 &&
            memcmp(again, full, sizeof full) == 0,
        "the first source again gives its logits bit for bit");

  check(tfc_encode(ctx, target, NULL, NULL, T, full) != 0,
        "tfc_encode fails");
  printf("error: %s\n", tfc_last_error());
  tfc_context *ctxs[1] = {ctx};
  check(tfc_decode_batch(ctxs, 1, target, row) != 0,
        "tfc_decode_batch fails");
  printf("error: %s\n", tfc_last_error());

  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return failures ? 1 : 0;
}
