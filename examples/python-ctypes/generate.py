#!/usr/bin/env python3
"""Text generation from Python 3 with ctypes, on a model's shared library.

    python3 generate.py LIBNAME.so NAME WEIGHTS.safetensors "prompt"
        [--max-tokens N] [--temperature T] [--top-k K] [--top-p P]
        [--seed S] [--tokenizer-dir DIR]

LIBNAME.so is `tfc compile SPEC --shared -o DIR`'s DIR/libNAME.so (the
CMakeLists.txt here builds models/demo-kjv.yaml's); NAME is its C name
(tfc_model_NAME). Prints the prompt, then each piece of text as
tfc_generate produces it, then a newline: with the same parameters and seed,
the text the executable prints for --prompt. Only the standard library.
"""
import argparse
import ctypes
import sys

API_VERSION = 1  # TFC_API_VERSION of the tfc_runtime.h this follows


class SamplerParams(ctypes.Structure):  # tfc_sampler_params
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float), ("seed", ctypes.c_uint64)]


class GenerateParams(ctypes.Structure):  # tfc_generate_params
    _fields_ = [("max_tokens", ctypes.c_int32), ("sampler", SamplerParams),
                ("stop_tokens", ctypes.POINTER(ctypes.c_int32)),
                ("num_stop_tokens", ctypes.c_int32)]


# int (*tfc_piece_fn)(const char *piece, size_t len, void *user)
PIECE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_char),
                            ctypes.c_size_t, ctypes.c_void_p)


def load(path, name):
    """The library with the signatures of the functions used here."""
    lib = ctypes.CDLL(path)
    p = ctypes.c_void_p  # the opaque handles
    sig = {
        "tfc_api_version": (ctypes.c_int, []),
        "tfc_last_error": (ctypes.c_char_p, []),
        "tfc_model_" + name: (p, []),
        "tfc_weights_load": (p, [p, ctypes.c_char_p]),
        "tfc_weights_free": (None, [p]),
        "tfc_context_create": (p, [p, p]),
        "tfc_context_destroy": (None, [p]),
        "tfc_tokenizer_load": (p, [p, ctypes.c_char_p]),
        "tfc_tokenizer_free": (None, [p]),
        "tfc_generate_default_params": (GenerateParams, []),
        "tfc_generate": (ctypes.c_int64, [p, p, ctypes.c_char_p,
                                          ctypes.POINTER(GenerateParams),
                                          PIECE_FN, p]),
    }
    for fn, (restype, argtypes) in sig.items():
        try:
            f = getattr(lib, fn)
        except AttributeError:
            sys.exit("generate.py: error: %s defines no %s (another model, or "
                     "a tfc without it?)" % (path, fn))
        f.restype, f.argtypes = restype, argtypes
    return lib


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("library")
    ap.add_argument("name")
    ap.add_argument("weights")
    ap.add_argument("prompt")
    ap.add_argument("--max-tokens", type=int, default=100)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--top-k", type=int)
    ap.add_argument("--top-p", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--tokenizer-dir")
    args = ap.parse_args()

    lib = load(args.library, args.name)
    error = lambda: lib.tfc_last_error().decode("utf-8", "replace")
    if lib.tfc_api_version() != API_VERSION:
        sys.exit("generate.py: error: %s has API version %d, this script %d"
                 % (args.library, lib.tfc_api_version(), API_VERSION))
    model = getattr(lib, "tfc_model_" + args.name)()
    weights = lib.tfc_weights_load(model, args.weights.encode())
    ctx = lib.tfc_context_create(weights, None) if weights else None
    tokenizer = lib.tfc_tokenizer_load(
        model, args.tokenizer_dir.encode() if args.tokenizer_dir else None)
    if not ctx or not tokenizer:
        sys.exit("generate.py: error: " + error())

    params = lib.tfc_generate_default_params()
    params.max_tokens = args.max_tokens
    for field in ("temperature", "top_k", "top_p", "seed"):
        if getattr(args, field) is not None:
            setattr(params.sampler, field, getattr(args, field))

    out = sys.stdout.buffer
    out.write(args.prompt.encode())

    def on_piece(piece, length, user):
        out.write(ctypes.string_at(piece, length))  # whole UTF-8 characters
        out.flush()
        return 0  # non-zero stops the generation

    callback = PIECE_FN(on_piece)  # kept alive for the call
    n = lib.tfc_generate(ctx, tokenizer, args.prompt.encode(),
                         ctypes.byref(params), callback, None)
    out.write(b"\n")
    out.flush()
    lib.tfc_tokenizer_free(tokenizer)
    lib.tfc_context_destroy(ctx)
    lib.tfc_weights_free(weights)
    if n < 0:
        sys.exit("generate.py: error: " + error())


if __name__ == "__main__":
    main()
