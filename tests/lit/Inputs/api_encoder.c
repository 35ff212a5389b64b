/* api_encoder.c WEIGHTS: drives a compiled tiny-encoder (max_seq 32, d 32,
 * two token types) through the encoder C API:
 *  - a padded batch: sequence 0 has 5 tokens and 3 padding tokens, and its
 *    first 5 rows must equal those of the same 5 tokens run alone (padding
 *    changes no other token's output); changing the padding tokens' ids
 *    and types changes none of them either, bit for bit;
 *  - sequence 1 (8 tokens, no padding) equals its own tfc_encode;
 *  - the mask does matter where it is 1: unmasking the padding changes the
 *    other rows;
 *  - tfc_pool: cls is row 0, mean averages the masked-in rows;
 *  - bad types, bad masks and decoder-only calls are errors that name what
 *    is wrong. */
#include "tiny_encoder.h"
#include "tfc_plan.h" /* the plan itself: private, for this test only */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D 32
#define N 8

static int failures = 0;
static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  failures += !ok;
}

static float maxDiff(const float *a, const float *b, int count) {
  float worst = 0;
  for (int i = 0; i < count; ++i) {
    float d = fabsf(a[i] - b[i]);
    if (!(d <= worst))
      worst = d; /* NaN counts as the worst */
  }
  return worst;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: api_encoder WEIGHTS\n");
    return 2;
  }
  const tfc_model *m = tfc_model_tiny_encoder();
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
  check(m->family == TFC_FAMILY_ENCODER && m->type_vocab == 2 &&
            tfc_output_cols(m) == D,
        "the plan says encoder, 2 token types, 32 columns");

  int32_t tokens[2 * N] = {2, 17, 9, 40, 3, 0, 0, 0,
                           2, 5, 6, 7, 8, 9, 10, 3};
  int32_t types[2 * N] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
  int32_t mask[2 * N] = {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static float batch[2 * N * D], again[2 * N * D], alone[N * D];
  static float unmasked[N * D];
  if (tfc_encode_batch(ctx, 2, N, tokens, types, mask, batch) != 0) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 1;
  }
  if (tfc_encode(ctx, tokens, types, NULL, 5, alone) != 0) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 1;
  }
  float d = maxDiff(batch, alone, 5 * D);
  printf("padded vs alone: max difference %g\n", d);
  check(d <= 1e-6f, "padding does not change the other tokens' outputs");

  int32_t tokens2[2 * N], types2[2 * N];
  memcpy(tokens2, tokens, sizeof tokens);
  memcpy(types2, types, sizeof types);
  tokens2[5] = 63, tokens2[6] = 1, tokens2[7] = 30;
  types2[5] = 1, types2[7] = 1;
  if (tfc_encode_batch(ctx, 2, N, tokens2, types2, mask, again) != 0) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 1;
  }
  check(memcmp(batch, again, 5 * D * sizeof(float)) == 0,
        "other padding ids leave the tokens' rows bit for bit");
  check(memcmp(batch + N * D, again + N * D, N * D * sizeof(float)) == 0,
        "and the other sequence's rows");

  if (tfc_encode(ctx, tokens + N, types + N, NULL, N, alone) != 0) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 1;
  }
  check(maxDiff(batch + N * D, alone, N * D) == 0,
        "sequence 1 of the batch equals its own tfc_encode");

  if (tfc_encode(ctx, tokens, types, NULL, N, unmasked) != 0) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 1;
  }
  d = maxDiff(batch, unmasked, 5 * D);
  check(d > 1e-3f, "attending to the padding changes the tokens' rows");

  float pooled[D], expect[D];
  check(tfc_pool(m, batch, N, mask, TFC_POOL_CLS, pooled) == 0 &&
            memcmp(pooled, batch, sizeof pooled) == 0,
        "cls pooling is row 0");
  for (int c = 0; c < D; ++c) {
    expect[c] = 0;
    for (int i = 0; i < 5; ++i)
      expect[c] += batch[i * D + c];
    expect[c] /= 5;
  }
  check(tfc_pool(m, batch, N, mask, TFC_POOL_MEAN, pooled) == 0 &&
            maxDiff(pooled, expect, D) <= 1e-6f,
        "mean pooling averages the masked-in rows");
  int32_t none[N] = {0};
  check(tfc_pool(m, batch, N, none, TFC_POOL_MEAN, pooled) != 0,
        "mean pooling of no row fails");

  int32_t badTypes[N] = {0, 0, 2, 0, 0, 0, 0, 0};
  check(tfc_encode(ctx, tokens, badTypes, NULL, N, alone) != 0,
        "token type 2 fails");
  printf("error: %s\n", tfc_last_error());
  int32_t badMask[N] = {1, 1, 2, 1, 1, 1, 1, 1};
  check(tfc_encode(ctx, tokens, NULL, badMask, N, alone) != 0,
        "mask entry 2 fails");
  printf("error: %s\n", tfc_last_error());
  check(tfc_encode(ctx, tokens, NULL, none, N, alone) != 0,
        "an all-padding mask fails");
  printf("error: %s\n", tfc_last_error());
  int32_t badBatch[2 * N];
  memcpy(badBatch, tokens, sizeof tokens);
  badBatch[N + 3] = 64;
  check(tfc_encode_batch(ctx, 2, N, badBatch, types, mask, again) != 0,
        "a bad token in sequence 1 fails");
  printf("error: %s\n", tfc_last_error());
  check(tfc_append(ctx, tokens, 4, alone, 1) != 0, "tfc_append fails");
  printf("error: %s\n", tfc_last_error());

  /* tfc_forward is tfc_encode with the defaults. */
  check(tfc_forward(ctx, tokens + N, N, again) == 0 &&
            tfc_encode(ctx, tokens + N, NULL, NULL, N, alone) == 0 &&
            memcmp(again, alone, sizeof alone) == 0,
        "tfc_forward equals tfc_encode with the defaults");

  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return failures ? 1 : 0;
}
