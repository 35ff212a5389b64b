//===- TuningTest.cpp - Tuning files and the kernel tuner ----------------===//
//
// The tuning file: round trip through text and disk, and each parse error
// with its file:line. The tuner: the target defaults it starts from, a
// small search on a tiny kernel (parameters from the candidate sets), and
// that a tuned schedule computes exactly what the default one computes on
// the same logical inputs (packed in different panels).
//
//===----------------------------------------------------------------------===//
#include "tuning/Tuner.h"
#include "tuning/TuningFile.h"

#include "codegen/HalideKernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <unistd.h>

using namespace tfc;

namespace tfc {
// For EXPECT_EQ and map comparison (found by argument-dependent lookup).
bool operator==(const KernelTuning &a, const KernelTuning &b) {
  return a.panel == b.panel && a.tileRows == b.tileRows &&
         a.queryTile == b.queryTile;
}
std::ostream &operator<<(std::ostream &os, const KernelTuning &t) {
  return os << "{panel=" << t.panel << " tile_rows=" << t.tileRows
            << " query_tile=" << t.queryTile << "}";
}
} // namespace tfc

namespace {

std::string parseError(const std::string &text) {
  std::map<std::string, KernelTuning> t;
  std::string error;
  EXPECT_FALSE(parseTuning(text, "t.txt", t, error)) << text;
  return error;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tfc-tuning-test-XXXXXX";
    path = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (DIR *d = opendir(path.c_str())) {
      while (dirent *e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          std::remove((path + "/" + e->d_name).c_str());
      closedir(d);
    }
    rmdir(path.c_str());
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    if (DIR *d = opendir(path.c_str())) {
      while (dirent *e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          names.push_back(e->d_name);
      closedir(d);
    }
    return names;
  }
};

Halide::Target hostTarget() {
  std::string error;
  std::optional<Halide::Target> t = parseKernelTarget("host", error);
  EXPECT_TRUE(t) << error;
  return *t;
}

} // namespace

TEST(TuningFile, RoundTripThroughTextAndDisk) {
  std::map<std::string, KernelTuning> in;
  in["tfk_mlp_up_ln_e1em05_d768_f3072_gelu_tanh_bias"] = {64, 6, 0};
  in["tfk_attention_h12_kv12_k64_causal"] = {0, 0, 4};
  in["tfk_proj_residual_in768_d768_bias_wint8_g32"] = {0, 12, 0};
  std::string text = formatTuning(
      in, "header line 1\nline 2",
      {{"tfk_attention_h12_kv12_k64_causal", "N=1: 0.2 -> 0.1 ms"}});
  EXPECT_NE(text.find("# header line 1\n# line 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("tfk_attention_h12_kv12_k64_causal query_tile=4  # "
                      "N=1: 0.2 -> 0.1 ms\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tfk_mlp_up_ln_e1em05_d768_f3072_gelu_tanh_bias "
                      "panel=64 tile_rows=6\n"),
            std::string::npos)
      << text;
  std::map<std::string, KernelTuning> out;
  std::string error;
  ASSERT_TRUE(parseTuning(text, "t.txt", out, error)) << error;
  EXPECT_EQ(out, in);

  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  std::string path = dir.path + "/tuning.txt";
  ASSERT_TRUE(writeTuningFile(path, in, error, "h")) << error;
  out.clear();
  ASSERT_TRUE(readTuningFile(path, out, error)) << error;
  EXPECT_EQ(out, in);
  // Written under a temporary name and renamed: nothing else is left.
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"tuning.txt"});

  // A failed write leaves the old file as it was.
  std::map<std::string, KernelTuning> bad = {{"tfk_x", {0, 0, 0}}};
  EXPECT_FALSE(writeTuningFile(path, bad, error));
  EXPECT_EQ(error, path + ": kernel 'tfk_x' has no parameter to write (all "
                          "are the defaults)");
  ASSERT_TRUE(readTuningFile(path, out, error)) << error;
  EXPECT_EQ(out, in);
}

TEST(TuningFile, CommentsAndBlankLines) {
  std::map<std::string, KernelTuning> t;
  std::string error;
  ASSERT_TRUE(parseTuning("# only a comment\n\n   \n"
                          "tfk_a panel=32# no space before the comment\n"
                          "  tfk_b tile_rows=2 query_tile=16  \n",
                          "t.txt", t, error))
      << error;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t["tfk_a"], (KernelTuning{32, 0, 0}));
  EXPECT_EQ(t["tfk_b"], (KernelTuning{0, 2, 16}));
  ASSERT_TRUE(parseTuning("", "t.txt", t, error));
  EXPECT_TRUE(t.empty());
}

TEST(TuningFile, ErrorsNameFileAndLine) {
  EXPECT_EQ(parseError("# c\ntfk_a panel=48\ntfk_b panels=48\n"),
            "t.txt:3: kernel 'tfk_b': unknown key 'panels' (expected panel, "
            "tile_rows or query_tile)");
  EXPECT_EQ(parseError("tfk_a tile_rows=six\n"),
            "t.txt:1: kernel 'tfk_a': tile_rows: expected an integer in [1, "
            "4096], found 'six'");
  EXPECT_EQ(parseError("tfk_a panel=0\n"),
            "t.txt:1: kernel 'tfk_a': panel: expected an integer in [1, "
            "4096], found '0'");
  EXPECT_EQ(parseError("tfk_a query_tile=4097\n"),
            "t.txt:1: kernel 'tfk_a': query_tile: expected an integer in [1, "
            "4096], found '4097'");
  EXPECT_EQ(parseError("tfk_a panel=48x\n"),
            "t.txt:1: kernel 'tfk_a': panel: expected an integer in [1, "
            "4096], found '48x'");
  EXPECT_EQ(parseError("tfk_a panel=\n"),
            "t.txt:1: kernel 'tfk_a': panel: expected an integer in [1, "
            "4096], found ''");
  EXPECT_EQ(parseError("tfk_a panel=48\n\ntfk_b panel=16\ntfk_a "
                       "tile_rows=2\n"),
            "t.txt:4: duplicate kernel 'tfk_a' (first at line 1)");
  EXPECT_EQ(parseError("tfk_a panel=48 panel=16\n"),
            "t.txt:1: kernel 'tfk_a': key 'panel' given twice");
  EXPECT_EQ(parseError("tfk_a 48\n"),
            "t.txt:1: kernel 'tfk_a': expected KEY=VALUE (panel, tile_rows, "
            "query_tile), found '48'");
  EXPECT_EQ(parseError("tfk_a   # nothing\n"),
            "t.txt:1: kernel 'tfk_a': expected at least one KEY=VALUE "
            "(panel, tile_rows, query_tile)");
  EXPECT_EQ(parseError("tfk-a panel=1\n"),
            "t.txt:1: expected a kernel symbol (letters, digits, '_'), found "
            "'tfk-a'");

  std::map<std::string, KernelTuning> t = {{"keep", {1, 0, 0}}};
  std::string error;
  EXPECT_FALSE(readTuningFile("/nonexistent/tuning.txt", t, error));
  EXPECT_EQ(error.rfind("/nonexistent/tuning.txt: cannot open the tuning "
                        "file: ",
                        0),
            0u)
      << error;
  EXPECT_EQ(t.size(), 1u); // unchanged on error
}

TEST(Tuner, TargetDefaults) {
  KernelDesc mm;
  mm.kind = KernelKind::MLPUp;
  mm.d = 768;
  mm.dFF = 3072;
  mm.panel = 48;
  KernelDesc att;
  att.kind = KernelKind::Attention;
  att.heads = att.kvHeads = 12;
  att.headDim = 64;
  Halide::Target avx512("x86-64-linux-avx512"), avx2("x86-64-linux-avx2");
  EXPECT_EQ(defaultTuning(mm, avx512), (KernelTuning{48, 8, 0}));
  EXPECT_EQ(defaultTuning(mm, avx2), (KernelTuning{24, 4, 0}));
  mm.panel = 0; // row-major: no panel to tune
  EXPECT_EQ(defaultTuning(mm, avx512), (KernelTuning{0, 8, 0}));
  // 64 floats = 4 AVX-512 (8 AVX2) vectors of accumulators per query row.
  EXPECT_EQ(defaultTuning(att, avx512), (KernelTuning{0, 0, 6}));
  EXPECT_EQ(defaultTuning(att, avx2), (KernelTuning{0, 0, 3}));

  KernelDesc tuned = withTuning(mm, {64, 6, 4});
  EXPECT_EQ(tuned.panel, 0); // stays row-major
  EXPECT_EQ(tuned.tileRows, 6);
  EXPECT_EQ(tuned.queryTile, 0);
  mm.panel = 48;
  tuned = withTuning(mm, {64, 0, 0});
  EXPECT_EQ(tuned.panel, 64);
  EXPECT_EQ(tuned.tileRows, 0);
  EXPECT_EQ(withTuning(att, {64, 6, 4}).queryTile, 4);
}

TEST(Tuner, RowOption) {
  TuneOptions o;
  std::string error;
  ASSERT_TRUE(parseTuneRows("1:3,128", o, error)) << error;
  EXPECT_EQ(o.rows, (std::vector<int64_t>{1, 128}));
  EXPECT_EQ(o.weights, (std::vector<double>{3.0, 1.0}));
  EXPECT_FALSE(parseTuneRows("1,0", o, error));
  EXPECT_EQ(error, "--tune-rows: expected N or N:WEIGHT (N in [1, 2^20], "
                   "weight > 0), comma-separated, found '0'");
  EXPECT_FALSE(parseTuneRows("8:x", o, error));
  EXPECT_NE(error.find("found '8:x'"), std::string::npos) << error;
}

TEST(Tuner, SmallKernelSearchKeepsTheResults) {
  Halide::Target target = hostTarget();
  int vec = std::max(1, target.natural_vector_size<float>());
  KernelDesc d;
  d.kind = KernelKind::ProjResidual;
  d.in = 32;
  d.d = 32;
  d.bias = true;
  d.maxSeq = 16;
  d.panel = 3 * vec;

  TuneOptions o;
  o.rows = {1, 16};
  o.weights = {1, 1};
  o.runs = 3;
  o.budgetSeconds = 6;
  o.progress = false;
  o.tileRows = {2, 4, 6};
  std::map<std::string, KernelTuning> tuning;
  std::vector<TuneResult> results;
  std::string error;
  ASSERT_TRUE(tuneKernels({d, d}, target, o, tuning, results, error)) << error;
  ASSERT_EQ(results.size(), 1u); // equal kernels are tuned once
  const TuneResult &r = results[0];
  EXPECT_EQ(r.symbol, "tfk_proj_residual_in32_d32_bias");
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(r.rows, (std::vector<int64_t>{1, 16}));
  ASSERT_EQ(r.defaultMs.size(), 2u);
  ASSERT_EQ(r.bestMs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_GT(r.defaultMs[i], 0);
    EXPECT_GT(r.bestMs[i], 0);
  }
  // The default plus at least the three tile-row candidates and, when a
  // narrower panel exists (vec < 32), one panel.
  EXPECT_GE(r.candidates, 4);
  EXPECT_EQ(r.defaults, defaultTuning(d, target));
  auto inSet = [](int64_t v, std::vector<int64_t> set) {
    return std::find(set.begin(), set.end(), v) != set.end();
  };
  EXPECT_TRUE(inSet(r.best.panel, {vec, 2 * vec, 3 * vec, 4 * vec}))
      << r.best.panel;
  EXPECT_TRUE(inSet(r.best.tileRows, {2, 4, 6, r.defaults.tileRows}))
      << r.best.tileRows;
  EXPECT_EQ(r.best.queryTile, 0);
  EXPECT_EQ(tuning.count(r.symbol), r.changed ? 1u : 0u);
  if (r.changed) {
    const KernelTuning &t = tuning[r.symbol];
    EXPECT_TRUE(t.panel == 0 || t.panel != r.defaults.panel);
    EXPECT_TRUE(t.tileRows == 0 || t.tileRows != r.defaults.tileRows);
  }

  // The tuned schedule, and a deliberately odd one (narrow panel, 3-row
  // tiles, N not a multiple of either), compute what the default computes.
  KernelRunner ref, got, odd;
  ASSERT_TRUE(ref.build(d, target, error)) << error;
  ASSERT_TRUE(got.build(withTuning(d, r.best), target, error)) << error;
  ASSERT_TRUE(odd.build(withTuning(d, {vec, 3, 0}), target, error)) << error;
  EXPECT_EQ(odd.desc().panel, vec);
  EXPECT_EQ(odd.desc().tileRows, 3);
  for (int64_t rows : {int64_t(1), int64_t(13)}) {
    for (KernelRunner *k : {&ref, &got, &odd}) {
      ASSERT_TRUE(k->bind(rows, rows, 7, error)) << error;
      ASSERT_GT(k->run(error), 0.0) << error;
    }
    std::vector<std::vector<float>> want = ref.outputs();
    ASSERT_EQ(want.size(), 1u);
    ASSERT_EQ(want[0].size(), static_cast<size_t>(rows * 32));
    EXPECT_EQ(got.outputs(), want) << "N=" << rows;
    EXPECT_EQ(odd.outputs(), want) << "N=" << rows;
    // Not all zeros: the inputs were filled.
    float sum = 0;
    for (float x : want[0])
      sum += std::fabs(x);
    EXPECT_GT(sum, 1.0f);
  }
}

TEST(Tuner, AttentionAndSkippedKinds) {
  Halide::Target target = hostTarget();
  KernelDesc att;
  att.kind = KernelKind::Attention;
  att.heads = 2;
  att.kvHeads = 1;
  att.headDim = 16;
  att.causal = true;
  att.maxSeq = 8;
  KernelDesc emb;
  emb.kind = KernelKind::Embed;
  emb.vocab = 10;
  emb.d = 16;
  TuneOptions o;
  o.rows = {1, 8};
  o.runs = 3;
  o.progress = false;
  o.queryTiles = {4};
  std::map<std::string, KernelTuning> tuning;
  std::vector<TuneResult> results;
  std::string error;
  ASSERT_TRUE(tuneKernels({emb, att}, target, o, tuning, results, error))
      << error;
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].skipped);
  EXPECT_EQ(results[0].candidates, 0);
  EXPECT_FALSE(results[1].skipped);
  EXPECT_EQ(results[1].candidates, 2); // the default (8) and 4
  int64_t q = results[1].best.queryTile;
  EXPECT_TRUE(q == 4 || q == results[1].defaults.queryTile) << q;
  // Query tiles of 8 and 3 rows over 5 queries and 8 cached keys (a
  // decode-like call: the queries are the last 5 positions).
  std::vector<std::vector<float>> a, b;
  KernelRunner x, y;
  ASSERT_TRUE(x.build(att, target, error)) << error;
  ASSERT_TRUE(y.build(withTuning(att, {0, 0, 3}), target, error)) << error;
  ASSERT_TRUE(x.bind(5, 8, 3, error) && x.run(error) > 0) << error;
  ASSERT_TRUE(y.bind(5, 8, 3, error) && y.run(error) > 0) << error;
  EXPECT_EQ(x.outputs(), y.outputs());
  EXPECT_EQ(x.outputs()[0].size(), 5u * 32u);
}

TEST(Tuner, OneRowCallsMatchTheFirstRowOfALargerCall) {
  // A one-row call (decode) runs products of its own (tileProducts): tiles
  // of two panels where the panels pair up, one where they do not or the
  // last is padded, and int8 sums per scale group. Each must compute what
  // the first row of a 5-row call (the generic loop nest) computes, for
  // packed f32, f16 and int8 weights. The widths cover paired panels
  // (96, 192), an odd count (3 panels of 144), a padded last panel (61,
  // 150, 200), runs of tiles per task (below) and both groupings (32 rows,
  // one group per column).
  Halide::Target target = hostTarget();
  int vec = std::max(1, target.natural_vector_size<float>());
  std::vector<KernelDesc> descs;
  auto add = [&](KernelDesc d) {
    d.panel = 3 * vec;
    d.maxSeq = 16;
    for (WeightType w : {WeightType::F32, WeightType::F16, WeightType::I8})
      for (int64_t group : {int64_t(32), int64_t(0)}) {
        if (w != WeightType::I8 && group == 0)
          continue;
        KernelDesc q = d;
        q.weightType = w;
        q.group = w == WeightType::I8 ? group : 0;
        descs.push_back(q);
      }
  };
  KernelDesc proj;
  proj.kind = KernelKind::ProjResidual;
  proj.in = 64;
  proj.d = 192;
  proj.bias = true;
  add(proj);
  proj.d = 144;
  add(proj);
  KernelDesc up;
  up.kind = KernelKind::MLPUp;
  up.d = 64;
  up.dFF = 200;
  up.bias = true;
  up.norm = KernelNorm::Layer;
  add(up);
  up.dFF = 96;
  up.gated = true;
  up.bias = false;
  up.activation = Activation::SiLU;
  up.norm = KernelNorm::RMS;
  add(up);
  KernelDesc head;
  head.kind = KernelKind::Head;
  head.d = 64;
  head.vocab = 61;
  head.norm = KernelNorm::Layer;
  add(head);
  head.vocab = 150; // 4 panels, the last padded
  add(head);
  // More tiles than a one-row loop has tasks (kOneRowTasks): each task
  // streams a run of tiles, the last run shorter. 131 one-panel tiles, the
  // last padded (runs of 3); 67 pairs (runs of 2).
  head.vocab = 3 * vec * 130 + 7;
  add(head);
  proj.d = 3 * vec * 134;
  add(proj);
  KernelDesc qkv;
  qkv.kind = KernelKind::QKV;
  qkv.d = 64;
  qkv.heads = 4;
  qkv.kvHeads = 2;
  qkv.headDim = 24;
  qkv.bias = true;
  qkv.rope = true;
  qkv.norm = KernelNorm::RMS;
  add(qkv);

  std::string error;
  for (const KernelDesc &d : descs) {
    KernelRunner k;
    ASSERT_TRUE(k.build(d, target, error)) << error;
    ASSERT_TRUE(k.bind(1, 1, 3, error)) << error;
    ASSERT_GE(k.run(error), 0.0) << error;
    std::vector<std::vector<float>> one = k.outputs();
    ASSERT_TRUE(k.bind(5, 5, 3, error)) << error;
    ASSERT_GE(k.run(error), 0.0) << error;
    std::vector<std::vector<float>> five = k.outputs();
    ASSERT_EQ(one.size(), five.size()) << d.symbol();
    for (size_t o = 0; o < one.size(); ++o) {
      size_t width = one[o].size();
      ASSERT_EQ(five[o].size(), 5 * width) << d.symbol();
      double worst = 0, norm = 0;
      size_t at = 0;
      for (size_t c = 0; c < width; ++c) {
        double err = std::fabs(double(one[o][c]) - double(five[o][c])) /
                     std::max(1.0, std::fabs(double(five[o][c])));
        if (!(err <= worst)) {
          worst = std::isnan(err) ? INFINITY : err;
          at = c;
        }
        norm += std::fabs(five[o][c]);
      }
      EXPECT_LE(worst, 1e-5) << d.symbol() << " output " << o << " column "
                             << at << ": one row " << one[o][at]
                             << ", first of five " << five[o][at];
      EXPECT_GT(norm, 1.0) << d.symbol() << ": outputs are all zero";
    }
  }
}
