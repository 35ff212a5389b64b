// generate-cpp: streaming text generation from a model compiled by tfc.
//
//   generate-cpp WEIGHTS.safetensors "prompt" [max-tokens] [seed]
//
// Loads the model's tokenizer (tfc_tokenizer_load), then tfc_generate
// samples tokens and calls back with each piece of text as soon as it is
// complete UTF-8; the callback prints it at once. Prints the prompt, the
// generated text and a newline, as the executable `tfc compile` makes does
// with --prompt (same sampling: temperature 0.8, top-k 40, top-p 0.95).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tfc_runtime.h"
#include TFC_MODEL_HEADER

namespace {

// RAII for the API's handles (every destructor accepts NULL).
struct Free {
  void operator()(tfc_weights *w) const { tfc_weights_free(w); }
  void operator()(tfc_context *c) const { tfc_context_destroy(c); }
  void operator()(tfc_tokenizer *t) const { tfc_tokenizer_free(t); }
};
template <class T> using Handle = std::unique_ptr<T, Free>;

int fail(const char *what) {
  std::fprintf(stderr, "generate-cpp: error: %s: %s\n", what,
               tfc_last_error());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s WEIGHTS.safetensors PROMPT [MAX_TOKENS] [SEED]\n",
                 argv[0]);
    return 2;
  }
  if (tfc_api_version() != TFC_API_VERSION) {
    std::fprintf(stderr, "generate-cpp: error: runtime API %d, header %d\n",
                 tfc_api_version(), TFC_API_VERSION);
    return 1;
  }
  const tfc_model *model = TFC_MODEL_FN();
  Handle<tfc_weights> weights(tfc_weights_load(model, argv[1]));
  if (!weights)
    return fail("weights");
  Handle<tfc_context> ctx(tfc_context_create(weights.get(), nullptr));
  if (!ctx)
    return fail("context");
  // "byte" tokenizers need no files; GPT-2's reads its directory (argv 5).
  Handle<tfc_tokenizer> tokenizer(
      tfc_tokenizer_load(model, argc > 5 ? argv[5] : nullptr));
  if (!tokenizer)
    return fail("tokenizer");

  tfc_generate_params params = tfc_generate_default_params();
  params.max_tokens = argc > 3 ? std::atoi(argv[3]) : 100;
  if (argc > 4)
    params.sampler.seed = std::strtoull(argv[4], nullptr, 10);

  std::string prompt = argv[2];
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  auto print = [](const char *piece, size_t len, void *) -> int {
    std::fwrite(piece, 1, len, stdout);
    std::fflush(stdout); // streamed as generated
    return 0;            // non-zero would stop the generation
  };
  int64_t n = tfc_generate(ctx.get(), tokenizer.get(), prompt.c_str(), &params,
                           print, nullptr);
  std::printf("\n");
  if (n < 0)
    return fail("generate");
  std::fprintf(stderr, "generate-cpp: %lld tokens\n", static_cast<long long>(n));
  return 0;
}
