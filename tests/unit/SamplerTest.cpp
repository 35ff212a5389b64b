//===- SamplerTest.cpp - Greedy, temperature, top-k, top-p ---------------===//
#include "tfc_runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

struct Sampler {
  Sampler(int64_t vocab, float t, int32_t k, float p, uint64_t seed) {
    tfc_sampler_params params = {t, k, p, seed};
    s = tfc_sampler_create(vocab, &params);
    EXPECT_NE(s, nullptr) << tfc_last_error();
  }
  ~Sampler() { tfc_sampler_destroy(s); }
  tfc_sampler *s;
};

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  Sampler greedy(4, 0.0f, 0, 1.0f, 7);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(tfc_sampler_next(greedy.s, logits.data()), 1);
  // top_k = 1 is greedy at any temperature.
  Sampler k1(4, 5.0f, 1, 1.0f, 7);
  EXPECT_EQ(tfc_sampler_next(k1.s, logits.data()), 1);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  // p = [1/2, 1/4, 1/4] at temperature 1.
  std::vector<float> logits = {std::log(0.5f), std::log(0.25f),
                               std::log(0.25f)};
  Sampler s(3, 1.0f, 0, 1.0f, 123);
  std::vector<int> count(3, 0);
  const int draws = 40000;
  for (int i = 0; i < draws; ++i)
    ++count[size_t(tfc_sampler_next(s.s, logits.data()))];
  EXPECT_NEAR(count[0] / double(draws), 0.50, 0.015);
  EXPECT_NEAR(count[1] / double(draws), 0.25, 0.015);
  EXPECT_NEAR(count[2] / double(draws), 0.25, 0.015);
  // Temperature 0.5 squares the odds: p ∝ [1/4, 1/16, 1/16] = [2/3, 1/6, 1/6].
  Sampler cold(3, 0.5f, 0, 1.0f, 5);
  std::fill(count.begin(), count.end(), 0);
  for (int i = 0; i < draws; ++i)
    ++count[size_t(tfc_sampler_next(cold.s, logits.data()))];
  EXPECT_NEAR(count[0] / double(draws), 2.0 / 3, 0.015);
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f, 2.5f};
  Sampler k2(5, 1.0f, 2, 1.0f, 9);
  for (int i = 0; i < 2000; ++i) {
    int32_t t = tfc_sampler_next(k2.s, logits.data());
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
  // p = [0.063, 0.463, 0.170, 0.023, 0.281] for ids 0..4. top_p 0.3 keeps
  // id 1 alone; 0.7 keeps ids 1, 4 (0.744); 0.8 adds id 2 (0.914).
  Sampler p(5, 1.0f, 0, 0.3f, 9);
  for (int i = 0; i < 200; ++i)
    EXPECT_EQ(tfc_sampler_next(p.s, logits.data()), 1);
  for (float topP : {0.7f, 0.8f}) {
    Sampler nucleus(5, 1.0f, 0, topP, 9);
    bool seen[5] = {false, false, false, false, false};
    for (int i = 0; i < 4000; ++i)
      seen[tfc_sampler_next(nucleus.s, logits.data())] = true;
    EXPECT_TRUE(seen[1] && seen[4]);
    EXPECT_EQ(seen[2], topP > 0.75f);
    EXPECT_FALSE(seen[0] || seen[3]);
  }
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i)
    logits[i] = std::sin(float(i));
  Sampler a(50, 1.0f, 10, 0.9f, 42), b(50, 1.0f, 10, 0.9f, 42),
      c(50, 1.0f, 10, 0.9f, 43);
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 100; ++i) {
    ta.push_back(tfc_sampler_next(a.s, logits.data()));
    tb.push_back(tfc_sampler_next(b.s, logits.data()));
    tc.push_back(tfc_sampler_next(c.s, logits.data()));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(Sampler, BadParametersAreErrors) {
  auto create = [](int64_t vocab, float t, int32_t k, float p) {
    tfc_sampler_params params = {t, k, p, 0};
    return tfc_sampler_create(vocab, &params);
  };
  EXPECT_EQ(create(10, -1.0f, 0, 1.0f), nullptr);
  EXPECT_STREQ(tfc_last_error(),
               "sampler: temperature -1.000000 must be >= 0 (0 = greedy)");
  EXPECT_EQ(create(10, 1.0f, -3, 1.0f), nullptr);
  EXPECT_STREQ(tfc_last_error(),
               "sampler: top_k -3 must be >= 0 (0 = no limit)");
  EXPECT_EQ(create(10, 1.0f, 0, 0.0f), nullptr);
  EXPECT_STREQ(tfc_last_error(), "sampler: top_p 0.000000 must be in (0, 1]");
  EXPECT_EQ(create(0, 1.0f, 0, 1.0f), nullptr);
  EXPECT_STREQ(tfc_last_error(), "sampler: vocab 0 is not in [1, 2^31]");
  EXPECT_EQ(tfc_sampler_next(nullptr, nullptr), -1);
  EXPECT_STREQ(tfc_last_error(), "sampler is NULL");
}

TEST(Sampler, NullParametersAreTheDefaults) {
  tfc_sampler_params d = tfc_sampler_default_params();
  EXPECT_FLOAT_EQ(d.temperature, 0.8f);
  EXPECT_EQ(d.top_k, 40);
  EXPECT_FLOAT_EQ(d.top_p, 0.95f);
  EXPECT_EQ(d.seed, 0u);
  std::vector<float> logits = {0.1f, 0.4f, 0.2f, 0.3f, 0.0f};
  tfc_sampler *a = tfc_sampler_create(5, nullptr);
  tfc_sampler *b = tfc_sampler_create(5, &d);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(tfc_sampler_next(a, logits.data()),
              tfc_sampler_next(b, logits.data()));
  tfc_sampler_destroy(a);
  tfc_sampler_destroy(b);
}

} // namespace

TEST(Sampler, NaNLogitsRankBelowEveryNumber) {
  // Found by FuzzRuntimeApi's NaN logits: the candidates are the largest
  // numbers, never a NaN, and sorting stays well-defined.
  float nan = std::nanf("");
  std::vector<float> logits = {nan, 1.0f, 3.0f, nan, 2.0f, nan};
  Sampler topk(6, 1.0f, 2, 1.0f, 5);
  Sampler all(6, 1.0f, 0, 1.0f, 5);
  for (int i = 0; i < 200; ++i) {
    int32_t a = tfc_sampler_next(topk.s, logits.data());
    EXPECT_TRUE(a == 2 || a == 4) << a;
    int32_t b = tfc_sampler_next(all.s, logits.data());
    EXPECT_TRUE(b == 1 || b == 2 || b == 4) << b;
  }
  Sampler greedy(6, 0.0f, 0, 1.0f, 5);
  EXPECT_EQ(tfc_sampler_next(greedy.s, logits.data()), 2);
}
