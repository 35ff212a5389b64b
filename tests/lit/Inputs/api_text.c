/* api_text.c WEIGHTS TOKENIZER_DIR PROMPT MAX_TOKENS SEED TEMPERATURE OUT:
 * the C API's text calls on a compiled decoder with a tokenizer (build with
 * -DMODEL_HEADER='"NAME.h"' -DMODEL=tfc_model_NAME). Checks the tokenize
 * and detokenize round trip of PROMPT with the too-small-buffer protocol,
 * then writes PROMPT and the text tfc_generate makes from it (top_k 40,
 * top_p 0.95) and a newline to OUT, as the executable prints --prompt
 * PROMPT --max-tokens MAX_TOKENS --seed SEED --temperature TEMPERATURE.
 * TOKENIZER_DIR "-" is NULL (the byte tokenizer needs no files). */
#include MODEL_HEADER

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad;

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) {
    printf("  last error: %s\n", tfc_last_error());
    bad = 1;
  }
}

/* Every piece is appended to a growing string. */
typedef struct {
  char text[1 << 16];
  size_t len;
  int pieces, stopAfter;
} Sink;

static int onPiece(const char *piece, size_t len, void *user) {
  Sink *s = (Sink *)user;
  if (piece[len] != '\0' || s->len + len >= sizeof s->text)
    bad = 1;
  else {
    memcpy(s->text + s->len, piece, len);
    s->len += len;
  }
  ++s->pieces;
  return s->stopAfter && s->pieces >= s->stopAfter;
}

/* Whether t ends with the lead byte of a longer character and too few
 * continuation bytes. */
static int endsMidCharacter(const char *t, size_t n) {
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    unsigned char c = (unsigned char)t[n - k];
    if ((c & 0xC0) == 0x80)
      continue;
    size_t need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                  : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
    return need > k;
  }
  return 0;
}

static Sink sink, again;
static int lastPieceMid;
static int onPieceUtf8(const char *piece, size_t len, void *user) {
  /* A cut character whose next byte is a continuation: the previous piece
   * split it. (A cut one followed by something else is invalid UTF-8, and
   * passes through as it is.) */
  if (lastPieceMid && len > 0 && ((unsigned char)piece[0] & 0xC0) == 0x80)
    bad = 1;
  lastPieceMid = endsMidCharacter(piece, len);
  return onPiece(piece, len, user);
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: api_text WEIGHTS TOKENIZER_DIR PROMPT MAX_TOKENS "
                    "SEED TEMPERATURE OUT\n");
    return 2;
  }
  const tfc_model *m = MODEL();
  const char *dir = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
  const char *prompt = argv[3];
  size_t promptLen = strlen(prompt);
  tfc_weights *w = tfc_weights_load(m, argv[1]);
  tfc_context *ctx =
      w ? tfc_context_create(w, &(tfc_context_params){.threads = 2}) : NULL;
  tfc_tokenizer *tok = tfc_tokenizer_load(m, dir);
  if (!w || !ctx || !tok) {
    fprintf(stderr, "setup: %s\n", tfc_last_error());
    return 2;
  }
  printf("tokenizer: %s\n", tfc_model_tokenizer(m));
  if (strcmp(tfc_model_tokenizer(m), "gpt2") == 0) {
    /* GPT-2's files: no directory, a directory without them. */
    check(!tfc_tokenizer_load(m, NULL), "gpt2 without a directory fails");
    printf("  %s\n", tfc_last_error());
    check(!tfc_tokenizer_load(m, "/nonexistent"), "a missing directory fails");
    printf("  %s\n", tfc_last_error());
  }

  /* Tokenize: count with no buffer, a buffer one too small is left alone,
   * then the ids. */
  int64_t n = tfc_tokenize(tok, prompt, promptLen, NULL, 0);
  check(n > 0, "tokenize counts with capacity 0");
  int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
  for (int64_t i = 0; i <= n; ++i)
    ids[i] = -7;
  check(tfc_tokenize(tok, prompt, promptLen, ids, n - 1) == n && ids[0] == -7,
        "tokenize into too small a buffer writes nothing");
  check(tfc_tokenize(tok, prompt, promptLen, ids, n) == n && ids[0] >= 0 &&
            ids[n - 1] >= 0 && ids[n] == -7,
        "tokenize into a buffer of the count");
  check(tfc_tokenize(tok, "", 0, ids + n, 1) == 0 && ids[n] == -7,
        "empty text has no tokens");

  /* Detokenize: the length, a buffer of exactly the length (no room for
   * the NUL) is left alone, then the text. */
  int64_t len = tfc_detokenize(tok, ids, n, NULL, 0);
  check(len == (int64_t)promptLen, "detokenize measures the text");
  char *text = malloc((size_t)len + 2);
  memset(text, '#', (size_t)len + 2);
  check(tfc_detokenize(tok, ids, n, text, (size_t)len) == len &&
            text[0] == '#',
        "detokenize into too small a buffer writes nothing");
  check(tfc_detokenize(tok, ids, n, text, (size_t)len + 1) == len &&
            text[len] == '\0' && text[len + 1] == '#' &&
            memcmp(text, prompt, promptLen) == 0,
        "detokenize round-trips the prompt");
  check(tfc_detokenize(tok, ids, 0, text, 1) == 0 && text[0] == '\0',
        "no tokens, empty text");
  int32_t outside = (int32_t)tfc_vocab(m) + 5;
  check(tfc_detokenize(tok, &outside, 1, text, (size_t)len + 1) == -1 &&
            strstr(tfc_last_error(), "out of range") != NULL,
        "an id outside the vocabulary fails");

  /* Generate, as the executable does. */
  tfc_generate_params gp = tfc_generate_default_params();
  gp.max_tokens = atoi(argv[4]);
  gp.sampler.seed = strtoull(argv[5], NULL, 10);
  gp.sampler.temperature = (float)atof(argv[6]);
  int64_t made = tfc_generate(ctx, tok, prompt, &gp, onPieceUtf8, &sink);
  check(made >= 0, "generate");
  check(!bad, "pieces split no character, NUL-terminated");
  printf("generated %lld tokens in %d pieces\n", (long long)made, sink.pieces);
  FILE *out = fopen(argv[7], "wb");
  if (!out || fwrite(prompt, 1, promptLen, out) != promptLen ||
      fwrite(sink.text, 1, sink.len, out) != sink.len ||
      fputc('\n', out) == EOF || fclose(out) != 0) {
    fprintf(stderr, "cannot write %s\n", argv[7]);
    return 2;
  }
  check(tfc_position(ctx) == n + (made ? made - 1 : 0),
        "the context holds the prompt and every token but the last");

  /* The same seed after tfc_reset: the same text. Stopping from the
   * callback after one piece ends generation early. */
  tfc_reset(ctx);
  check(tfc_generate(ctx, tok, prompt, &gp, onPiece, &again) == made &&
            again.len == sink.len && memcmp(again.text, sink.text, sink.len) == 0,
        "the same seed gives the same text");
  tfc_reset(ctx);
  Sink *one = calloc(1, sizeof *one);
  one->stopAfter = 1;
  int64_t early = tfc_generate(ctx, tok, prompt, &gp, onPiece, one);
  check(made < 1 || (early >= 1 && early <= made && one->pieces == 1),
        "on_piece returning non-zero stops generation");
  /* The first generated token as the only stop token: nothing is made. */
  if (made > 0 && strcmp(tfc_model_tokenizer(m), "byte") == 0) {
    int32_t first = (unsigned char)sink.text[0];
    gp.stop_tokens = &first;
    gp.num_stop_tokens = 1;
    Sink *none = calloc(1, sizeof *none);
    tfc_reset(ctx);
    check(tfc_generate(ctx, tok, prompt, &gp, onPiece, none) == 0 &&
              none->len == 0,
          "a stop token ends generation and is not printed");
    free(none);
    gp.stop_tokens = NULL;
    gp.num_stop_tokens = 0;
  }
  /* No reset: the next prompt continues the sequence; NULL on_piece just
   * counts. */
  int64_t at = tfc_position(ctx);
  gp.max_tokens = 2;
  int64_t more = tfc_generate(ctx, tok, prompt, &gp, NULL, NULL);
  check(more >= 0 && tfc_position(ctx) > at + n - 1,
        "generate continues at the context's position");

  free(one);
  free(ids);
  free(text);
  tfc_tokenizer_free(tok);
  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return bad;
}
