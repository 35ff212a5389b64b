/* api_threads.c WEIGHTS [HALIDE_THREADS]: one loaded model shared by 8
 * threads, each generating with its own context and sampler; every thread's
 * tokens must equal what the same session produces alone. HALIDE_THREADS
 * (default 1) is the thread count of the contexts: the first one fixes the
 * size of Halide's process-wide pool, which above 1 runs every parallel
 * kernel loop on its worker threads (tsan-halide-pool.test).
 * api_threads WEIGHTS THREADS shared-context misuses the API on purpose:
 * the 8 threads share one context, a data race ThreadSanitizer must report
 * (tsan-shared-context.test). */
#include "tiny_decoder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define STEPS 40
#define V 64

static tfc_weights *weights;
static int halide_threads = 1;
static tfc_context *shared; /* the misuse mode's one context */

struct job {
  int id;
  int32_t out[STEPS];
  int ok;
};

/* Prefill a prompt that depends on the job, then sample STEPS tokens. */
static void generate(struct job *j) {
  j->ok = 0;
  tfc_context *ctx =
      shared ? shared
             : tfc_context_create(weights, &(tfc_context_params){.threads = halide_threads});
  tfc_sampler *s =
      tfc_sampler_create(V, &(tfc_sampler_params){0.9f, 20, 0.95f, 100 + j->id});
  int32_t prompt[5];
  for (int i = 0; i < 5; ++i)
    prompt[i] = (j->id * 11 + i * 3) % V;
  float row[V];
  int ok = ctx && s && tfc_append(ctx, prompt, 5, row, 0) == 0;
  for (int t = 0; ok && t < STEPS; ++t) {
    j->out[t] = tfc_sampler_next(s, row);
    ok = t + 1 == STEPS || tfc_append(ctx, &j->out[t], 1, row, 0) == 0;
  }
  if (!ok)
    fprintf(stderr, "job %d: %s\n", j->id, tfc_last_error());
  j->ok = ok;
  tfc_sampler_destroy(s);
  if (ctx != shared)
    tfc_context_destroy(ctx);
}

static void *worker(void *arg) {
  generate((struct job *)arg);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4 || (argc == 4 && strcmp(argv[3], "shared-context")))
    return 2;
  if (argc >= 3)
    halide_threads = atoi(argv[2]);
  weights =
      tfc_weights_load(tfc_model_tiny_decoder(), argv[1]);
  if (!weights) {
    fprintf(stderr, "%s\n", tfc_last_error());
    return 2;
  }
  static struct job alone[THREADS], together[THREADS];
  if (argc == 4) {
    shared = tfc_context_create(weights, &(tfc_context_params){.threads = halide_threads});
    if (!shared) {
      fprintf(stderr, "%s\n", tfc_last_error());
      return 2;
    }
  }
  for (int i = 0; i < THREADS; ++i) {
    alone[i].id = together[i].id = i;
    if (!shared)
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
  tfc_context_destroy(shared);
  tfc_weights_free(weights);
  return same == THREADS ? 0 : 1;
}
