//===- WeightLoad.cpp - A model's native tensors from a file --------------===//
#include "WeightLoad.h"

#include "RandomWeights.h"
#include "SafetensorsReader.h"
#include "WeightFormat.h"
#include "WeightLayouts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace tfc {

namespace {

std::string shapeText(const int64_t *dims, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string shapeText(const std::vector<int64_t> &dims) {
  return shapeText(dims.data(), int32_t(dims.size()));
}

int64_t numel(const int64_t *dims, int32_t rank) {
  int64_t n = 1;
  for (int32_t i = 0; i < rank; ++i)
    n *= dims[i];
  return n;
}

/// "[3, 17]": the index of flat element `flat` of a tensor of `shape`.
std::string indexText(const std::vector<int64_t> &shape, size_t flat) {
  std::vector<int64_t> index(shape.size());
  uint64_t rest = flat;
  for (size_t d = shape.size(); d-- > 0;) {
    uint64_t extent = uint64_t(std::max<int64_t>(shape[d], 1));
    index[d] = int64_t(rest % extent);
    rest /= extent;
  }
  return shapeText(index);
}

template <typename T> T loadLE(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof v); // x86-64 and AArch64 Linux: little-endian
  return v;
}

/// The file tensor's values as f32 in `out` (or, for F32 data that is
/// suitably aligned, a pointer into the mapping: no copy). Refuses values
/// compiled models cannot hold: NaN, infinities, F64 beyond f32's range.
bool decode(const SafetensorsFile &file, const SafetensorsEntry &e,
            std::vector<float> &out, const float *&values,
            std::string &error) {
  const uint8_t *bytes = file.data(e);
  size_t count = size_t(e.numel);
  auto where = [&] {
    return file.path() + ": tensor '" + printableText(e.name) + "': ";
  };
  auto bad = [&](size_t i, double v) {
    std::string what = std::isnan(v)   ? std::string("NaN")
                       : std::isinf(v) ? std::string(v < 0 ? "-inf" : "inf")
                                       : std::string();
    if (what.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", v);
      what = std::string(buf) + ", beyond f32's range";
    }
    error = where() + "element " + indexText(e.shape, i) + " is " + what +
            "; weights must be finite f32 values";
    return false;
  };
  if (e.dtype == "F32" &&
      reinterpret_cast<uintptr_t>(bytes) % alignof(float) == 0) {
    values = reinterpret_cast<const float *>(bytes);
  } else {
    out.resize(count);
    if (e.dtype == "F32") {
      std::memcpy(out.data(), bytes, count * 4);
    } else if (e.dtype == "F16") {
      for (size_t i = 0; i < count; ++i)
        out[i] = halfToFloat(loadLE<uint16_t>(bytes + 2 * i));
    } else if (e.dtype == "BF16") {
      for (size_t i = 0; i < count; ++i) {
        uint32_t bits = uint32_t(loadLE<uint16_t>(bytes + 2 * i)) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
    } else if (e.dtype == "F64") {
      constexpr double kMax = std::numeric_limits<float>::max();
      for (size_t i = 0; i < count; ++i) {
        double v = loadLE<double>(bytes + 8 * i);
        if (!(std::fabs(v) <= kMax))
          return bad(i, v);
        out[i] = float(v);
      }
    } else {
      error = where() + "dtype " + e.dtype +
              " is not a float type (F64, F32, F16, BF16)";
      return false;
    }
    values = out.data();
  }
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i]))
      return bad(i, double(values[i]));
  return true;
}

/// Native tensor `t` from the decoded file tensor `src` (shape fileDims)
/// by `source`'s transform; `src` itself when the data is the same.
const float *toNative(const tfc_tensor_source &s, const tfc_tensor &t,
                      const float *src, std::vector<float> &out) {
  const int64_t *fs = s.file_dims;
  switch (s.xform) {
  case TFC_XFORM_COPY:
  case TFC_XFORM_RESHAPE:
    return src;
  case TFC_XFORM_TRANSPOSE: {
    int64_t rows = fs[0], cols = fs[1];
    out.resize(size_t(rows * cols));
    // In blocks, so that both sides stay in cache.
    constexpr int64_t B = 64;
    for (int64_t r0 = 0; r0 < rows; r0 += B)
      for (int64_t c0 = 0; c0 < cols; c0 += B)
        for (int64_t r = r0; r < std::min(rows, r0 + B); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + B); ++c)
            out[size_t(c * rows + r)] = src[r * cols + c];
    return out.data();
  }
  case TFC_XFORM_CONV_PATCH: {
    int64_t d = fs[0], ch = fs[1], p = fs[2];
    out.resize(size_t(d * ch * p * p));
    for (int64_t o = 0; o < d; ++o)
      for (int64_t c = 0; c < ch; ++c)
        for (int64_t y = 0; y < p; ++y)
          for (int64_t x = 0; x < p; ++x)
            out[size_t(((y * p + x) * ch + c) * d + o)] =
                src[((o * ch + c) * p + y) * p + x];
    return out.data();
  }
  case TFC_XFORM_COLUMNS: {
    int64_t total = fs[s.file_rank - 1];
    int64_t width = t.dims[t.rank - 1];
    int64_t rows = numel(t.dims, t.rank) / std::max<int64_t>(width, 1);
    out.resize(size_t(rows * width));
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(&out[size_t(r * width)], src + r * total + s.column,
                  size_t(width) * 4);
    return out.data();
  }
  }
  return nullptr;
}

/// Gives the pages of a tensor's data back once it is converted: without
/// this, reading a file through its mapping leaves all of it resident next
/// to the converted weights (2x the peak memory).
void releasePages(const SafetensorsFile &file, const SafetensorsEntry &e) {
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(file.data(e));
  uintptr_t end = begin + (e.end - e.begin);
  begin = (begin + page - 1) / page * page; // whole pages inside only
  end = end / page * page;
  if (end > begin)
    madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool readTensors(const tfc_model &model, const SafetensorsFile &file,
                 const tfc_layout &layout, const std::string &prefix,
                 const TensorSink &sink, std::string &error) {
  const std::string &path = file.path();
  std::vector<bool> used(file.entries().size()), delivered(
                                                     size_t(model.num_tensors));
  std::vector<float> decoded, native;
  const tfc_tensor_source *sources = model.sources + layout.first_source;
  for (int32_t i = 0; i < layout.num_sources;) {
    const tfc_tensor_source &first = sources[i];
    std::string name = (first.prefixed ? prefix : "") + first.file;
    std::vector<int64_t> want(first.file_dims,
                              first.file_dims + first.file_rank);
    const SafetensorsEntry *e = file.find(name);
    if (!e) {
      error = path + ": missing tensor '" + name + "' (expected shape " +
              shapeText(want) + ", layout '" + layout.name + "')";
      return false;
    }
    if (e->shape != want) {
      error = path + ": tensor '" + name + "': expected shape " +
              shapeText(want) + ", found " + shapeText(e->shape);
      return false;
    }
    const float *values = nullptr;
    if (!decode(file, *e, decoded, values, error))
      return false;
    // The sources of one file tensor are adjacent (c_attn: q, k, v).
    for (; i < layout.num_sources &&
           std::strcmp(sources[i].file, first.file) == 0;
         ++i) {
      const tfc_tensor_source &s = sources[i];
      if (s.tensor < 0 || s.tensor >= model.num_tensors ||
          delivered[size_t(s.tensor)]) {
        error = path + ": the model's layout table for '" + layout.name +
                "' is corrupt (tensor " + std::to_string(s.tensor) + ")";
        return false;
      }
      const tfc_tensor &t = model.tensors[s.tensor];
      if (!sink(s.tensor, toNative(s, t, values, native), error))
        return false;
      delivered[size_t(s.tensor)] = true;
    }
    used[size_t(e - file.entries().data())] = true;
    releasePages(file, *e);
  }
  for (int32_t t = 0; t < model.num_tensors; ++t)
    if (!delivered[size_t(t)]) {
      error = path + ": missing tensor '" + model.tensors[t].name + "'";
      return false;
    }

  const std::vector<SafetensorsEntry> &entries = file.entries();
  for (size_t k = 0; k < entries.size(); ++k) {
    const SafetensorsEntry &e = entries[k];
    if (used[k] || isIgnorableTensor(layout.name, prefix, e.name))
      continue;
    // A tied model's file may still carry lm_head.weight (transformers
    // saves it for GPT-2 and some LLaMA checkpoints): fine if it is the
    // embedding matrix itself.
    if (layout.tied_head && e.name == "lm_head.weight") {
      std::string embedName = prefix + layout.tied_head;
      const SafetensorsEntry *embed = file.find(embedName);
      std::vector<float> headBuf, embedBuf;
      const float *head = nullptr, *emb = nullptr;
      if (!decode(file, e, headBuf, head, error))
        return false;
      if (embed && embed->shape == e.shape &&
          decode(file, *embed, embedBuf, emb, error) &&
          std::equal(head, head + e.numel, emb))
        continue;
      error = path + ": tensor 'lm_head.weight' differs from '" + embedName +
              "', but the spec ties the embeddings (head.tie_embeddings: "
              "true)";
      return false;
    }
    error = path + ": unexpected tensor '" + printableText(e.name) +
            "' (not a weight of model '" + model.name + "' in layout '" +
            layout.name + "')";
    return false;
  }
  return true;
}

} // namespace

bool readWeightsFile(const tfc_model &model, const std::string &path,
                     const TensorSink &sink, std::string &error) {
  std::unique_ptr<SafetensorsFile> file = SafetensorsFile::open(path, error);
  if (!file)
    return false;
  if (model.num_layouts < 1) {
    error = path + ": model '" + model.name + "' has no weight layouts";
    return false;
  }
  // The layout comes from the file's names or metadata; the spec's layout
  // (the first) is the fallback for a file that says nothing.
  const tfc_layout *layout = &model.layouts[0];
  std::string seen = detectLayoutName(*file);
  for (int32_t l = 0; l < model.num_layouts; ++l)
    if (seen == model.layouts[l].name)
      layout = &model.layouts[l];
  bool ok;
  if (layout->unsupported) {
    error = path + ": " + layout->unsupported;
    ok = false;
  } else {
    // The optional prefix: a GPT2LMHeadModel file says
    // "transformer.h.0...", a GPT2Model file "h.0...".
    std::string prefix;
    for (const SafetensorsEntry &e : file->entries())
      if (layout->prefix[0] && startsWith(e.name, layout->prefix))
        prefix = layout->prefix;
    ok = readTensors(model, *file, *layout, prefix, sink, error);
  }
  if (!ok) {
    // The usual cause of a missing or misshapen tensor is a file of another
    // model; tfc's own files say which model they were written for.
    auto named = file->metadata().find("tfc.model");
    if (named != file->metadata().end() && named->second != model.name)
      error += " (the file's metadata says it holds model '" +
               printableText(named->second) + "', not '" + model.name + "')";
  }
  return ok;
}

bool randomWeightTensors(const tfc_model &model, uint64_t seed,
                         const TensorSink &sink, std::string &error) {
  std::vector<double> values;
  std::vector<float> data;
  for (int32_t i = 0; i < model.num_tensors; ++i) {
    const tfc_tensor &t = model.tensors[i];
    size_t count = size_t(numel(t.dims, t.rank));
    values.resize(count);
    data.resize(count);
    randomNormal(seed, t.name, t.init_mean, t.init_sigma, values.data(),
                 count);
    for (size_t k = 0; k < count; ++k)
      data[k] = float(values[k]);
    if (!sink(i, data.data(), error))
      return false;
  }
  return true;
}

} // namespace tfc
