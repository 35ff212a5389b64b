//===- RefTensor.h - Dense tensors of the reference interpreter -*- C++ -*-===//
//
// The reference interpreter keeps every value in double precision, row-major
// (a token a row: N x D, the transpose of the paper's D x N). Integer
// tensors (token ids) are stored as exact doubles.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_REFERENCE_REFTENSOR_H
#define TFC_REFERENCE_REFTENSOR_H

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tfc {

struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  RefTensor() = default;
  explicit RefTensor(std::vector<int64_t> s)
      : shape(std::move(s)), data(static_cast<size_t>(count(shape)), 0.0) {}
  RefTensor(std::vector<int64_t> s, std::vector<double> d)
      : shape(std::move(s)), data(std::move(d)) {}

  static int64_t count(const std::vector<int64_t> &s) {
    int64_t n = 1;
    for (int64_t d : s)
      n *= d;
    return n;
  }
  int64_t numel() const { return count(shape); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t i) const { return shape[static_cast<size_t>(i)]; }
  double &operator[](int64_t i) { return data[static_cast<size_t>(i)]; }
  double operator[](int64_t i) const { return data[static_cast<size_t>(i)]; }
};

} // namespace tfc

#endif // TFC_REFERENCE_REFTENSOR_H
