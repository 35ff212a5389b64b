/* Two models compiled by tfc in one program (tests/lit/compiled/
 * library-symbols.test): with -DMODEL_A, -DMODEL_B or both, runs each
 * model named on random weights over the tokens 1 2 3 and prints its name,
 * width and the argmax and sum of the last row of logits. The program with
 * both must print what the two programs with one print. */
#include <stdio.h>
#include <stdlib.h>

#include "tfc_runtime.h"
#ifdef MODEL_A
#include "tiny_decoder.h"
#endif
#ifdef MODEL_B
#include "tiny_llama.h"
#endif

static int run(const tfc_model *model) {
  const int32_t tokens[] = {1, 2, 3};
  tfc_weights *w = tfc_weights_random(model, 3);
  tfc_context *ctx = w ? tfc_context_create(w, NULL) : NULL;
  int64_t cols = tfc_output_cols(model);
  float *out = malloc(3 * (size_t)cols * sizeof *out);
  if (!ctx || !out || tfc_forward(ctx, tokens, 3, out) != 0) {
    fprintf(stderr, "error: %s\n", tfc_last_error());
    return 1;
  }
  const float *last = out + 2 * cols;
  int64_t best = 0;
  double sum = 0;
  for (int64_t i = 0; i < cols; ++i) {
    sum += last[i];
    if (last[i] > last[best])
      best = i;
  }
  printf("%s cols %lld argmax %lld sum %.3f\n", tfc_model_name(model),
         (long long)cols, (long long)best, sum);
  free(out);
  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return 0;
}

int main(void) {
  int status = 0;
#ifdef MODEL_A
  status |= run(tfc_model_tiny_decoder());
#endif
#ifdef MODEL_B
  status |= run(tfc_model_tiny_llama());
#endif
  return status;
}
