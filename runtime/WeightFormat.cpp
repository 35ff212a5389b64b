//===- WeightFormat.cpp - Weights in the form the kernels read -----------===//
#include "WeightFormat.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tfc {

namespace {

std::string shapeText(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

int elementBytes(const tfc_weight_info &info) {
  if (info.scales)
    return 4;
  switch (info.dtype) {
  case TFC_DTYPE_F16:
  case TFC_DTYPE_BF16:
    return 2;
  case TFC_DTYPE_I8:
    return 1;
  default:
    return 4;
  }
}

/// Anything but a plain f32 tensor is a matrix [rows, cols] in some form.
bool isMatrixForm(const tfc_weight_info &info) {
  return info.panel > 0 || info.dtype != TFC_DTYPE_F32 || info.scales ||
         info.transposed;
}

} // namespace

bool weightForm(const tfc_weight_info &info, const std::vector<int64_t> &shape,
                WeightForm &form, std::string &error) {
  std::string name = info.name ? info.name : "?";
  std::vector<int64_t> planDims(info.dims, info.dims + info.rank);
  bool matrix = isMatrixForm(info);
  if (!matrix) {
    if (shape != planDims) {
      error = "tensor '" + name + "': the plan expects shape " +
              shapeText(planDims) + ", found " + shapeText(shape);
      return false;
    }
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    form.rows = 1;
    form.cols = form.paddedCols = count;
    form.bytes = count * 4;
    return true;
  }
  if (shape.size() != 2) {
    error = "tensor '" + name + "': the plan reads it as a matrix, found shape " +
            shapeText(shape);
    return false;
  }
  form.rows = info.transposed ? shape[1] : shape[0];
  form.cols = info.transposed ? shape[0] : shape[1];
  int64_t p = info.panel;
  form.paddedCols = p > 0 ? (form.cols + p - 1) / p * p : form.cols;
  std::vector<int64_t> want;
  if ((info.dtype == TFC_DTYPE_I8 || info.scales) &&
      (info.group < 1 || form.rows % info.group != 0)) {
    error = "tensor '" + name + "': int8 group " + std::to_string(info.group) +
            " does not divide its " + std::to_string(form.rows) + " rows";
    return false;
  }
  if (info.scales && p > 0)
    want = {form.paddedCols / p, form.rows / info.group, p};
  else if (info.scales)
    want = {form.rows / info.group, form.paddedCols};
  else if (p > 0)
    want = {form.paddedCols / p, form.rows, p};
  else
    want = {form.rows, form.cols};
  if (want != planDims) {
    error = "tensor '" + name + "' " + shapeText(shape) + (info.transposed ? " transposed" : "") +
            " gives " + shapeText(want) + ", the plan expects " +
            shapeText(planDims);
    return false;
  }
  form.bytes = info.scales ? form.rows / info.group * form.paddedCols * 4
                           : form.rows * form.paddedCols * elementBytes(info);
  return true;
}

uint16_t floatToHalf(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  uint32_t sign = (f >> 16) & 0x8000u;
  uint32_t absf = f & 0x7fffffffu;
  if (absf >= 0x7f800000u) // inf or NaN
    return uint16_t(sign | 0x7c00u | (absf > 0x7f800000u ? 0x200u : 0));
  if (absf >= 0x477ff000u) // rounds to >= 65520: overflow
    return uint16_t(sign | 0x7c00u);
  if (absf < 0x38800000u) { // below the smallest normal half: subnormal
    // value = absf as float; half subnormal unit = 2^-24.
    float a;
    std::memcpy(&a, &absf, 4);
    float scaled = a * 16777216.0f; // / 2^-24, exact
    uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return uint16_t(sign | m); // m <= 1024 (1024 is the smallest normal)
  }
  uint32_t exp = (absf >> 23) - 127 + 15;
  uint32_t mant = absf & 0x7fffffu;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    ++h; // may carry into the exponent, which is right
  return uint16_t(sign | h);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float out;
  if (exp == 0) {
    out = std::ldexp(static_cast<float>(mant), -24);
    uint32_t bits;
    std::memcpy(&bits, &out, 4);
    bits |= sign;
    std::memcpy(&out, &bits, 4);
    return out;
  }
  uint32_t bits = exp == 31 ? sign | 0x7f800000u | (mant << 13)
                            : sign | ((exp - 15 + 127) << 23) | (mant << 13);
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t floatToBFloat16(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  if ((f & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a NaN
    return uint16_t((f >> 16) | 0x40u);
  uint32_t rounding = 0x7fffu + ((f >> 16) & 1u);
  return uint16_t((f + rounding) >> 16);
}

float int8Scale(double maxAbs) {
  return maxAbs > 0 ? static_cast<float>(maxAbs / 127.0) : 0.0f;
}

int8_t quantizeInt8(double x, float scale) {
  if (!(scale > 0))
    return 0;
  double q = std::nearbyint(x / static_cast<double>(scale));
  return static_cast<int8_t>(std::clamp(q, -127.0, 127.0));
}

bool storeWeight(const tfc_weight_info &info, const WeightForm &form,
                 const float *data, void *dst, std::string &error) {
  if (form.paddedCols != form.cols) // the panel padding; all else is written
    std::memset(dst, 0, static_cast<size_t>(form.bytes));
  int64_t rows = form.rows, cols = form.cols, p = info.panel;
  // Element (k, c) of the logical matrix.
  auto at = [&](int64_t k, int64_t c) {
    return info.transposed ? data[c * rows + k] : data[k * cols + c];
  };
  bool matrix = isMatrixForm(info);
  if (!matrix) {
    std::memcpy(dst, data, size_t(cols) * sizeof(float));
    return true;
  }
  // int8: scale[g, c] for each group g of `group` rows ([groups, padded]
  // here; stored in the matrix's layout below).
  std::vector<float> scale;
  int64_t group = info.group, padded = form.paddedCols;
  if (info.dtype == TFC_DTYPE_I8 || info.scales) {
    scale.assign(static_cast<size_t>(rows / group * padded), 0.0f);
    std::vector<float> largest(static_cast<size_t>(cols));
    for (int64_t g = 0; g < rows / group; ++g) {
      std::fill(largest.begin(), largest.end(), 0.0f);
      for (int64_t k = g * group; k < (g + 1) * group; ++k)
        for (int64_t c = 0; c < cols; ++c)
          largest[size_t(c)] =
              std::max(largest[size_t(c)], std::fabs(at(k, c)));
      for (int64_t c = 0; c < cols; ++c)
        scale[static_cast<size_t>(g * padded + c)] =
            int8Scale(largest[size_t(c)]);
    }
  }
  if (info.scales) {
    // Packed: [panels, groups, P] (the matrix's panels); else [groups, cols].
    float *out = static_cast<float *>(dst);
    int64_t groups = rows / group;
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t c = 0; c < padded; ++c)
        out[p > 0 ? ((c / p) * groups + g) * p + c % p : g * padded + c] =
            scale[static_cast<size_t>(g * padded + c)];
    return true;
  }
  // Every element through `store(v, i, k, c)` with i its destination index,
  // in the order the source is contiguous (a transposed matrix column by
  // column), without a division per element.
  auto each = [&](auto store) {
    int64_t width = p > 0 ? p : cols; // columns per panel
    if (info.transposed) {
      for (int64_t c = 0; c < cols; ++c) {
        int64_t base = (c / width) * rows * width + c % width;
        for (int64_t k = 0; k < rows; ++k)
          if (!store(data[c * rows + k], base + k * width, k, c))
            return false;
      }
    } else {
      for (int64_t k = 0; k < rows; ++k)
        for (int64_t c0 = 0; c0 < cols; c0 += width) {
          int64_t base = (c0 / width * rows + k) * width - c0;
          for (int64_t c = c0; c < std::min(cols, c0 + width); ++c)
            if (!store(data[k * cols + c], base + c, k, c))
              return false;
        }
    }
    return true;
  };
  switch (info.dtype) {
  case TFC_DTYPE_F16:
    return each([&](float v, int64_t i, int64_t k, int64_t c) {
      if (!(std::fabs(v) <= 65504.0f)) {
        error = "tensor '" + std::string(info.name ? info.name : "?") +
                "': element [" + std::to_string(k) + ", " +
                std::to_string(c) + "] = " + std::to_string(v) +
                " is beyond f16's range (65504); compile with --quantize "
                "bf16 or f32";
        return false;
      }
      static_cast<uint16_t *>(dst)[i] = floatToHalf(v);
      return true;
    });
  case TFC_DTYPE_BF16:
    return each([&](float v, int64_t i, int64_t, int64_t) {
      static_cast<uint16_t *>(dst)[i] = floatToBFloat16(v);
      return true;
    });
  case TFC_DTYPE_I8:
    return each([&](float v, int64_t i, int64_t k, int64_t c) {
      static_cast<int8_t *>(dst)[i] = quantizeInt8(
          v, scale[static_cast<size_t>(k / group * padded + c)]);
      return true;
    });
  default:
    return each([&](float v, int64_t i, int64_t, int64_t) {
      static_cast<float *>(dst)[i] = v;
      return true;
    });
  }
}

} // namespace tfc
