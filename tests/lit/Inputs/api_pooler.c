/* api_pooler.c WEIGHTS: a compiled tiny-bert-pooler (an encoder whose head
 * is BERT's pooler) writes one row: tfc_output_rows says 1, tfc_encode
 * writes output_cols floats and nothing past them, and tfc_encode_batch
 * writes [b, output_cols], row i equal to sequence i's own tfc_encode. */
#include "tiny_bert_pooler.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define D 32
#define N 6

static int failures = 0;
static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  failures += !ok;
}

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  const tfc_model *m = tfc_model_tiny_bert_pooler();
  tfc_weights *w = tfc_weights_load(m, argv[1]);
  tfc_context *ctx = w ? tfc_context_create(w, &(tfc_context_params){.threads = 2}) : NULL;
  if (!ctx) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 2;
  }
  check(tfc_output_rows(m, N) == 1 && tfc_output_cols(m) == D,
        "one pooled row of 32");
  int32_t tokens[2 * N] = {2, 5, 7, 9, 3, 0, 2, 6, 8, 12, 13, 3};
  int32_t mask[2 * N] = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
  static float one[2][N * D], batch[2 * D];
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < N * D; ++i)
      one[s][i] = 12345.0f; /* must stay past the first row */
    if (tfc_encode(ctx, tokens + s * N, NULL, mask + s * N, N, one[s]) != 0)
      fprintf(stderr, "%s\n", tfc_last_error());
  }
  int untouched = 1, bounded = 1;
  for (int i = D; i < N * D; ++i)
    untouched = untouched && one[0][i] == 12345.0f;
  for (int i = 0; i < D; ++i)
    bounded = bounded && fabsf(one[0][i]) <= 1.0f; /* tanh */
  check(untouched && bounded, "tfc_encode writes one row, in [-1, 1]");
  check(tfc_encode_batch(ctx, 2, N, tokens, NULL, mask, batch) == 0 &&
            memcmp(batch, one[0], D * sizeof(float)) == 0 &&
            memcmp(batch + D, one[1], D * sizeof(float)) == 0,
        "tfc_encode_batch writes [2, 32]: each sequence's own row");
  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return failures ? 1 : 0;
}
