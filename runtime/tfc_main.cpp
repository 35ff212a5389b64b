//===- tfc_main.cpp - The main() of an executable compiled by tfc ---------===//
//
// `tfc compile SPEC -o OUT` links this file with the model's plan, which
// defines tfc_main_model(). The executable loads weights, runs the given
// tokens and prints the next token, or benchmarks and profiles the model:
//
//   OUT --weights W.safetensors --tokens "1 2 3" [--dump-logits F]
//       [--threads T] [--bench [--bench-tokens N] [--bench-runs R]]
//       [--bench-decode T [--bench-tokens P] [--bench-runs R]]
//       [--max-tokens K [--temperature T] [--top-k K] [--top-p P] [--seed S]]
//       [--profile]
//
// Errors print `OUT: error: <message>` and exit 1; usage errors exit 2.
// Tests compile this file with TFC_MAIN_NO_MAIN and call tfc::runMain.
//
//===----------------------------------------------------------------------===//
#include "Generate.h"
#include "Image.h"
#include "Scratch.h"
#include "Tokenizer.h"
#include "WordPiece.h"
#include "tfc_plan.h"
#include "tfc_runtime.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <optional>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

extern "C" const tfc_model *tfc_main_model(void);

namespace tfc {

int runMain(int argc, char **argv);

namespace {

struct Options {
  std::string weights, tokens, dumpLogits, dumpDecode, prompt, tokenizerDir;
  bool haveTokens = false, havePrompt = false;
  // Generation: --max-tokens K new tokens after the prompt.
  int64_t maxTokens = -1; // -1: no generation (one forward pass)
  double temperature = 0.8, topP = 0.95;
  int64_t topK = 40, stopToken = -1;
  int64_t batch = 1; // sequences decoded together (--batch)
  uint64_t seed = 0;
  int threads = 0;
  int device = -1;                // --device N (GPU models)
  int64_t randomWeights = -1;     // --random-weights SEED instead of a file
  bool bench = false, profile = false, help = false;
  int64_t benchTokens = 0; // 0: the given tokens, or min(512, max_seq)
  int64_t benchRuns = 10;
  int64_t benchDecode = 0; // --bench-decode T: time T decode steps
  // Encoders: token types and attention mask for --tokens; texts to embed.
  std::string tokenTypes, mask, vocab, pool;
  bool haveTypes = false, haveMask = false, cased = false;
  std::vector<std::string> texts;
  // ViT: the image (PNG/PPM/PGM, or raw f32 H x W x C) and top-K classes.
  std::string image, imageRaw;
  int64_t top = 5;
  // Encoder-decoders: the source ids (--tokens/--prompt are the target's).
  std::string source;
  bool haveSource = false;
};

struct Failure {
  int code; // 1: runtime error, 2: usage error
  std::string message;
};

/// A whole-string decimal integer in [lo, hi].
bool parseInt(const std::string &text, int64_t lo, int64_t hi, int64_t &out) {
  if (text.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno || *end != '\0' || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

/// Token ids separated by spaces or commas.
bool parseTokens(const std::string &text, std::vector<int32_t> &out,
                 std::string &error) {
  out.clear();
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == ',' || text[i] == '\t' ||
        text[i] == '\n') {
      ++i;
      continue;
    }
    size_t j = text.find_first_of(" ,\t\n", i);
    std::string word = text.substr(i, j == std::string::npos ? j : j - i);
    int64_t v;
    if (!parseInt(word, INT32_MIN, INT32_MAX, v)) {
      error = "--tokens: '" + word + "' is not an integer token id";
      return false;
    }
    out.push_back(int32_t(v));
    i = j == std::string::npos ? text.size() : j;
  }
  if (out.empty()) {
    error = "--tokens: no token ids in '" + text + "'";
    return false;
  }
  return true;
}

void printUsage(const char *prog, const tfc_model *m, FILE *out) {
  std::fprintf(
      out,
      "usage: %s --weights W.safetensors --tokens \"1 2 3\" [options]\n"
      "model %s: vocab %" PRId64 ", max_seq %" PRId64 ", %" PRId64
      " output columns, target %s\n"
      "  --weights FILE       safetensors weights (native or Hugging Face "
      "layout)\n"
      "  --tokens \"IDS\"       token ids, separated by spaces or commas\n"
      "  --dump-logits FILE   write the output as raw little-endian f32 "
      "[N, %" PRId64 "]\n"
      "  --random-weights S   deterministic random weights (tfc init-weights "
      "--seed S)\n"
      "                       instead of --weights\n"
      "  --threads T          Halide threads (0 = number of cores, the "
      "default)\n"
      "  --device N           GPU models: the device to run on (default: "
      "HL_GPU_DEVICE,\n"
      "                       else the last one)\n"
      "  --bench              time forward passes: a warm-up, then R runs\n"
      "  --bench-tokens N     benchmark N random token ids (fixed seed)\n"
      "  --bench-runs R       timed runs (default 10)\n"
      "  --bench-decode T     time T one-token decode steps after a prefill "
      "of\n"
      "                       --bench-tokens P random ids (default 128, at "
      "most\n"
      "                       max_seq - T); a warm-up, then R runs\n"
      "  --profile            print time per kernel after the run\n"
      "encoders (hidden states out):\n"
      "  --token-types \"IDS\"  token types (segments), one per token "
      "(default 0)\n"
      "  --mask \"0/1 ...\"     attention mask: 0 marks padding that no "
      "token\n"
      "                       attends to (default all 1)\n"
      "  --text \"TEXT\"        embed a text (twice: print their cosine "
      "similarity)\n"
      "  --vocab FILE         WordPiece vocab.txt for --text\n"
      "  --pool cls|mean      pooling of the hidden states (default mean)\n"
      "  --cased              keep case and accents (default: lower-case, "
      "as BERT\n"
      "                       uncased vocabularies expect)\n"
      "encoder-decoders (--tokens/--prompt are the decoder's first "
      "tokens):\n"
      "  --source \"IDS\"       the source token ids, the encoder's input "
      "(encoded\n"
      "                       once; its keys and values are cached for "
      "every step)\n"
      "image classifiers (ViT):\n"
      "  --image FILE         PNG, PPM or PGM; resized (shorter side), "
      "center-cropped\n"
      "                       and normalised with the spec's mean and std\n"
      "  --image-raw FILE     raw little-endian f32 H x W x C, already "
      "normalised\n"
      "  --top K              print the K most likely classes (default 5)\n"
      "generation (prefill the tokens, then decode with the KV cache):\n"
      "  --prompt \"TEXT\"      the prompt as text (the spec's tokenizer)\n"
      "  --tokenizer-dir DIR  encoder.json and vocab.bpe for gpt2 "
      "(or TFC_GPT2_TOKENIZER_DIR)\n"
      "  --max-tokens K       generate up to K tokens (stops at max_seq)\n"
      "  --temperature T      0 = greedy (default 0.8)\n"
      "  --top-k K            keep the K most likely (default 40, 0 = all)\n"
      "  --top-p P            nucleus probability (default 0.95)\n"
      "  --seed S             sampling seed (default 0): same seed, same "
      "text\n"
      "  --stop-token ID      stop after generating ID\n"
      "  --batch B            decode B sequences together (seeds S, S+1, "
      "...)\n"
      "  --dump-decode-logits FILE  raw f32 logits of each step (prefill's "
      "last row first)\n"
      "  --help               this text\n",
      prog, m->name, m->vocab, m->max_seq, m->output_cols,
      m->target ? m->target : "?", m->output_cols);
}

bool parseArgs(int argc, char **argv, Options &opt, Failure &fail) {
  auto usage = [&](const std::string &msg) {
    fail = {2, msg};
    return false;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool inlineValue = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      inlineValue = true;
    }
    auto takeValue = [&]() {
      if (inlineValue)
        return true;
      if (i + 1 >= argc)
        return false;
      value = argv[++i];
      return true;
    };
    auto flagOnly = [&]() { return !inlineValue; };
    if (arg == "--help" || arg == "-h") {
      opt.help = true;
    } else if (arg == "--bench" && flagOnly()) {
      opt.bench = true;
    } else if (arg == "--profile" && flagOnly()) {
      opt.profile = true;
    } else if (arg == "--cased" && flagOnly()) {
      opt.cased = true;
    } else if (arg == "--token-types" || arg == "--mask" || arg == "--text" ||
               arg == "--vocab" || arg == "--pool" || arg == "--image" ||
               arg == "--image-raw" || arg == "--top") {
      if (!takeValue())
        return usage(arg + " needs a value");
      if (arg == "--image") {
        opt.image = value;
      } else if (arg == "--image-raw") {
        opt.imageRaw = value;
      } else if (arg == "--top") {
        if (!parseInt(value, 1, INT32_MAX, opt.top))
          return usage("--top: expected an integer >= 1, found '" + value +
                       "'");
      } else if (arg == "--token-types") {
        opt.tokenTypes = value;
        opt.haveTypes = true;
      } else if (arg == "--mask") {
        opt.mask = value;
        opt.haveMask = true;
      } else if (arg == "--text") {
        if (opt.texts.size() == 2)
          return usage("--text: at most two texts (the second is compared "
                       "with the first)");
        opt.texts.push_back(value);
      } else if (arg == "--vocab") {
        opt.vocab = value;
      } else if (value != "cls" && value != "mean") {
        return usage("--pool: expected cls or mean, found '" + value + "'");
      } else {
        opt.pool = value;
      }
    } else if (arg == "--weights" || arg == "--tokens" ||
               arg == "--dump-logits" || arg == "--threads" ||
               arg == "--bench-tokens" || arg == "--bench-runs" ||
               arg == "--max-tokens" || arg == "--temperature" ||
               arg == "--top-k" || arg == "--top-p" || arg == "--seed" ||
               arg == "--stop-token" || arg == "--dump-decode-logits" ||
               arg == "--prompt" || arg == "--tokenizer-dir" ||
               arg == "--batch" || arg == "--bench-decode" ||
               arg == "--source" || arg == "--device" ||
               arg == "--random-weights") {
      if (!takeValue())
        return usage(arg + " needs a value");
      int64_t v;
      auto real = [&](double lo, double hi, double &out) {
        char *end = nullptr;
        errno = 0;
        double d = std::strtod(value.c_str(), &end);
        if (value.empty() || errno || *end || !(d >= lo && d <= hi))
          return false;
        out = d;
        return true;
      };
      if (arg == "--bench-decode") {
        if (!parseInt(value, 1, INT32_MAX, opt.benchDecode))
          return usage("--bench-decode: expected an integer >= 1 (decode "
                       "steps), found '" +
                       value + "'");
      } else if (arg == "--batch") {
        if (!parseInt(value, 1, 4096, opt.batch))
          return usage("--batch: expected an integer in [1, 4096], found '" +
                       value + "'");
      } else if (arg == "--prompt") {
        opt.prompt = value;
        opt.havePrompt = true;
      } else if (arg == "--tokenizer-dir") {
        opt.tokenizerDir = value;
      } else if (arg == "--max-tokens") {
        if (!parseInt(value, 0, INT32_MAX, v))
          return usage("--max-tokens: expected an integer >= 0, found '" +
                       value + "'");
        opt.maxTokens = v;
      } else if (arg == "--temperature") {
        if (!real(0, 100, opt.temperature))
          return usage("--temperature: expected a number in [0, 100] (0 = "
                       "greedy), found '" +
                       value + "'");
      } else if (arg == "--top-p") {
        if (!real(1e-9, 1, opt.topP))
          return usage("--top-p: expected a number in (0, 1], found '" + value +
                       "'");
      } else if (arg == "--top-k") {
        if (!parseInt(value, 0, INT32_MAX, opt.topK))
          return usage("--top-k: expected an integer >= 0 (0 = no limit), "
                       "found '" +
                       value + "'");
      } else if (arg == "--seed") {
        if (!parseInt(value, 0, INT64_MAX, v))
          return usage("--seed: expected an integer >= 0, found '" + value +
                       "'");
        opt.seed = uint64_t(v);
      } else if (arg == "--stop-token") {
        if (!parseInt(value, 0, INT32_MAX, opt.stopToken))
          return usage("--stop-token: expected a token id, found '" + value +
                       "'");
      } else if (arg == "--dump-decode-logits") {
        if (value.empty())
          return usage("--dump-decode-logits needs a file name");
        opt.dumpDecode = value;
      } else if (arg == "--weights") {
        opt.weights = value;
      } else if (arg == "--tokens") {
        opt.tokens = value;
        opt.haveTokens = true;
      } else if (arg == "--source") {
        opt.source = value;
        opt.haveSource = true;
      } else if (arg == "--dump-logits") {
        if (value.empty())
          return usage("--dump-logits needs a file name");
        opt.dumpLogits = value;
      } else if (arg == "--device") {
        if (!parseInt(value, 0, 1024, v))
          return usage("--device: expected a device index in [0, 1024], "
                       "found '" + value + "'");
        opt.device = int(v);
      } else if (arg == "--random-weights") {
        if (!parseInt(value, 0, INT64_MAX, v))
          return usage("--random-weights: expected a seed >= 0, found '" +
                       value + "'");
        opt.randomWeights = v;
      } else if (arg == "--threads") {
        if (!parseInt(value, 0, 1024, v))
          return usage("--threads: expected an integer in [0, 1024], found '" +
                       value + "'");
        opt.threads = int(v);
      } else if (arg == "--bench-tokens") {
        if (!parseInt(value, 1, INT32_MAX, v))
          return usage("--bench-tokens: expected an integer >= 1, found '" +
                       value + "'");
        opt.benchTokens = v;
      } else {
        if (!parseInt(value, 1, 1000000, v))
          return usage("--bench-runs: expected an integer in [1, 1000000], "
                       "found '" +
                       value + "'");
        opt.benchRuns = v;
      }
    } else {
      return usage("unknown argument '" + std::string(argv[i]) + "'");
    }
  }
  if (opt.help)
    return true;
  if (opt.weights.empty() && opt.randomWeights < 0)
    return usage("--weights is required (or --random-weights SEED)");
  if (!opt.weights.empty() && opt.randomWeights >= 0)
    return usage("--weights and --random-weights: give one of them");
  if (opt.haveTokens && opt.havePrompt)
    return usage("--tokens and --prompt: give one of them");
  if (!opt.texts.empty() && (opt.haveTokens || opt.havePrompt))
    return usage("--text (embed) and --tokens/--prompt: give one of them");
  if (!opt.texts.empty() && opt.vocab.empty())
    return usage("--text needs --vocab vocab.txt (a WordPiece vocabulary)");
  if ((opt.haveTypes || opt.haveMask) && !opt.haveTokens)
    return usage("--token-types and --mask go with --tokens");
  if (!opt.texts.empty())
    return true; // embedding: nothing below applies
  if (!opt.image.empty() && !opt.imageRaw.empty())
    return usage("--image and --image-raw: give one of them");
  if (!opt.image.empty() || !opt.imageRaw.empty()) {
    if (opt.haveTokens || opt.havePrompt || opt.bench || opt.benchDecode ||
        opt.maxTokens >= 0)
      return usage("--image (classify) takes no --tokens, --prompt, "
                   "--bench or --max-tokens");
    return true;
  }
  if (opt.havePrompt && opt.prompt.empty())
    return usage("--prompt: the prompt is empty");
  if (opt.bench && opt.benchDecode)
    return usage("--bench (full forwards) and --bench-decode are separate "
                 "runs");
  bool benching = opt.bench || opt.benchDecode;
  if (!opt.haveTokens && !opt.havePrompt && !benching)
    return usage("--tokens or --prompt is required (or --bench)");
  // (--bench-decode takes them too; the message predates it.)
  if ((opt.benchTokens || opt.benchRuns != 10) && !benching)
    return usage("--bench-tokens and --bench-runs need --bench");
  if (opt.benchDecode && (opt.haveTokens || opt.havePrompt))
    return usage("--bench-decode uses random ids: give --bench-tokens P, "
                 "not --tokens or --prompt");
  if (opt.benchDecode && !opt.dumpLogits.empty())
    return usage("--dump-logits writes a forward's logits: not with "
                 "--bench-decode");
  if (opt.benchDecode && opt.maxTokens >= 0)
    return usage("--max-tokens (generation) and --bench-decode are separate "
                 "runs");
  if (!opt.dumpDecode.empty() && opt.maxTokens < 0)
    return usage("--dump-decode-logits needs --max-tokens");
  if (opt.batch > 1 && opt.maxTokens < 0)
    return usage("--batch needs --max-tokens (it decodes sequences together)");
  if (opt.batch > 1 && !opt.dumpDecode.empty())
    return usage("--dump-decode-logits takes one sequence, not --batch");
  if (opt.maxTokens >= 0 && opt.bench)
    return usage("--max-tokens (generation) and --bench are separate runs");
  return true;
}

/// Raw little-endian f32, written to F.tmp and renamed so that a reader
/// never sees half a file.
bool dumpLogits(const std::string &path, const std::vector<float> &data,
                std::string &error) {
  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = true;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (float x : data) {
    unsigned char b[4];
    std::memcpy(b, &x, 4);
    std::swap(b[0], b[3]);
    std::swap(b[1], b[2]);
    ok = ok && std::fwrite(b, 1, 4, f) == 4;
  }
#else
  ok = std::fwrite(data.data(), sizeof(float), data.size(), f) == data.size();
#endif
  if (std::fclose(f) != 0)
    ok = false;
  if (!ok) {
    error = tmp + ": write failed: " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

/// Deterministic ids for --bench-tokens (splitmix64), the same on every run.
std::vector<int32_t> randomTokens(int64_t n, int64_t vocab) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  uint64_t state = 0x7466632062656e63ULL; // "tfc benc"
  for (int32_t &t : out) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    t = int32_t(z % uint64_t(vocab));
  }
  return out;
}

void printTop(const std::vector<float> &out, int64_t n, int64_t cols) {
  const float *row = out.data() + (n - 1) * cols;
  std::vector<int64_t> idx(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i)
    idx[size_t(i)] = i;
  size_t k = std::min<size_t>(5, idx.size());
  // Ties go to the lower id, so the output is deterministic.
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int64_t a, int64_t b) {
                      return row[a] > row[b] || (row[a] == row[b] && a < b);
                    });
  std::printf("next token: %" PRId64 "\n", idx[0]);
  std::printf("top %zu:", k);
  for (size_t i = 0; i < k; ++i)
    std::printf(" %" PRId64 " (%.4f)", idx[i], double(row[idx[i]]));
  std::printf("\n");
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

/// The sampler the options ask for, with generator seed `seed`.
tfc_sampler_params samplerParams(const Options &opt, uint64_t seed) {
  tfc_sampler_params p = tfc_sampler_default_params();
  p.temperature = float(opt.temperature);
  p.top_k = int32_t(opt.topK);
  p.top_p = float(opt.topP);
  p.seed = seed;
  return p;
}

/// Prefill the prompt, then decode up to opt.maxTokens tokens one at a time
/// with the KV cache, sampling each from the last row of logits: the loop of
/// tfc_generate (Generate.h), so the executable and the C API give the same
/// tokens. Tokens are printed as they come (a stop token too); the rates go
/// to stderr.
bool generate(const Options &opt, const tfc_model *m, tfc_context *ctx,
              const std::vector<int32_t> &prompt, const Tokenizer *text,
              Failure &fail) {
  tfc_sampler_params sp = samplerParams(opt, opt.seed);
  tfc_sampler *sampler = tfc_sampler_create(m->vocab, &sp);
  if (!sampler) {
    fail = {2, tfc_last_error()};
    return false;
  }
  int64_t budget =
      std::min<int64_t>(opt.maxTokens, m->max_seq - int64_t(prompt.size()));
  if (int64_t(prompt.size()) > m->max_seq) {
    tfc_sampler_destroy(sampler);
    fail = {1, "prompt of " + std::to_string(prompt.size()) +
                   " tokens exceeds max_seq " + std::to_string(m->max_seq)};
    return false;
  }
  if (budget < opt.maxTokens)
    std::fprintf(stderr,
                 "note: generating %" PRId64 " tokens, not %" PRId64
                 ": the KV cache holds max_seq = %" PRId64 " tokens\n",
                 budget, opt.maxTokens, m->max_seq);
  std::vector<float> trace; // --dump-decode-logits: one row per step
  int32_t stop = int32_t(opt.stopToken);
  GenerateLoop loop;
  loop.sampler = sampler;
  loop.maxTokens = opt.maxTokens;
  loop.stopTokens = &stop;
  loop.numStopTokens = opt.stopToken >= 0 ? 1 : 0;
  int64_t printed = 0;
  loop.onToken = [&](int32_t next, bool) {
    std::string bytes, error;
    if (text && text->tokenBytes(next, bytes, error))
      std::fwrite(bytes.data(), 1, bytes.size(), stdout); // streamed as made
    else
      std::printf("%s%" PRId32, printed ? " " : "", next);
    std::fflush(stdout);
    ++printed;
    return 0;
  };
  if (!opt.dumpDecode.empty())
    loop.onLogits = [&](const float *row) {
      trace.insert(trace.end(), row, row + m->output_cols);
    };
  tfc_reset(ctx);
  bool ok = generateTokens(ctx, prompt.data(), int64_t(prompt.size()), loop) >= 0;
  std::printf("\n");
  std::fflush(stdout); // the text before the rates on a shared terminal
  if (!ok)
    fail = {1, tfc_last_error()};
  tfc_sampler_destroy(sampler);
  if (ok) {
    int64_t decoded = loop.decodeSteps;
    double prefillMs = loop.prefillMs, decodeMs = loop.decodeMs;
    std::fprintf(stderr,
                 "prefill: %zu tokens in %.2f ms (%.1f tokens/s); decode: "
                 "%" PRId64 " tokens in %.2f ms (%.1f tokens/s, %.2f "
                 "ms/token)\n",
                 prompt.size(), prefillMs,
                 prefillMs > 0 ? double(prompt.size()) * 1e3 / prefillMs : 0.0,
                 decoded, decodeMs,
                 decodeMs > 0 ? double(decoded) * 1e3 / decodeMs : 0.0,
                 decoded ? decodeMs / double(decoded) : 0.0);
  }
  std::string error;
  if (ok && !opt.dumpDecode.empty() &&
      !dumpLogits(opt.dumpDecode, trace, error)) {
    fail = {1, error};
    ok = false;
  }
  return ok;
}

/// --batch B: B sequences from the same prompt, sampled with seeds seed,
/// seed+1, ...; each prefilled on its own context, then decoded together
/// with tfc_decode_batch. Prints each sequence when all are done.
bool generateBatch(const Options &opt, const tfc_model *m, const tfc_weights *w,
                   const std::vector<int32_t> &prompt, const Tokenizer *text,
                   Failure &fail) {
  int64_t b = opt.batch;
  if (int64_t(prompt.size()) > m->max_seq) {
    fail = {1, "prompt of " + std::to_string(prompt.size()) +
                   " tokens exceeds max_seq " + std::to_string(m->max_seq)};
    return false;
  }
  if (b > m->max_seq) {
    fail = {2, "--batch " + std::to_string(b) + " exceeds max_seq " +
                   std::to_string(m->max_seq)};
    return false;
  }
  int64_t budget =
      std::min<int64_t>(opt.maxTokens, m->max_seq - int64_t(prompt.size()));
  std::vector<tfc_context *> ctxs;
  std::vector<tfc_sampler *> samplers;
  bool ok = true;
  for (int64_t i = 0; ok && i < b; ++i) {
    tfc_context_params cp = tfc_context_default_params();
    cp.threads = opt.threads;
    tfc_context *c = tfc_context_create(w, &cp);
    tfc_sampler_params sp = samplerParams(opt, opt.seed + uint64_t(i));
    tfc_sampler *s = c ? tfc_sampler_create(m->vocab, &sp) : nullptr;
    if (c)
      ctxs.push_back(c);
    if (s)
      samplers.push_back(s);
    if (!c || !s) {
      fail = {2, tfc_last_error()};
      ok = false;
    }
  }
  std::vector<float> rows(size_t(b * m->output_cols));
  std::vector<std::vector<int32_t>> made(static_cast<size_t>(b));
  std::vector<int32_t> next(static_cast<size_t>(b));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; ok && i < b; ++i)
    if (tfc_append(ctxs[size_t(i)], prompt.data(), int64_t(prompt.size()),
                   &rows[size_t(i * m->output_cols)], 0) != 0) {
      fail = {1, tfc_last_error()};
      ok = false;
    }
  double prefillMs = msSince(t0), decodeMs = 0;
  int64_t steps = 0;
  for (int64_t t = 0; ok && t < budget; ++t) {
    for (int64_t i = 0; i < b; ++i) {
      next[size_t(i)] = tfc_sampler_next(samplers[size_t(i)],
                                         &rows[size_t(i * m->output_cols)]);
      made[size_t(i)].push_back(next[size_t(i)]);
    }
    if (t + 1 == budget)
      break;
    auto t1 = std::chrono::steady_clock::now();
    if (tfc_decode_batch(ctxs.data(), int32_t(b), next.data(), rows.data())) {
      fail = {1, tfc_last_error()};
      ok = false;
    }
    decodeMs += msSince(t1);
    ++steps;
  }
  for (int64_t i = 0; ok && i < b; ++i) {
    std::printf("[%" PRId64 "] ", i);
    if (opt.havePrompt)
      std::fwrite(opt.prompt.data(), 1, opt.prompt.size(), stdout);
    for (int32_t id : made[size_t(i)]) {
      std::string bytes, error;
      if (text && text->tokenBytes(id, bytes, error))
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      else
        std::printf("%" PRId32 " ", id);
    }
    std::printf("\n");
  }
  std::fflush(stdout);
  if (ok)
    std::fprintf(stderr,
                 "prefill: %" PRId64 " x %zu tokens in %.2f ms; batched "
                 "decode: %" PRId64 " steps x %" PRId64
                 " sequences in %.2f ms (%.1f tokens/s, %.2f ms/step)\n",
                 b, prompt.size(), prefillMs, steps, b, decodeMs,
                 decodeMs > 0 ? double(steps * b) * 1e3 / decodeMs : 0.0,
                 steps ? decodeMs / double(steps) : 0.0);
  for (tfc_sampler *s : samplers)
    tfc_sampler_destroy(s);
  for (tfc_context *c : ctxs)
    tfc_context_destroy(c);
  return ok;
}

/// Median of a sorted, non-empty list.
double medianOf(const std::vector<double> &sorted) {
  size_t c = sorted.size();
  return c % 2 ? sorted[c / 2] : (sorted[c / 2 - 1] + sorted[c / 2]) / 2;
}

/// --bench-decode T: prefill P random ids (untimed), then time T one-token
/// steps fed with the next ids of the same fixed stream (not sampled, so
/// every run and every engine sees the same tokens). A shorter warm-up run
/// first, then opt.benchRuns runs; a run's figure is its mean ms per token.
bool benchDecode(const Options &opt, const tfc_model *m, tfc_context *ctx,
                 Failure &fail) {
  int64_t steps = opt.benchDecode;
  int64_t prompt = opt.benchTokens ? opt.benchTokens
                                   : std::min<int64_t>(128, m->max_seq - steps);
  if (prompt < 1 || prompt + steps > m->max_seq) {
    fail = {1, "--bench-decode " + std::to_string(steps) +
                   " after a prompt of " + std::to_string(prompt) +
                   " tokens needs " + std::to_string(prompt + steps) +
                   " positions, but max_seq is " + std::to_string(m->max_seq)};
    return false;
  }
  std::vector<int32_t> ids = randomTokens(prompt + steps, m->vocab);
  std::vector<float> row(size_t(m->output_cols));
  auto once = [&](int64_t count, double &ms) {
    tfc_reset(ctx);
    if (tfc_append(ctx, ids.data(), prompt, row.data(), 0) != 0)
      return false;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < count; ++s)
      if (tfc_append(ctx, &ids[size_t(prompt + s)], 1, row.data(), 0) != 0)
        return false;
    ms = msSince(t0) / double(count);
    return true;
  };
  double ms = 0;
  bool ok = once(std::min<int64_t>(steps, 8), ms); // warm-up
  if (ok && opt.profile)
    tfc_profile_enable(ctx, 1);
  std::vector<double> times;
  for (int64_t r = 0; ok && r < opt.benchRuns; ++r) {
    ok = once(steps, ms);
    times.push_back(ms);
  }
  if (!ok) {
    fail = {1, tfc_last_error()};
    return false;
  }
  std::sort(times.begin(), times.end());
  double median = medianOf(times);
  std::printf("bench-decode: prompt %" PRId64 " tokens, %" PRId64
              " steps, %zu runs: median %.3f ms/token, min %.3f ms/token, "
              "max %.3f ms/token, %.1f tokens/s\n",
              prompt, steps, times.size(), median, times.front(), times.back(),
              median > 0 ? 1000.0 / median : 0.0);
  return true;
}

/// Ids for --token-types / --mask: as many as there are tokens.
bool parseSideIds(const std::string &flag, const std::string &text, int64_t n,
                  std::vector<int32_t> &out, Failure &fail) {
  std::string error;
  if (!parseTokens(text, out, error)) {
    // parseTokens names --tokens; say which flag it was.
    fail = {2, flag + error.substr(std::string("--tokens").size())};
    return false;
  }
  if (int64_t(out.size()) != n) {
    fail = {2, flag + ": expected " + std::to_string(n) +
                   " entries (one per token), found " +
                   std::to_string(out.size())};
    return false;
  }
  return true;
}

/// `tfc embed`: each text becomes [CLS] pieces [SEP], its hidden states are
/// pooled into one vector, printed; with two texts, their cosine too.
int embedTexts(const Options &opt, const tfc_model *m, tfc_context *ctx,
               Failure &fail) {
  std::string error;
  WordPieceOptions wpo;
  wpo.lowerCase = !opt.cased;
  std::unique_ptr<WordPieceTokenizer> wp =
      WordPieceTokenizer::load(opt.vocab, wpo, error);
  if (!wp) {
    fail = {1, error};
    return 1;
  }
  if (wp->vocabSize() > m->vocab) {
    fail = {1, opt.vocab + ": " + std::to_string(wp->vocabSize()) +
                   " tokens, more than the model's vocab of " +
                   std::to_string(m->vocab)};
    return 1;
  }
  if (wp->clsId() < 0 || wp->sepId() < 0) {
    fail = {1, opt.vocab + ": the vocabulary has no [CLS] or [SEP] token"};
    return 1;
  }
  int pool = opt.pool == "cls" ? TFC_POOL_CLS : TFC_POOL_MEAN;
  int64_t cols = m->output_cols;
  // A model whose head pools (BERT's pooler) gives the vector itself.
  bool headPools = tfc_output_rows(m, 2) == 1;
  if (headPools && !opt.pool.empty()) {
    fail = {2, "--pool: model '" + std::string(m->name) +
                   "' pools in its head (its output is one vector)"};
    return fail.code;
  }
  std::vector<std::vector<float>> vectors;
  for (size_t t = 0; t < opt.texts.size(); ++t) {
    std::vector<int32_t> pieces, ids;
    if (!wp->encode(opt.texts[t], pieces, error)) {
      fail = {1, error};
      return 1;
    }
    ids.push_back(wp->clsId());
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    ids.push_back(wp->sepId());
    int64_t n = int64_t(ids.size());
    if (n > m->max_seq) {
      fail = {1, "--text " + std::to_string(t + 1) + ": " + std::to_string(n) +
                     " tokens (with [CLS] and [SEP]) exceed max_seq " +
                     std::to_string(m->max_seq)};
      return 1;
    }
    std::vector<float> hidden(size_t(n * cols)), vec(static_cast<size_t>(cols));
    if (tfc_encode(ctx, ids.data(), nullptr, nullptr, n, hidden.data()) != 0) {
      fail = {1, tfc_last_error()};
      return 1;
    }
    if (headPools)
      vec.assign(hidden.begin(), hidden.begin() + cols);
    else
      tfc_pool(m, hidden.data(), n, nullptr, pool, vec.data());
    std::printf("text %zu: %" PRId64 " tokens, %s embedding (%" PRId64
                " floats):\n",
                t + 1, n,
                headPools             ? "the head's pooled"
                : opt.pool == "cls"   ? "cls-pooled"
                                      : "mean-pooled",
                cols);
    for (int64_t c = 0; c < cols; ++c)
      std::printf("%s%.6g", c ? " " : "", double(vec[size_t(c)]));
    std::printf("\n");
    vectors.push_back(std::move(vec));
  }
  if (vectors.size() == 2) {
    double dot = 0, a = 0, b = 0;
    for (int64_t c = 0; c < cols; ++c) {
      dot += double(vectors[0][size_t(c)]) * vectors[1][size_t(c)];
      a += double(vectors[0][size_t(c)]) * vectors[0][size_t(c)];
      b += double(vectors[1][size_t(c)]) * vectors[1][size_t(c)];
    }
    double cosine = a > 0 && b > 0 ? dot / std::sqrt(a * b) : 0.0;
    std::printf("cosine similarity: %.6f\n", cosine);
  }
  return 0;
}

/// Loads --weights and creates a context with --threads; on failure sets
/// `fail` and returns false (nothing to free).
bool openModel(const Options &opt, const tfc_model *m, tfc_weights *&w,
               tfc_context *&ctx, Failure &fail) {
  if (opt.device >= 0) {
    if (!tfc_device_api(m)) {
      fail = {2, std::string("--device: model '") + m->name +
                     "' was compiled for the CPU (" +
                     (m->target ? m->target : "?") +
                     "); compile it with --target opencl or cuda"};
      return false;
    }
    tfc_select_device(opt.device);
  }
  w = opt.randomWeights >= 0
          ? tfc_weights_random(m, uint64_t(opt.randomWeights))
          : tfc_weights_load(m, opt.weights.c_str());
  if (!w) {
    fail = {1, tfc_last_error()};
    return false;
  }
  tfc_context_params cp = tfc_context_default_params();
  cp.threads = opt.threads;
  ctx = tfc_context_create(w, &cp);
  if (!ctx) {
    tfc_weights_free(w);
    fail = {1, tfc_last_error()};
    return false;
  }
  return true;
}

/// A ViT: the image, resized and normalised as the spec says (or raw), to
/// the top classes with their softmax probabilities.
int classifyImage(const Options &opt, const tfc_model *m, Failure &fail) {
  std::string error;
  if (m->image_height < 1 || m->image_channels < 1 || !m->image_mean ||
      !m->image_std) {
    fail = {1, "the model has no image settings (the spec's image: section)"};
    return 1;
  }
  const int64_t height = m->image_height, width = m->image_width,
                channels = m->image_channels;
  std::vector<float> pixels;
  size_t count = size_t(height * width * channels);
  if (!opt.image.empty()) {
    ImagePrep prep;
    prep.height = height;
    prep.width = width;
    prep.channels = channels;
    prep.mean.assign(m->image_mean, m->image_mean + channels);
    prep.std.assign(m->image_std, m->image_std + channels);
    prep.resize = m->image_resize == 1 ? ImageResize::Stretch
                                       : ImageResize::Crop;
    if (!prepareImage(opt.image, prep, pixels, error)) {
      fail = {1, error};
      return 1;
    }
  } else {
    FILE *f = std::fopen(opt.imageRaw.c_str(), "rb");
    if (!f) {
      fail = {1, opt.imageRaw + ": " + std::strerror(errno)};
      return 1;
    }
    pixels.resize(count + 1);
    size_t got = std::fread(pixels.data(), sizeof(float), count + 1, f);
    std::fclose(f);
    if (got != count) {
      fail = {1, opt.imageRaw + ": expected " + std::to_string(count) +
                     " f32 values (" + std::to_string(height) + " x " +
                     std::to_string(width) + " x " +
                     std::to_string(channels) + "), found " +
                     (got > count ? "more" : std::to_string(got))};
      return 1;
    }
    pixels.resize(count);
  }
  tfc_weights *w = nullptr;
  tfc_context *ctx = nullptr;
  if (!openModel(opt, m, w, ctx, fail))
    return 1;
  if (opt.profile)
    tfc_profile_enable(ctx, 1);
  int64_t classes = m->output_cols;
  std::vector<float> logits(static_cast<size_t>(classes));
  bool ok = tfc_classify(ctx, pixels.data(), logits.data()) == 0;
  if (!ok)
    fail = {1, tfc_last_error()};
  if (ok) {
    double peak = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (float l : logits)
      sum += std::exp(double(l) - peak);
    std::vector<int64_t> order(static_cast<size_t>(classes));
    for (int64_t i = 0; i < classes; ++i)
      order[size_t(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return logits[size_t(a)] > logits[size_t(b)];
    });
    std::printf("top %" PRId64 " of %" PRId64 " classes:\n",
                std::min(opt.top, classes), classes);
    for (int64_t i = 0; i < std::min(opt.top, classes); ++i) {
      int64_t c = order[size_t(i)];
      std::printf("class %" PRId64 ": p = %.4f (logit %.4f)\n", c,
                  std::exp(double(logits[size_t(c)]) - peak) / sum,
                  double(logits[size_t(c)]));
    }
    if (opt.profile)
      tfc_profile_print(ctx, stdout);
    if (!opt.dumpLogits.empty() && !dumpLogits(opt.dumpLogits, logits, error)) {
      fail = {1, error};
      ok = false;
    }
  }
  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  std::fflush(stdout);
  return ok ? 0 : 1;
}

/// The run after the options are known; returns 0 or sets `fail`.
int run(const Options &opt, const tfc_model *m, Failure &fail) {
  bool vit = m->family == TFC_FAMILY_VIT;
  if (vit != (!opt.image.empty() || !opt.imageRaw.empty())) {
    fail = {2, vit ? "'" + std::string(m->name) +
                         "' classifies images: give --image FILE (PNG, PPM "
                         "or PGM) or --image-raw FILE (f32 H x W x C)"
                   : "--image is for image classifiers; '" +
                         std::string(m->name) + "' is not one"};
    return fail.code;
  }
  if (vit)
    return classifyImage(opt, m, fail);
  bool encoder = m->family == TFC_FAMILY_ENCODER;
  bool encdec = m->family == TFC_FAMILY_ENCODER_DECODER;
  if (opt.haveSource != encdec &&
      !(encdec && (opt.bench || opt.benchDecode))) {
    fail = {2, encdec ? "'" + std::string(m->name) +
                            "' is an encoder-decoder: give --source \"IDS\" "
                            "(the encoder's input) with --tokens \"IDS\" "
                            "(the decoder's first tokens, e.g. its start "
                            "token)"
                      : "--source is for encoder-decoder models; '" +
                            std::string(m->name) + "' is not one"};
    return fail.code;
  }
  if (encdec && opt.batch > 1) {
    fail = {2, "--batch decodes decoder-only models; '" +
                   std::string(m->name) + "' is an encoder-decoder"};
    return fail.code;
  }
  if (!encoder && (opt.haveTypes || opt.haveMask || !opt.texts.empty())) {
    fail = {2, "--token-types, --mask and --text are for encoder models; '" +
                   std::string(m->name) + "' is not one"};
    return fail.code;
  }
  if (encoder && (opt.havePrompt || opt.maxTokens >= 0 || opt.benchDecode)) {
    fail = {2, "'" + std::string(m->name) +
                   "' is an encoder: it does not generate (use --tokens or "
                   "--text)"};
    return fail.code;
  }
  std::vector<int32_t> tokens, source;
  std::string error;
  if (opt.haveTokens && !parseTokens(opt.tokens, tokens, error)) {
    fail = {2, error};
    return fail.code;
  }
  if (opt.haveSource && !parseTokens(opt.source, source, error)) {
    fail = {2, "--source" + error.substr(std::string("--tokens").size())};
    return fail.code;
  }
  // The spec names its tokenizer; --prompt needs one, generation prints
  // text with it.
  std::unique_ptr<Tokenizer> tokenizer;
  if (opt.havePrompt || opt.maxTokens >= 0) {
    std::string kind = tfc_model_tokenizer(m);
    std::string dir = opt.tokenizerDir;
    if (dir.empty() && std::getenv("TFC_GPT2_TOKENIZER_DIR"))
      dir = std::getenv("TFC_GPT2_TOKENIZER_DIR");
    if (kind == "gpt2" && dir.empty() && opt.havePrompt) {
      fail = {2, "model '" + std::string(m->name) +
                     "' uses the gpt2 tokenizer: give --tokenizer-dir DIR "
                     "(with encoder.json and vocab.bpe) or set "
                     "TFC_GPT2_TOKENIZER_DIR"};
      return fail.code;
    }
    if (kind == "none" && opt.havePrompt) {
      fail = {2, "model '" + std::string(m->name) +
                     "' names no tokenizer (spec key `tokenizer:`): give "
                     "--tokens instead of --prompt"};
      return fail.code;
    }
    // Generation from --tokens without the gpt2 files prints ids.
    if (kind == "byte" || (kind == "gpt2" && !dir.empty())) {
      tokenizer = loadModelTokenizer(m, dir.c_str(), error);
      if (!tokenizer) {
        fail = {1, error};
        return 1;
      }
    }
    if (opt.havePrompt && !tokenizer->encode(opt.prompt, tokens, error)) {
      fail = {1, error};
      return 1;
    }
    if (opt.havePrompt && tokens.empty()) {
      fail = {2, "--prompt: the prompt encodes to no tokens"};
      return fail.code;
    }
  }
  std::vector<int32_t> types, mask;
  if ((opt.haveTypes && !parseSideIds("--token-types", opt.tokenTypes,
                                      int64_t(tokens.size()), types, fail)) ||
      (opt.haveMask && !parseSideIds("--mask", opt.mask,
                                     int64_t(tokens.size()), mask, fail)))
    return fail.code;
  if (opt.bench && (opt.benchTokens || !opt.haveTokens))
    tokens = randomTokens(opt.benchTokens ? opt.benchTokens
                                          : std::min<int64_t>(512, m->max_seq),
                          m->vocab);
  // A benchmark of an encoder-decoder without --source: a source as long
  // as the target, of other random ids.
  if (encdec && !opt.haveSource) {
    std::vector<int32_t> ids = randomTokens(
        2 * std::max<int64_t>(1, std::min<int64_t>(
                                     opt.benchTokens ? opt.benchTokens : 128,
                                     m->max_seq)),
        m->vocab);
    source.assign(ids.begin() + int64_t(ids.size() / 2), ids.end());
  }
  // Encodes the source: once before generation, and as part of every full
  // forward pass.
  auto setSource = [&](tfc_context *c) {
    if (!encdec || tfc_set_source(c, source.data(), int64_t(source.size())) ==
                       0)
      return true;
    fail = {1, tfc_last_error()};
    return false;
  };

  tfc_weights *w = nullptr;
  tfc_context *ctx = nullptr;
  if (!openModel(opt, m, w, ctx, fail))
    return 1;
  int64_t n = int64_t(tokens.size());
  // Sized before validation: an over-long sequence is reported by
  // tfc_forward, so cap the buffer at max_seq rows.
  std::vector<float> out(
      static_cast<size_t>(std::min(n, m->max_seq) * m->output_cols));
  auto forward = [&]() {
    if (!setSource(ctx))
      return false;
    int rc = encoder ? tfc_encode(ctx, tokens.data(),
                                  types.empty() ? nullptr : types.data(),
                                  mask.empty() ? nullptr : mask.data(), n,
                                  out.data())
                     : tfc_forward(ctx, tokens.data(), n, out.data());
    if (rc == 0)
      return true;
    fail = {1, tfc_last_error()};
    return false;
  };

  bool ok = true;
  if (!opt.texts.empty()) {
    ok = embedTexts(opt, m, ctx, fail) == 0;
  } else if (opt.benchDecode) {
    ok = setSource(ctx) && benchDecode(opt, m, ctx, fail);
  } else if (opt.bench) {
    ok = forward(); // warm-up: thread pool start, page faults, caches
    if (ok && opt.profile)
      tfc_profile_enable(ctx, 1);
    std::vector<double> times;
    tfc::ScratchStats before = tfc::scratchStats();
    for (int64_t r = 0; ok && r < opt.benchRuns; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      ok = forward();
      times.push_back(msSince(t0));
    }
    if (ok) {
      std::sort(times.begin(), times.end());
      size_t c = times.size();
      double median = medianOf(times);
      std::printf("bench: %" PRId64 " tokens, %zu runs: median %.3f ms, "
                  "min %.3f ms, max %.3f ms, %.1f tokens/s\n",
                  n, c, median, times.front(), times.back(),
                  median > 0 ? double(n) * 1000.0 / median : 0.0);
      // The kernels' large buffers come back from the scratch allocator
      // (Scratch.h): after the warm-up, none should be new.
      tfc::ScratchStats after = tfc::scratchStats();
      std::printf("bench: kernel scratch %d blocks kept (%.1f MiB), %d "
                  "allocated during the timed runs\n",
                  after.kept, double(after.keptBytes) / double(1 << 20),
                  after.created - before.created);
    }
  } else if (opt.maxTokens >= 0) {
    if (opt.profile)
      tfc_profile_enable(ctx, 1);
    if (opt.havePrompt && opt.batch == 1)
      std::fwrite(opt.prompt.data(), 1, opt.prompt.size(), stdout);
    ok = opt.batch > 1
             ? generateBatch(opt, m, w, tokens, tokenizer.get(), fail)
             : setSource(ctx) &&
                   generate(opt, m, ctx, tokens, tokenizer.get(), fail);
  } else {
    if (opt.profile)
      tfc_profile_enable(ctx, 1);
    ok = forward();
    if (ok && encoder && tfc_output_rows(m, n) == 1) {
      out.resize(size_t(m->output_cols)); // one pooled row
      std::printf("pooled output (the model's head) of %" PRId64
                  " tokens: %" PRId64
                  " values (--dump-logits FILE writes them)\n",
                  n, m->output_cols);
    } else if (ok && encoder) {
      std::printf("hidden states: %" PRId64 " tokens x %" PRId64
                  " features (--dump-logits FILE writes them)\n",
                  n, m->output_cols);
    } else if (ok) {
      printTop(out, n, m->output_cols);
    }
  }
  if (ok && opt.profile)
    tfc_profile_print(ctx, stdout);
  if (ok && !opt.dumpLogits.empty() &&
      !dumpLogits(opt.dumpLogits, out, error)) {
    fail = {1, error};
    ok = false;
  }
  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  std::fflush(stdout);
  return ok ? 0 : 1;
}

} // namespace

/// main() without the process: returns the exit code.
int runMain(int argc, char **argv) {
  std::string prog = argc > 0 && argv[0] ? argv[0] : "tfc-model";
  size_t slash = prog.rfind('/');
  if (slash != std::string::npos)
    prog = prog.substr(slash + 1);
  const tfc_model *m = tfc_main_model();
  Options opt;
  Failure fail{0, ""};
  int code = 0;
  try {
    if (!parseArgs(argc, argv, opt, fail)) {
      code = fail.code;
    } else if (opt.help) {
      printUsage(prog.c_str(), m, stdout);
      return 0;
    } else {
      code = run(opt, m, fail);
    }
  } catch (const std::exception &e) {
    fail = {1, e.what()};
    code = 1;
  }
  if (code != 0) {
    std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), fail.message.c_str());
    if (code == 2)
      std::fprintf(stderr, "run '%s --help' for usage\n", prog.c_str());
  }
  return code;
}

} // namespace tfc

#ifndef TFC_MAIN_NO_MAIN
int main(int argc, char **argv) { return tfc::runMain(argc, argv); }
#endif
