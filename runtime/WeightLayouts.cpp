//===- WeightLayouts.cpp - Which layout a weights file uses ---------------===//
#include "WeightLayouts.h"

#include "SafetensorsReader.h"

namespace tfc {

namespace {

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(const std::string &s, const char *part) {
  return s.find(part) != std::string::npos;
}

} // namespace

std::string detectLayoutName(const SafetensorsFile &file) {
  auto meta = file.metadata().find("tfc.layout");
  if (meta != file.metadata().end())
    for (const char *known : {"native", "hf-gpt2", "hf-llama", "hf-bert",
                              "hf-vit"})
      if (meta->second == known)
        return known;
  // Most specific first: BERT and ViT names both contain "embeddings.".
  bool gpt2 = false, llama = false, bert = false, vit = false, native = false;
  for (const SafetensorsEntry &e : file.entries()) {
    const std::string &n = e.name;
    vit |= contains(n, "embeddings.patch_embeddings.projection.weight");
    bert |= contains(n, "embeddings.word_embeddings.weight");
    llama |= startsWith(n, "model.layers.") || n == "model.embed_tokens.weight";
    gpt2 |= n == "wte.weight" || n == "transformer.wte.weight" ||
            contains(n, "attn.c_attn.weight");
    native |= n == "tok_embed" || n == "patch.w" || startsWith(n, "layers.") ||
              startsWith(n, "encoder.layers.") ||
              startsWith(n, "decoder.layers.");
  }
  if (vit)
    return "hf-vit";
  if (bert)
    return "hf-bert";
  if (llama)
    return "hf-llama";
  if (gpt2)
    return "hf-gpt2";
  if (native)
    return "native";
  return "";
}

bool isIgnorableTensor(const std::string &layout, const std::string &prefix,
                       const std::string &name) {
  std::string local =
      startsWith(name, prefix) ? name.substr(prefix.size()) : name;
  if (layout == "hf-gpt2")
    return startsWith(local, "h.") && (endsWith(local, ".attn.bias") ||
                                       endsWith(local, ".attn.masked_bias"));
  if (layout == "hf-llama")
    return endsWith(name, ".rotary_emb.inv_freq");
  if (layout == "hf-bert")
    return local == "embeddings.position_ids" || startsWith(local, "pooler.") ||
           startsWith(name, "cls.");
  if (layout == "hf-vit")
    return startsWith(local, "pooler.");
  return false;
}

} // namespace tfc
