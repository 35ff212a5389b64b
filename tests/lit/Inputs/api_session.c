/* api_session.c WEIGHTS: drives a compiled tiny-decoder (max_seq 64)
 * through the C API's session calls: prefill + decode with tfc_append must
 * equal full forward passes; past max_seq tfc_append fails with a KV cache
 * overflow and leaves the position alone; tfc_reset starts over. */
#include "tiny_decoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V 64

static int check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: api_session WEIGHTS\n");
    return 2;
  }
  const tfc_model *m = tfc_model_tiny_decoder();
  tfc_weights *w = tfc_weights_load(m, argv[1]);
  if (!w) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 2;
  }
  tfc_context *ctx = tfc_context_create(w, &(tfc_context_params){.threads = 2});
  int32_t tokens[64];
  for (int i = 0; i < 64; ++i)
    tokens[i] = (i * 13 + 5) % V;
  static float full[64 * V], row[V];
  int bad = 0;

  /* Prefill 10, then decode 50 one at a time; compare each row with a full
   * forward pass over the same prefix. */
  if (tfc_forward(ctx, tokens, 60, full) != 0) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 2;
  }
  tfc_reset(ctx);
  double worst = 0;
  int failures = tfc_append(ctx, tokens, 10, row, 0);
  for (int j = 0; j < V; ++j)
    worst = fmax(worst, fabs(row[j] - full[9 * V + j]) /
                            fmax(1, fabs(full[9 * V + j])));
  for (int i = 10; i < 60; ++i) {
    failures += tfc_append(ctx, &tokens[i], 1, row, 0);
    for (int j = 0; j < V; ++j)
      worst = fmax(worst, fabs(row[j] - full[i * V + j]) /
                              fmax(1, fabs(full[i * V + j])));
  }
  bad +=
      check(failures == 0 && worst <= 1e-4, "decode rows equal forward rows");
  bad += check(tfc_position(ctx) == 60, "position after 60 tokens");

  /* 4 more fit, the 5th overflows. */
  bad += check(tfc_append(ctx, tokens, 4, row, 0) == 0, "append up to max_seq");
  bad += check(tfc_append(ctx, tokens, 1, row, 0) != 0,
               "append past max_seq fails");
  printf("error: %s\n", tfc_last_error());
  bad += check(tfc_position(ctx) == 64, "position unchanged by the failure");
  bad += check(tfc_append(ctx, tokens, 65, row, 0) != 0, "long append fails");
  tfc_reset(ctx);
  bad += check(tfc_position(ctx) == 0, "reset");
  bad += check(tfc_append(ctx, tokens, 1, row, 0) == 0, "append after reset");
  int32_t badTok = V;
  bad +=
      check(tfc_append(ctx, &badTok, 1, row, 0) != 0, "token id out of range");
  printf("error: %s\n", tfc_last_error());

  /* A full forward pass after last-row appends still gives every row. */
  static float again[64 * V];
  bad += check(tfc_forward(ctx, tokens, 60, again) == 0 &&
                   memcmp(again, full, sizeof(float) * 60 * V) == 0,
               "forward after appends is unchanged");

  /* Batched decode: three sequences with prompts of 5, 9 and 1 tokens,
   * 20 greedy steps in one batch; each row must equal a full forward pass
   * over that sequence's own prefix. */
  enum { B = 3, STEPS = 20 };
  tfc_context *seq[B];
  int32_t hist[B][64];
  int len[B] = {5, 9, 1};
  static float logits[B * V];
  int failed = 0;
  double worstB = 0;
  for (int b = 0; b < B; ++b) {
    seq[b] = tfc_context_create(w, &(tfc_context_params){.threads = 2});
    for (int i = 0; i < len[b]; ++i)
      hist[b][i] = (i * 7 + 3 * b + 1) % V;
    failed += tfc_append(seq[b], hist[b], len[b], &logits[b * V], 0);
  }
  for (int step = 0; step < STEPS && !failed; ++step) {
    int32_t next[B];
    for (int b = 0; b < B; ++b) {
      int best = 0;
      for (int j = 1; j < V; ++j)
        if (logits[b * V + j] > logits[b * V + best])
          best = j;
      next[b] = best;
      hist[b][len[b]++] = best;
    }
    if (tfc_decode_batch(seq, B, next, logits) != 0) {
      printf("error: %s\n", tfc_last_error());
      failed = 1;
      break;
    }
    for (int b = 0; b < B; ++b) {
      tfc_forward(ctx, hist[b], len[b], full);
      const float *want = &full[(len[b] - 1) * V];
      for (int j = 0; j < V; ++j)
        worstB = fmax(worstB, fabs(logits[b * V + j] - want[j]) /
                                  fmax(1, fabs(want[j])));
    }
  }
  bad += check(!failed && worstB <= 1e-4,
               "batched decode rows equal forward rows");
  bad += check(tfc_position(seq[0]) == 25 && tfc_position(seq[1]) == 29 &&
                   tfc_position(seq[2]) == 21,
               "each sequence advanced by the batch");
  /* A bad token names its sequence; positions stay. */
  int32_t badBatch[B] = {1, V, 2};
  bad += check(tfc_decode_batch(seq, B, badBatch, logits) != 0,
               "batch with a bad token fails");
  printf("error: %s\n", tfc_last_error());
  bad +=
      check(tfc_position(seq[0]) == 25, "positions unchanged by the failure");
  for (int b = 0; b < B; ++b)
    tfc_context_destroy(seq[b]);

  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return bad ? 1 : 0;
}
