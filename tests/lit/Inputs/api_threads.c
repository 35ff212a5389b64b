/* api_threads.c WEIGHTS: one loaded model shared by 8 threads, each
 * generating with its own context and sampler; every thread's tokens must
 * equal what the same session produces alone. */
#include "tiny_decoder.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define THREADS 8
#define STEPS 40
#define V 64

static tfc_weights *weights;

struct job {
  int id;
  int32_t out[STEPS];
  int ok;
};

/* Prefill a prompt that depends on the job, then sample STEPS tokens. */
static void generate(struct job *j) {
  char err[256];
  j->ok = 0;
  tfc_context *ctx = tfc_context_create(weights, 1, err, sizeof err);
  tfc_sampler *s =
      tfc_sampler_create(V, 0.9f, 20, 0.95f, 100 + j->id, err, sizeof err);
  if (!ctx || !s)
    return;
  int32_t prompt[5];
  for (int i = 0; i < 5; ++i)
    prompt[i] = (j->id * 11 + i * 3) % V;
  float row[V];
  if (tfc_append(ctx, prompt, 5, row, 0) != 0)
    return;
  for (int t = 0; t < STEPS; ++t) {
    j->out[t] = tfc_sampler_next(s, row);
    if (t + 1 < STEPS && tfc_append(ctx, &j->out[t], 1, row, 0) != 0)
      return;
  }
  j->ok = 1;
  tfc_sampler_destroy(s);
  tfc_context_destroy(ctx);
}

static void *worker(void *arg) {
  generate((struct job *)arg);
  return NULL;
}

int main(int argc, char **argv) {
  char err[512];
  if (argc != 2)
    return 2;
  weights =
      tfc_weights_load(tfc_model_tiny_decoder(), argv[1], err, sizeof err);
  if (!weights) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  static struct job alone[THREADS], together[THREADS];
  for (int i = 0; i < THREADS; ++i) {
    alone[i].id = together[i].id = i;
    generate(&alone[i]);
  }
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; ++i)
    pthread_create(&th[i], NULL, worker, &together[i]);
  for (int i = 0; i < THREADS; ++i)
    pthread_join(th[i], NULL);
  int same = 0;
  for (int i = 0; i < THREADS; ++i)
    same += alone[i].ok && together[i].ok &&
            memcmp(alone[i].out, together[i].out, sizeof alone[i].out) == 0;
  printf("%d of %d threads match their single-threaded tokens\n", same,
         THREADS);
  tfc_weights_free(weights);
  return same == THREADS ? 0 : 1;
}
