/*===- main.c - Embedding a tfc-compiled model in a C program ------------===
 *
 * Loads weights, runs a sequence of token ids through the model and prints
 * the five most likely next tokens with their logits:
 *
 *   embed-c W.safetensors 464 3290 318
 *
 * Model-agnostic: the build names the model's header and entry point with
 *   -DTFC_MODEL_HEADER='"tiny_decoder.h"' -DTFC_MODEL_FN=tfc_model_tiny_decoder
 *===----------------------------------------------------------------------===*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tfc_runtime.h"

#ifndef TFC_MODEL_HEADER
#define TFC_MODEL_HEADER "tiny_decoder.h"
#endif
#ifndef TFC_MODEL_FN
#define TFC_MODEL_FN tfc_model_tiny_decoder
#endif
#include TFC_MODEL_HEADER

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s WEIGHTS.safetensors TOKEN_ID...\n", argv[0]);
    return 2;
  }
  const tfc_model *model = TFC_MODEL_FN();
  int64_t n = argc - 2;
  int32_t *tokens = malloc((size_t)n * sizeof *tokens);
  float *logits = NULL;
  tfc_weights *weights = NULL;
  tfc_context *ctx = NULL;
  char err[512];
  int status = 1;
  if (!tokens) {
    fprintf(stderr, "%s: error: out of memory\n", argv[0]);
    return 1;
  }
  for (int64_t i = 0; i < n; ++i) {
    char *end;
    errno = 0;
    long id = strtol(argv[i + 2], &end, 10);
    if (errno || *end || end == argv[i + 2] || id < INT32_MIN ||
        id > INT32_MAX) {
      fprintf(stderr, "%s: error: '%s' is not a token id\n", argv[0],
              argv[i + 2]);
      free(tokens);
      return 2;
    }
    tokens[i] = (int32_t)id; /* the runtime checks the range [0, vocab) */
  }

  weights = tfc_weights_load(model, argv[1]);
  ctx = weights ? tfc_context_create(weights, NULL) : NULL;
  if (!ctx) {
    snprintf(err, sizeof err, "%s", tfc_last_error());
    goto fail;
  }

  /* The output is [n, cols]: one row of logits per token, row-major. */
  int64_t cols = tfc_output_cols(model);
  logits = malloc((size_t)(n * cols) * sizeof *logits);
  if (!logits) {
    snprintf(err, sizeof err, "out of memory for %lld logits",
             (long long)(n * cols));
    goto fail;
  }
  if (tfc_forward(ctx, tokens, n, logits) != 0) {
    snprintf(err, sizeof err, "%s", tfc_last_error());
    goto fail;
  }

  /* Top 5 of the last row by selection: cols is the vocabulary size. */
  const float *last = logits + (n - 1) * cols;
  int64_t best[5];
  int k = cols < 5 ? (int)cols : 5;
  for (int j = 0; j < k; ++j) {
    best[j] = -1;
    for (int64_t v = 0; v < cols; ++v) {
      int taken = 0;
      for (int i = 0; i < j; ++i)
        taken |= best[i] == v;
      if (!taken && (best[j] < 0 || last[v] > last[best[j]]))
        best[j] = v;
    }
    printf("%lld\t%.4f\n", (long long)best[j], (double)last[best[j]]);
  }
  status = 0;
  goto done;

fail:
  fprintf(stderr, "%s: error: %s\n", argv[0], err);
done:
  tfc_context_destroy(ctx);
  tfc_weights_free(weights);
  free(logits);
  free(tokens);
  return status;
}
