/*===- tfc_plan.h - The table a compiled model is ------------------*- C -*-===
 *
 * `tfc compile` emits, for each model, a C file that defines one
 * `tfc_model` (this header's types, all static const data) and links it with
 * the model's Halide kernels. The runtime walks the table: for each step it
 * builds the kernel's buffers (weights, arena slices, the caller's tokens and
 * output) and calls the kernel. Print it with `tfc --emit=plan`.
 *
 * Shapes are row-major ("[N, D]": N rows of D contiguous floats); a
 * dimension equal to TFC_DIM_N is the sequence length of the call.
 *===----------------------------------------------------------------------===*/
#ifndef TFC_PLAN_H
#define TFC_PLAN_H

#include <stdint.h>

#include "tfc_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

struct halide_device_interface_t;

#define TFC_PLAN_VERSION 8
#define TFC_DIM_N (-1)
#define TFC_MAX_RANK 3

typedef enum {
  TFC_ARG_TOKENS = 0, /* the caller's token ids: int32 [N] */
  TFC_ARG_WEIGHT = 1, /* weights[index] */
  TFC_ARG_ARENA = 2,  /* arena + offset (in floats) */
  TFC_ARG_OUTPUT = 3, /* the caller's output buffer: f32 [N, output_cols] */
  TFC_ARG_POS = 4,    /* int32 scalar: the position of the call's first row
                         (the number of tokens already in the KV cache) */
  TFC_ARG_CACHE = 5,  /* KV cache + offset (in floats): [max_seq, width],
                         the rows given by `rows` */
  TFC_ARG_TYPES = 6,  /* an encoder's token types: int32 [N] */
  TFC_ARG_MASK = 7,   /* an encoder's attention mask: int32 [N], 1 = a
                         token, 0 = padding (no token attends to it) */
  TFC_ARG_IMAGE = 8,  /* a ViT's image: f32 [H, W, C], normalised */
  TFC_ARG_SOURCE = 9  /* an encoder-decoder's source tokens: int32 [N] in
                         the source steps (N = S, the source's length) */
} tfc_arg_kind;

/* Families: TFC_FAMILY_* (tfc_runtime.h). */

typedef enum {
  TFC_ROWS_NEW = 0, /* cache rows pos .. pos+N-1 (written by the call) */
  TFC_ROWS_SEEN = 1,  /* cache rows 0 .. pos+N-1 (every key so far) */
  TFC_ROWS_SOURCE = 2 /* cache rows 0 .. S-1: the source's keys or values
                         (an encoder-decoder's cross-attention; dims
                         TFC_DIM_N = S) */
} tfc_rows;

typedef struct {
  int32_t kind;   /* tfc_arg_kind */
  int32_t index;  /* TFC_ARG_WEIGHT: index into tfc_model.weights */
  int64_t offset; /* TFC_ARG_ARENA, TFC_ARG_CACHE: offset in floats */
  int32_t rank;   /* 1..TFC_MAX_RANK (TFC_ARG_POS: 0) */
  int64_t dims[TFC_MAX_RANK]; /* row-major extents, TFC_DIM_N = N (for
                                 TFC_ROWS_SEEN: pos + N) */
  int32_t rows;               /* TFC_ARG_CACHE: tfc_rows */
} tfc_arg;

/* A Halide pipeline's `<name>_argv` entry: args[i] points to a
 * halide_buffer_t (buffers) in the order of the pipeline's arguments.
 * Returns 0 on success, a Halide error code otherwise. */
typedef int (*tfc_kernel_fn)(void **args);

typedef struct {
  const char *name; /* the kernel's symbol, e.g. "tfk_qkv_ln_..." */
  tfc_kernel_fn fn;
} tfc_kernel;

typedef struct {
  int32_t kernel;    /* index into tfc_model.kernels */
  int32_t first_arg; /* index into tfc_model.args */
  int32_t num_args;
  const char *label; /* what the step computes, e.g. "layers.3.qkv" */
} tfc_step;

/* Storage types of weights (the kernels convert to f32 in registers). */
typedef enum {
  TFC_DTYPE_F32 = 0,
  TFC_DTYPE_F16 = 1,
  TFC_DTYPE_BF16 = 2,
  TFC_DTYPE_I8 = 3 /* symmetric, one f32 scale per column: a second entry */
} tfc_dtype;

typedef struct {
  const char *name; /* native weight name, e.g. "layers.0.attn.wq" */
  int32_t rank;
  int64_t dims[TFC_MAX_RANK]; /* as the kernels read it */
  int32_t transposed; /* 1: the file's 2-D tensor `name`, transposed (a tied
                         head reads the [V, D] embedding as [D, V]) */
  int32_t dtype;      /* tfc_dtype of the elements */
  int32_t panel;      /* > 0: the matrix [In, Cols] (after `transposed`)
                         packed in column panels: dims are
                         [ceil(Cols/panel), In, panel], zero-padded */
  int32_t scales;     /* 1: the f32 scales of the int8 matrix `name` (same
                         transposed/panel/group), one per column and group
                         of `group` input rows: dims [In/group,
                         ceil(Cols/panel)*panel] (or [In/group, Cols]) */
  int32_t group;      /* int8 (values and scales): input rows per scale */
} tfc_weight_info;

/* --- Reading weights files: what the spec said, as data ------------------
 *
 * The manifest (tfc_model.tensors) lists every weight under its native name
 * and shape (docs/weights.md). A layout (native, hf-gpt2, hf-llama, ...)
 * names each native tensor in a file and says how the data moves
 * (tfc_model.layouts, tfc_model.sources). The runtime reads a file with
 * these tables alone: it parses no spec. */

/* How a file tensor becomes a native tensor. */
#define TFC_XFORM_COPY 0       /* same data, same shape */
#define TFC_XFORM_TRANSPOSE 1  /* file [out, in] (nn.Linear), native [in, out] */
#define TFC_XFORM_RESHAPE 2    /* same data; the file has leading 1s */
#define TFC_XFORM_CONV_PATCH 3 /* file Conv2d [D, C, P, P], native [P*P*C, D] */
#define TFC_XFORM_COLUMNS 4    /* native = columns [column, column + width) of
                                  the file's matrix (GPT-2's fused c_attn) */

typedef struct {
  const char *name; /* native name, e.g. "layers.0.attn.wq" */
  int32_t rank;
  int64_t dims[TFC_MAX_RANK];
  /* tfc_weights_random: element values mean + sigma * N(0, 1), from a
   * generator seeded by the seed and the name (RandomWeights.h). */
  double init_mean, init_sigma;
} tfc_tensor;

typedef struct {
  int32_t tensor;   /* index into tfc_model.tensors */
  const char *file; /* the file's tensor name, without the layout's prefix */
  int32_t prefixed; /* 1: the name takes the layout's optional prefix */
  int32_t xform;    /* TFC_XFORM_* */
  int32_t file_rank;
  int64_t file_dims[4];
  int64_t column; /* TFC_XFORM_COLUMNS: the tensor's first file column */
} tfc_tensor_source;

typedef struct {
  const char *name;   /* "native", "hf-gpt2", ... (a file's tfc.layout) */
  const char *prefix; /* optional prefix of the file names ("transformer."),
                         "" for none */
  /* A tied head: a file may still carry "lm_head.weight" if it equals this
   * tensor (the embedding; without the prefix). NULL otherwise. */
  const char *tied_head;
  /* Non-NULL: this layout cannot hold the model; the message says why. */
  const char *unsupported;
  int32_t first_source, num_sources; /* into tfc_model.sources */
} tfc_layout;

typedef struct tfc_model {
  int32_t plan_version;  /* TFC_PLAN_VERSION */
  const char *name;      /* the spec's name */
  const char *spec_yaml; /* the validated spec (tfc --emit=spec) */
  const char *target;    /* the Halide target the kernels were built for */
  int64_t max_seq;       /* largest N */
  int64_t vocab;         /* token ids must be < vocab (ViT: 0) */
  int64_t output_cols;   /* the output is [N, output_cols] (ViT: [1,
                            classes]) */
  int64_t arena_floats;  /* activation arena size for N = max_seq */
  int64_t cache_floats;  /* KV cache size: every layer's K and V,
                            max_seq rows each */
  int32_t num_weights;
  const tfc_weight_info *weights;
  int32_t num_kernels;
  const tfc_kernel *kernels;
  int32_t num_steps;
  const tfc_step *steps;
  const tfc_arg *args;
  int32_t family;     /* TFC_FAMILY_* */
  int64_t type_vocab; /* encoders: token types must be < type_vocab (0: the
                         model has none) */
  int32_t num_source_steps; /* encoder-decoders: steps [0, num_source_steps)
                               run once per source (N = S, pos = 0) and
                               leave each decoder layer's cross-attention
                               keys and values in the cache; the others run
                               per target call. 0 for other families. */
  /* GPU targets: the device API ("opencl" or "cuda"; NULL on the CPU) and
   * Halide's device interface for it, defined by the Halide runtime linked
   * with the kernels. The runtime then keeps the weights, the arena and the
   * KV cache on the device (docs/gpu.md). */
  const char *device_api;
  const struct halide_device_interface_t *(*device_interface)(void);
  const char *tokenizer; /* the spec's tokenizer: "byte", "gpt2", "none" */
  /* The manifest and the layouts a weights file may use; layouts[0] is the
   * spec's weights.layout, for a file whose names say nothing. */
  int32_t num_tensors;
  const tfc_tensor *tensors;
  int32_t num_layouts;
  const tfc_layout *layouts;
  int32_t num_sources;
  const tfc_tensor_source *sources;
  /* ViTs: how the executable's --image becomes the model's input (the
   * spec's image: section); 0 elsewhere. resize: 0 = scale to cover and
   * centre-crop, 1 = stretch each axis. */
  int32_t image_height, image_width, image_channels, image_resize;
  const double *image_mean, *image_std; /* image_channels each */
} tfc_model;

#ifdef __cplusplus
}
#endif

#endif /* TFC_PLAN_H */
