/*===- main.c - A tfc-compiled model loaded at run time with dlopen ------===
 *
 * Loads a model's shared library (`tfc compile SPEC --shared -o DIR` writes
 * DIR/libNAME.so), finds its entry point tfc_model_NAME and the API with
 * dlsym, runs a sequence of token ids and prints the five most likely next
 * tokens with their logits, as examples/embed-c does:
 *
 *   dlopen-c ./libtiny_decoder.so tiny_decoder W.safetensors 1 2 3
 *
 * Nothing of the model is linked in: the program needs only tfc_runtime.h
 * (for the types) and libdl. Each library dlopen'ed with RTLD_LOCAL keeps
 * its own runtime: several models (or versions) can be loaded at once.
 *===----------------------------------------------------------------------===*/
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tfc_runtime.h"

/* The API functions this program calls, looked up in the library. */
typedef struct {
  int (*api_version)(void);
  const char *(*last_error)(void);
  int64_t (*output_cols)(const tfc_model *);
  tfc_weights *(*weights_load)(const tfc_model *, const char *);
  void (*weights_free)(tfc_weights *);
  tfc_context *(*context_create)(const tfc_weights *,
                                 const tfc_context_params *);
  void (*context_destroy)(tfc_context *);
  int (*forward)(tfc_context *, const int32_t *, int64_t, float *);
} api;

static void *find(void *lib, const char *name, int *missing) {
  void *p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "dlopen-c: error: %s\n", dlerror());
    *missing = 1;
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr,
            "usage: %s LIBNAME.so NAME WEIGHTS.safetensors TOKEN_ID...\n",
            argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen-c: error: %s\n", dlerror());
    return 1;
  }
  char entry[256];
  snprintf(entry, sizeof entry, "tfc_model_%s", argv[2]);
  int missing = 0;
  const tfc_model *(*model_fn)(void) =
      (const tfc_model *(*)(void))find(lib, entry, &missing);
  api f;
  f.api_version = (int (*)(void))find(lib, "tfc_api_version", &missing);
  f.last_error = (const char *(*)(void))find(lib, "tfc_last_error", &missing);
  f.output_cols = (int64_t(*)(const tfc_model *))find(lib, "tfc_output_cols",
                                                      &missing);
  f.weights_load = (tfc_weights * (*)(const tfc_model *, const char *))
      find(lib, "tfc_weights_load", &missing);
  f.weights_free = (void (*)(tfc_weights *))find(lib, "tfc_weights_free",
                                                 &missing);
  f.context_create =
      (tfc_context * (*)(const tfc_weights *, const tfc_context_params *))
          find(lib, "tfc_context_create", &missing);
  f.context_destroy = (void (*)(tfc_context *))find(lib, "tfc_context_destroy",
                                                    &missing);
  f.forward = (int (*)(tfc_context *, const int32_t *, int64_t, float *))find(
      lib, "tfc_forward", &missing);
  if (missing)
    return 1;
  if (f.api_version() != TFC_API_VERSION) {
    fprintf(stderr, "dlopen-c: error: %s has API version %d, this program %d\n",
            argv[1], f.api_version(), TFC_API_VERSION);
    return 1;
  }

  const tfc_model *model = model_fn();
  int64_t n = argc - 4;
  int32_t *tokens = malloc((size_t)n * sizeof *tokens);
  if (!tokens)
    return 1;
  for (int64_t i = 0; i < n; ++i) {
    char *end;
    errno = 0;
    long id = strtol(argv[i + 4], &end, 10);
    if (errno || *end || end == argv[i + 4] || id < INT32_MIN ||
        id > INT32_MAX) {
      fprintf(stderr, "dlopen-c: error: '%s' is not a token id\n", argv[i + 4]);
      return 2;
    }
    tokens[i] = (int32_t)id;
  }
  int status = 1;
  float *logits = NULL;
  tfc_context *ctx = NULL;
  tfc_weights *weights = f.weights_load(model, argv[3]);
  int64_t cols = f.output_cols(model);
  if (weights)
    ctx = f.context_create(weights, NULL);
  if (ctx)
    logits = malloc((size_t)(n * cols) * sizeof *logits);
  if (!logits || f.forward(ctx, tokens, n, logits) != 0) {
    fprintf(stderr, "dlopen-c: error: %s\n",
            ctx && !logits ? "out of memory" : f.last_error());
  } else {
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
  }
  f.context_destroy(ctx);
  f.weights_free(weights);
  free(logits);
  free(tokens);
  dlclose(lib);
  return status;
}
