// A C++ program that uses yaml-cpp (Debian's, shared or static) and a
// model's static library, whose own copy of yaml-cpp and C++ internals are
// local to it (tests/lit/compiled/library-symbols.test).
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tiny_decoder.h"

int main() {
  YAML::Node doc = YAML::Load("name: host\nvalues: [1, 2, 3]\n");
  int total = 0;
  for (const auto &v : doc["values"])
    total += v.as<int>();
  const tfc_model *model = tfc_model_tiny_decoder();
  tfc_weights *w = tfc_weights_random(model, 3);
  tfc_context *ctx = w ? tfc_context_create(w, nullptr) : nullptr;
  std::vector<int32_t> tokens = {1, 2, 3};
  std::vector<float> out(3 * tfc_output_cols(model));
  if (!ctx || tfc_forward(ctx, tokens.data(), 3, out.data()) != 0) {
    std::fprintf(stderr, "error: %s\n", tfc_last_error());
    return 1;
  }
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "model" << YAML::Value
    << tfc_model_name(model) << YAML::EndMap;
  std::printf("%s %d %s\n", doc["name"].as<std::string>().c_str(), total,
              e.c_str());
  tfc_context_destroy(ctx);
  tfc_weights_free(w);
  return 0;
}
