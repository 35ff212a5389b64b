//===- RefKernels.cpp - Plain-loop kernels of the reference interpreter ---===//
//
// Straightforward loops in double precision; see RefKernels.h for the math.
// Where a model-level kernel and the primitive composition the IR lowers it
// to compute the same value, the loops accumulate in the same order, so that
// the two agree to the last bit in practice (the tests allow 1e-12).
//
//===----------------------------------------------------------------------===//
#include "reference/RefKernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace tfc {
namespace ref {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kPi = 3.14159265358979323846;

size_t idx(int64_t i) { return static_cast<size_t>(i); }

/// Maps a possibly negative axis (numpy style) into [0, rank).
int64_t normalizeAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

/// Views a tensor as [outer, extent, inner] around `axis`: the layout every
/// single-axis op (concat, slice, mean, repeat) works on.
struct AxisView {
  int64_t outer = 1, extent = 1, inner = 1;
};

AxisView viewAround(const std::vector<int64_t> &shape, int64_t axis) {
  AxisView v;
  for (int64_t a = 0; a < static_cast<int64_t>(shape.size()); ++a) {
    if (a < axis)
      v.outer *= shape[idx(a)];
    else if (a == axis)
      v.extent = shape[idx(a)];
    else
      v.inner *= shape[idx(a)];
  }
  return v;
}

/// Row-major strides of a shape.
std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t a = static_cast<int64_t>(shape.size()) - 2; a >= 0; --a)
    strides[idx(a)] = strides[idx(a + 1)] * shape[idx(a + 1)];
  return strides;
}

/// Advances a row-major multi-index over `shape`; false once it wraps.
bool nextIndex(std::vector<int64_t> &index, const std::vector<int64_t> &shape) {
  for (int64_t a = static_cast<int64_t>(shape.size()) - 1; a >= 0; --a) {
    if (++index[idx(a)] < shape[idx(a)])
      return true;
    index[idx(a)] = 0;
  }
  return false;
}

/// Softmax of one row of n values, max-subtracted. A row of all -inf has
/// no finite max; its weights are defined as zero (nothing to attend to).
void softmaxRow(const double *in, double *out, int64_t n) {
  double maxV = kNegInf;
  for (int64_t j = 0; j < n; ++j)
    maxV = std::max(maxV, in[j]);
  if (maxV == kNegInf) {
    std::fill(out, out + n, 0.0);
    return;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    out[j] = std::exp(in[j] - maxV);
    sum += out[j];
  }
  for (int64_t j = 0; j < n; ++j)
    out[j] /= sum;
}

/// Shortest decimal form of v that reads back to v (for messages).
std::string formatNumber(double v) {
  // Integers print as integers ("70", not "7e+01") while exactly
  // representable; 2^53 bounds the int64 conversion safely.
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 0x1p53)
    return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

/// Shared body of layerNorm/rmsNorm/normalize: gamma/beta may be null.
RefTensor normalizeRows(const RefTensor &x, bool rms, const RefTensor *gamma,
                        const RefTensor *beta, double eps) {
  RefTensor out(x.shape);
  int64_t d = x.rank() == 0 ? 1 : x.dim(x.rank() - 1);
  int64_t rows = d == 0 ? 0 : x.numel() / d;
  for (int64_t r = 0; r < rows; ++r) {
    const double *in = x.data.data() + r * d;
    double *o = out.data.data() + r * d;
    double mean = 0.0;
    if (!rms) {
      for (int64_t j = 0; j < d; ++j)
        mean += in[j];
      mean /= static_cast<double>(d);
    }
    // Biased variance (divide by D) for LayerNorm; mean square for RMSNorm,
    // which is the same sum with the mean fixed at zero.
    double sq = 0.0;
    for (int64_t j = 0; j < d; ++j)
      sq += (in[j] - mean) * (in[j] - mean);
    double denom = std::sqrt(sq / static_cast<double>(d) + eps);
    for (int64_t j = 0; j < d; ++j) {
      double y = (in[j] - mean) / denom;
      if (gamma)
        y *= (*gamma)[j];
      if (beta)
        y += (*beta)[j];
      o[j] = y;
    }
  }
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// Model-level building blocks
//===----------------------------------------------------------------------===//

bool gatherRows(const RefTensor &table, const RefTensor &ids, RefTensor &out,
                std::string &error) {
  int64_t vocab = table.dim(0);
  int64_t d = table.dim(1);
  std::vector<int64_t> shape = ids.shape;
  shape.push_back(d);
  out = RefTensor(shape);
  for (int64_t n = 0; n < ids.numel(); ++n) {
    double id = ids[n];
    // Compare as doubles before converting: a huge or NaN id must not reach
    // the int64 cast (undefined behaviour).
    if (!std::isfinite(id) || id != std::floor(id)) {
      error = "token id " + formatNumber(id) + " at position " +
              std::to_string(n) + " is not an integer";
      return false;
    }
    if (id < 0.0 || id >= static_cast<double>(vocab)) {
      error = "token id " + formatNumber(id) + " at position " +
              std::to_string(n) + " is out of range [0, " +
              std::to_string(vocab) + ")";
      return false;
    }
    int64_t row = static_cast<int64_t>(id);
    std::copy(table.data.begin() + row * d, table.data.begin() + (row + 1) * d,
              out.data.begin() + n * d);
  }
  return true;
}

RefTensor sinusoidalTable(int64_t n, int64_t d) {
  RefTensor out({n, d});
  for (int64_t p = 0; p < n; ++p) {
    for (int64_t j = 0; j < d; ++j) {
      int64_t twoI = j - j % 2; // columns 2i and 2i+1 share a frequency
      double angle =
          static_cast<double>(p) /
          std::pow(10000.0, static_cast<double>(twoI) / static_cast<double>(d));
      out[p * d + j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  return out;
}

RefTensor layerNorm(const RefTensor &x, const RefTensor &gamma,
                    const RefTensor *beta, double eps) {
  return normalizeRows(x, /*rms=*/false, &gamma, beta, eps);
}

RefTensor rmsNorm(const RefTensor &x, const RefTensor &gamma, double eps) {
  return normalizeRows(x, /*rms=*/true, &gamma, nullptr, eps);
}

RefTensor normalize(const RefTensor &x, bool rms, double eps) {
  return normalizeRows(x, rms, nullptr, nullptr, eps);
}

RefTensor linear(const RefTensor &x, const RefTensor &w,
                 const RefTensor *bias) {
  int64_t in = w.dim(0);
  int64_t outDim = w.dim(1);
  int64_t rows = in == 0 ? 0 : x.numel() / in;
  std::vector<int64_t> shape = x.shape;
  shape.back() = outDim;
  RefTensor out(shape);
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t o = 0; o < outDim; ++o) {
      double acc = 0.0;
      for (int64_t i = 0; i < in; ++i)
        acc += x[n * in + i] * w[i * outDim + o];
      if (bias)
        acc += (*bias)[o];
      out[n * outDim + o] = acc;
    }
  }
  return out;
}

RefTensor activation(const RefTensor &x, ActKind kind) {
  const double kSqrt2 = std::sqrt(2.0);
  const double kSqrt2OverPi = std::sqrt(2.0 / kPi);
  RefTensor out(x.shape);
  for (int64_t e = 0; e < x.numel(); ++e) {
    double v = x[e];
    double y = 0.0;
    switch (kind) {
    case ActKind::ReLU:
      y = v > 0.0 ? v : 0.0;
      break;
    case ActKind::GELU:
      y = 0.5 * v * (1.0 + std::erf(v / kSqrt2));
      break;
    case ActKind::GELUTanh:
      y = 0.5 * v *
          (1.0 + std::tanh(kSqrt2OverPi * (v + 0.044715 * v * v * v)));
      break;
    case ActKind::SiLU:
      y = v / (1.0 + std::exp(-v));
      break;
    case ActKind::Tanh:
      y = std::tanh(v);
      break;
    }
    out[e] = y;
  }
  return out;
}

RefTensor softmaxLastAxis(const RefTensor &x) {
  RefTensor out(x.shape);
  int64_t n = x.rank() == 0 ? 1 : x.dim(x.rank() - 1);
  int64_t rows = n == 0 ? 0 : x.numel() / n;
  for (int64_t r = 0; r < rows; ++r)
    softmaxRow(x.data.data() + r * n, out.data.data() + r * n, n);
  return out;
}

RefTensor rope(const RefTensor &x, int64_t heads, int64_t headDim, double theta,
               int64_t positionOffset) {
  // [N, H*K] and [N, H, K] have the same row-major layout: row n holds the
  // H heads of token n one after the other.
  RefTensor out = x;
  int64_t n = x.dim(0);
  int64_t width = heads * headDim;
  int64_t half = headDim / 2;
  for (int64_t t = 0; t < n; ++t) {
    double pos = static_cast<double>(t + positionOffset);
    for (int64_t i = 0; i < half; ++i) {
      double freq = std::pow(theta, -2.0 * static_cast<double>(i) /
                                        static_cast<double>(headDim));
      double c = std::cos(pos * freq), s = std::sin(pos * freq);
      for (int64_t h = 0; h < heads; ++h) {
        int64_t base = t * width + h * headDim;
        double a = x[base + i], b = x[base + i + half];
        out[base + i] = a * c - b * s;
        out[base + i + half] = b * c + a * s;
      }
    }
  }
  return out;
}

RefTensor attention(const RefTensor &q, const RefTensor &k, const RefTensor &v,
                    int64_t heads, int64_t kvHeads, int64_t headDim,
                    bool causal, const RefTensor *keyMask) {
  int64_t n = q.dim(0);
  int64_t m = k.dim(0);
  int64_t group = heads / kvHeads;
  int64_t qWidth = heads * headDim;
  int64_t kvWidth = kvHeads * headDim;
  // The same factor and accumulation order as matmul + scale in the
  // primitive decomposition.
  double factor = 1.0 / std::sqrt(static_cast<double>(headDim));
  RefTensor out({n, qWidth});
  std::vector<double> scores(idx(m)), weights(idx(m));
  for (int64_t h = 0; h < heads; ++h) {
    int64_t g = h / group;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0.0;
        for (int64_t c = 0; c < headDim; ++c)
          acc += q[i * qWidth + h * headDim + c] *
                 k[j * kvWidth + g * headDim + c];
        scores[idx(j)] = acc * factor;
        if ((causal && j - i > m - n) ||
            (keyMask && (*keyMask)[j] == 0.0))
          scores[idx(j)] = kNegInf;
      }
      softmaxRow(scores.data(), weights.data(), m);
      for (int64_t c = 0; c < headDim; ++c) {
        double acc = 0.0;
        for (int64_t j = 0; j < m; ++j)
          acc += weights[idx(j)] * v[j * kvWidth + g * headDim + c];
        out[i * qWidth + h * headDim + c] = acc;
      }
    }
  }
  return out;
}

RefTensor patchify(const RefTensor &image, int64_t patch) {
  int64_t height = image.dim(0), width = image.dim(1), chans = image.dim(2);
  int64_t gridH = height / patch, gridW = width / patch;
  int64_t vecLen = patch * patch * chans;
  RefTensor out({gridH * gridW, vecLen});
  for (int64_t r = 0; r < gridH; ++r)
    for (int64_t c = 0; c < gridW; ++c)
      for (int64_t i = 0; i < patch; ++i)
        for (int64_t j = 0; j < patch; ++j)
          for (int64_t ch = 0; ch < chans; ++ch)
            out[(r * gridW + c) * vecLen + (i * patch + j) * chans + ch] =
                image[((r * patch + i) * width + c * patch + j) * chans + ch];
  return out;
}

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

RefTensor matmul(const RefTensor &a, const RefTensor &b, bool transposeB) {
  int64_t r = a.rank();
  int64_t rows = a.dim(r - 2), inner = a.dim(r - 1);
  int64_t cols = transposeB ? b.dim(b.rank() - 2) : b.dim(b.rank() - 1);
  int64_t batch = rows * inner == 0 ? 0 : a.numel() / (rows * inner);
  std::vector<int64_t> shape = a.shape;
  shape.back() = cols;
  RefTensor out(shape);
  int64_t aStride = rows * inner, bStride = inner * cols, oStride = rows * cols;
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double *pa = a.data.data() + bi * aStride;
    const double *pb = b.data.data() + bi * bStride;
    double *po = out.data.data() + bi * oStride;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double acc = 0.0;
        for (int64_t c = 0; c < inner; ++c)
          acc += pa[i * inner + c] *
                 (transposeB ? pb[j * inner + c] : pb[c * cols + j]);
        po[i * cols + j] = acc;
      }
  }
  return out;
}

RefTensor binary(const RefTensor &a, const RefTensor &b, BinaryKind kind) {
  int64_t r = std::max(a.rank(), b.rank());
  // Align trailing dims; a missing leading dim acts as extent 1. A
  // broadcast dim gets stride 0 so the same element is read again.
  std::vector<int64_t> shape(idx(r)), aStrides(idx(r), 0), bStrides(idx(r), 0);
  std::vector<int64_t> aRowMajor = stridesOf(a.shape);
  std::vector<int64_t> bRowMajor = stridesOf(b.shape);
  for (int64_t o = 0; o < r; ++o) {
    int64_t ai = o - (r - a.rank()), bi = o - (r - b.rank());
    int64_t ad = ai >= 0 ? a.dim(ai) : 1, bd = bi >= 0 ? b.dim(bi) : 1;
    shape[idx(o)] = ad == 1 ? bd : ad;
    if (ai >= 0 && ad != 1)
      aStrides[idx(o)] = aRowMajor[idx(ai)];
    if (bi >= 0 && bd != 1)
      bStrides[idx(o)] = bRowMajor[idx(bi)];
  }
  RefTensor out(shape);
  if (out.numel() == 0)
    return out;
  std::vector<int64_t> index(idx(r), 0);
  int64_t e = 0;
  do {
    int64_t ao = 0, bo = 0;
    for (int64_t o = 0; o < r; ++o) {
      ao += index[idx(o)] * aStrides[idx(o)];
      bo += index[idx(o)] * bStrides[idx(o)];
    }
    double x = a[ao], y = b[bo];
    out[e++] = kind == BinaryKind::Add   ? x + y
               : kind == BinaryKind::Sub ? x - y
                                         : x * y;
  } while (nextIndex(index, shape));
  return out;
}

RefTensor scale(const RefTensor &x, double factor) {
  RefTensor out = x;
  for (double &e : out.data)
    e *= factor;
  return out;
}

RefTensor causalMask(const RefTensor &x) {
  RefTensor out = x;
  int64_t r = x.rank();
  int64_t n = x.dim(r - 2), m = x.dim(r - 1);
  int64_t batch = n * m == 0 ? 0 : x.numel() / (n * m);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j)
        if (j - i > m - n)
          out[(bi * n + i) * m + j] = kNegInf;
  return out;
}

bool checkKeyMask(const RefTensor &mask, std::string &error) {
  bool any = false;
  for (int64_t i = 0; i < mask.numel(); ++i) {
    if (mask[i] != 0.0 && mask[i] != 1.0) {
      error = "attention mask entry " + formatNumber(mask[i]) +
              " at position " + std::to_string(i) +
              " must be 0 (padding) or 1 (a token)";
      return false;
    }
    any = any || mask[i] == 1.0;
  }
  if (!any)
    error = "attention mask of " + std::to_string(mask.numel()) +
            " entries has no 1: no token to attend to";
  return any;
}

RefTensor keyMask(const RefTensor &x, const RefTensor &mask) {
  RefTensor out = x;
  int64_t m = x.dim(x.rank() - 1);
  int64_t rows = m == 0 ? 0 : x.numel() / m;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < m; ++j)
      if (mask[j] == 0.0)
        out[r * m + j] = kNegInf;
  return out;
}

RefTensor reshape(const RefTensor &x, std::vector<int64_t> shape) {
  return RefTensor(std::move(shape), x.data);
}

RefTensor transpose(const RefTensor &x, const std::vector<int64_t> &perm) {
  int64_t r = x.rank();
  std::vector<int64_t> shape(idx(r)), srcStrides(idx(r));
  std::vector<int64_t> xStrides = stridesOf(x.shape);
  for (int64_t a = 0; a < r; ++a) {
    shape[idx(a)] = x.dim(perm[idx(a)]);
    srcStrides[idx(a)] = xStrides[idx(perm[idx(a)])];
  }
  RefTensor out(shape);
  if (out.numel() == 0)
    return out;
  std::vector<int64_t> index(idx(r), 0);
  int64_t e = 0;
  do {
    int64_t src = 0;
    for (int64_t a = 0; a < r; ++a)
      src += index[idx(a)] * srcStrides[idx(a)];
    out[e++] = x[src];
  } while (nextIndex(index, shape));
  return out;
}

RefTensor repeatInterleave(const RefTensor &x, int64_t axis, int64_t times) {
  axis = normalizeAxis(axis, x.rank());
  AxisView v = viewAround(x.shape, axis);
  std::vector<int64_t> shape = x.shape;
  shape[idx(axis)] *= times;
  RefTensor out(shape);
  int64_t outExtent = v.extent * times;
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t t = 0; t < outExtent; ++t)
      std::copy_n(x.data.begin() + (o * v.extent + t / times) * v.inner,
                  v.inner, out.data.begin() + (o * outExtent + t) * v.inner);
  return out;
}

RefTensor concat(const RefTensor &a, const RefTensor &b, int64_t axis) {
  axis = normalizeAxis(axis, a.rank());
  AxisView va = viewAround(a.shape, axis), vb = viewAround(b.shape, axis);
  std::vector<int64_t> shape = a.shape;
  shape[idx(axis)] += b.dim(axis);
  RefTensor out(shape);
  int64_t outExtent = va.extent + vb.extent;
  for (int64_t o = 0; o < va.outer; ++o) {
    auto dst = out.data.begin() + o * outExtent * va.inner;
    std::copy_n(a.data.begin() + o * va.extent * va.inner, va.extent * va.inner,
                dst);
    std::copy_n(b.data.begin() + o * vb.extent * vb.inner, vb.extent * vb.inner,
                dst + va.extent * va.inner);
  }
  return out;
}

RefTensor reduceMean(const RefTensor &x, int64_t axis) {
  axis = normalizeAxis(axis, x.rank());
  AxisView v = viewAround(x.shape, axis);
  std::vector<int64_t> shape = x.shape;
  shape[idx(axis)] = 1;
  RefTensor out(shape);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t in = 0; in < v.inner; ++in) {
      double sum = 0.0;
      for (int64_t t = 0; t < v.extent; ++t)
        sum += x[(o * v.extent + t) * v.inner + in];
      out[o * v.inner + in] = sum / static_cast<double>(v.extent);
    }
  return out;
}

RefTensor slice(const RefTensor &x, int64_t axis, int64_t start, int64_t size) {
  axis = normalizeAxis(axis, x.rank());
  AxisView v = viewAround(x.shape, axis);
  std::vector<int64_t> shape = x.shape;
  shape[idx(axis)] = size;
  RefTensor out(shape);
  for (int64_t o = 0; o < v.outer; ++o)
    std::copy_n(x.data.begin() + (o * v.extent + start) * v.inner,
                size * v.inner, out.data.begin() + o * size * v.inner);
  return out;
}

RefTensor arange(int64_t n, int64_t offset) {
  RefTensor out({n});
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<double>(offset + i);
  return out;
}

} // namespace ref
} // namespace tfc
